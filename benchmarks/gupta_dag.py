"""gupta2023 at paper scale: dry-run time of its whole DAG, and how many SLURM submissions the 952
STL trainings cost when each is its own job versus grouped.

Baseline in the same run: the dry-run of one STL model (parsing and start-up). Submissions are
counted from the dry-run plan: one sbatch per job, or one per group job with
`--groups fit_gupta_stl=stl --group-components stl=N`. The default profile submits them as
job arrays instead, whose count depends on when jobs become ready at run time (see the note).

    python benchmarks/gupta_dag.py [--repeats 3] [--group-size 16]
"""

from __future__ import annotations

import argparse
import re

from _common import median_of, sandbox

PAPER = ["--profile", "profiles/slurm", "--config", "preset=paper"]


def job_count(dry_run_output: str, rule: str) -> int:
    """A rule's line in the dry-run's job stats ("total" for all jobs)."""
    return int(re.search(rf"^{re.escape(rule)}\s+(\d+)$", dry_run_output, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--group-size", type=int, default=16)
    args = parser.parse_args()
    workdir = sandbox()
    one = "results/paper/gupta2023/stl.task1356_xlsum_title_generation.tk-instruct-100/metrics.json"
    base_s, _ = median_of(args.repeats, ["-n", *PAPER, "--", one], workdir)
    full_s, out = median_of(args.repeats, ["-n", *PAPER, "--", "gupta2023"], workdir)
    stl = job_count(out, "fit_gupta_stl")
    grouped = ["--groups", "fit_gupta_stl=stl", "--group-components", f"stl={args.group_size}"]
    _, grouped_out = median_of(1, ["-n", *PAPER, *grouped, "--", "gupta2023"], workdir)
    groups = grouped_out.count("Group job stl")
    print(
        f"dry-run, whole gupta2023 DAG: {full_s:.2f} s median of {args.repeats} "
        f"({job_count(out, 'total')} jobs)"
    )
    print(f"baseline, one STL model:      {base_s:.2f} s")
    print(
        f"SLURM submissions for {stl} STL trainings: {stl} one job each; {groups} with groups of "
        f"{args.group_size}; as job arrays (profiles/slurm): one sbatch per batch of ready models "
        "(at most 1000 each), so the count depends on the run"
    )


if __name__ == "__main__":
    main()
