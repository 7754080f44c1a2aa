"""Wall time of the paper-scale dry-run (goal: < 5 s on a 2-core machine) beside snakemake's floor.

The floor, measured in the same run: an empty workflow with the same job count through the same
profile, one rule whose jobs run an empty script (snakemake reads each job's script while
planning) and the `all` rule. What the paper matrix costs beyond it is ours: parsing the
config and rules, input functions, params, resources. Runs alternate so that other load on
the machine falls on both alike; medians are printed.

    python benchmarks/dry_run.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

from _common import sandbox, timed

PAPER = ["-n", "--profile", "profiles/slurm", "--config", "preset=paper"]
FLOOR = """\
rule all:
    input:
        expand("results/{{i}}/metrics.json", i=range({jobs})),


rule job:
    output:
        "results/{{i}}/metrics.json",
    log:
        "logs/{{i}}.log",
    script:
        "noop.py"
"""


def floor_workdir(jobs: int) -> Path:
    """An empty workflow planning `jobs` jobs (jobs - 1 of one rule and `all`)."""
    workdir = sandbox()
    (workdir / "Snakefile").unlink()
    (workdir / "Snakefile").write_text(FLOOR.format(jobs=jobs - 1))
    (workdir / "noop.py").write_text("")
    return workdir


def job_count(output: str) -> int:
    return int(re.search(r"^total\s+(\d+)$", output, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    ours_dir = sandbox()
    _, out = timed(PAPER, ours_dir)  # warm-up: caches, and the job count for the floor
    jobs = job_count(out)
    floor_dir = floor_workdir(jobs)
    _, floor_out = timed(PAPER[:3], floor_dir)
    assert job_count(floor_out) == jobs, "the floor must plan as many jobs"
    ours, floor = [], []
    for _ in range(repeats):
        ours.append(timed(PAPER, ours_dir)[0])
        floor.append(timed(PAPER[:3], floor_dir)[0])
    ours_s, floor_s = statistics.median(ours), statistics.median(floor)
    print(f"paper matrix dry-run: {ours_s:.2f} s median of {repeats} for {jobs} jobs (goal < 5 s)")
    print(f"snakemake's floor:    {floor_s:.2f} s median of {repeats}, an empty workflow of {jobs} jobs")
    print(f"ours beyond the floor: {ours_s - floor_s:.2f} s ({ours_s / floor_s:.2f} x the floor)")


if __name__ == "__main__":
    main()
