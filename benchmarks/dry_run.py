"""Wall time of the paper-scale dry-run (goal: < 5 s on a 2-core machine) and its job count.

Baseline in the same run: a dry-run of one model of the same workflow, i.e. what parsing the
workflow and starting snakemake cost before any job is planned.

    python benchmarks/dry_run.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import re

from _common import median_of, sandbox

PAPER = ["-n", "--profile", "profiles/slurm", "--config", "preset=paper"]
ONE_MODEL = "results/zhao2025/massive-intent.roberta-base.ft/metrics.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    workdir = sandbox()
    one_s, _ = median_of(repeats, [ONE_MODEL, *PAPER], workdir)
    all_s, out = median_of(repeats, ["all", *PAPER], workdir)
    jobs = int(re.search(r"^total\s+(\d+)$", out, re.M).group(1))
    print(f"paper matrix dry-run: {all_s:.2f} s median of {repeats} for {jobs} jobs (goal < 5 s)")
    print(f"baseline, one model:  {one_s:.2f} s median of {repeats} (parse + start-up)")
    print(f"planning cost per job: {(all_s - one_s) / jobs * 1000:.2f} ms")


if __name__ == "__main__":
    main()
