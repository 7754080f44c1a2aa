"""Wall time of the tiny slice end to end (goal: < 3 min): raw synthetic data to Table 3.

Baseline in the same run: the summed wall time of the model jobs themselves (snakemake's
benchmark files of the fit jobs), so the figure splits into model work and everything else
(process start-up, imports, data, scoring, scheduling).

    python benchmarks/tiny_slice.py
"""

from __future__ import annotations

import csv

from _common import sandbox, timed

TARGET = "results/tiny/zhao2025/tables/table3.md"


def main() -> None:
    workdir = sandbox()
    total_s, _ = timed([TARGET, "--profile", "profiles/local", "--config", "preset=tiny"], workdir)
    fits = list((workdir / "logs" / "zhao2025" / "fit").glob("*.benchmark.tsv"))
    fit_s = sum(float(next(csv.DictReader(f.open(), delimiter="\t"))["s"]) for f in fits)
    print(f"tiny slice end to end: {total_s:.1f} s wall on this machine (goal < 180 s)")
    print(f"baseline, model jobs:  {fit_s:.1f} s summed over {len(fits)} fit jobs (sequential sum)")
    print(f"workdir: {workdir}")


if __name__ == "__main__":
    main()
