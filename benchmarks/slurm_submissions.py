"""How many sbatch calls the gupta2023 STL trainings cost on a real SLURM, per submission mode.

Runs the tiny preset's STL models (every setting of `--tasks` SuperNI tasks) through
`--profile profiles/slurm` against the one-node cluster of ../shared/tools/local-slurm.sh (root
needed), once per mode, each in a fresh sandbox:

  single   one sbatch per model (`--slurm-array-jobs=none`): the baseline
  array    the profile's default: one sbatch per batch of ready models (up to 1000 array tasks)
  group    `--groups fit_gupta_stl=stl --group-components stl=N` with one job's cores and memory as
           the per-submission limit: one sbatch per N models, run one after another

Counts come from snakemake's own submission lines; wall time includes the plugin's status polling.

    python benchmarks/slurm_submissions.py [--tasks 3] [--group-size 8] [--modes single array group]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from _common import REPO, SNAKEMAKE, sandbox

LOCAL_SLURM = REPO.parent / "shared" / "tools" / "local-slurm.sh"
MODES = {
    "single": ["--slurm-array-jobs=none"],
    "array": [],
    "group": None,  # filled from --group-size
}


def stl_targets(tasks: int) -> list[str]:
    from ftrepro import config as cfg
    from ftrepro.papers.gupta2023 import runs as gupta_runs

    caps = {"presets": {"tiny": {"data": {"superni_tasks": tasks}}}}
    config = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny", **caps})
    return [f"results/tiny/gupta2023/{run}/predictions.jsonl" for run in gupta_runs.stl_runs(config)]


def fit_submissions(log: str) -> int:
    """sbatch calls that carried fit_gupta_stl jobs: single jobs, group jobs and arrays (the
    profile makes arrays of fit_gupta_stl only)."""
    single = len(re.findall(r"submitted with SLURM jobid \d+ \(log: \S*/rule_fit_gupta_stl/", log))
    grouped = len(re.findall(r"submitted with SLURM jobid \d+ \(log: \S*/group_stl_", log))
    arrays = len(re.findall(r"^Submitted array job", log, re.MULTILINE))
    return single + grouped + arrays


def run_mode(extra: list[str], targets: list[str], tasks: int) -> tuple[float, int, str]:
    workdir = sandbox()
    (workdir / "tasks.yaml").write_text(f"presets: {{tiny: {{data: {{superni_tasks: {tasks}}}}}}}\n")
    args = [
        "--profile",
        "profiles/slurm",
        "--retries",
        "0",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--configfile",
        "config/config.yaml",
        "tasks.yaml",
        "--config",
        "preset=tiny",
        *extra,
        "--",
        *targets,
    ]
    start = time.perf_counter()
    result = subprocess.run(
        [SNAKEMAKE, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"snakemake failed in {workdir}:\n{log[-4000:]}")
    return seconds, fit_submissions(log), log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3, help="SuperNI test tasks (8 STL models each)")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args()
    # a group asks for the summed resources of members that could run side by side; the
    # per-submission limits (--cores, and mem_mb, local-scoped by default) stack them in series
    MODES["group"] = [
        "--groups",
        "fit_gupta_stl=stl",
        "--group-components",
        f"stl={args.group_size}",
        "--cores",
        "2",
        "--resources",
        "mem_mb=8000",
    ]
    subprocess.run(["bash", str(LOCAL_SLURM), "start"], check=True, capture_output=True)
    targets = stl_targets(args.tasks)
    print(f"{len(targets)} STL trainings ({args.tasks} tasks x 8 settings), tiny preset, local SLURM")
    for mode in args.modes:
        seconds, count, _ = run_mode(MODES[mode], targets, args.tasks)
        print(
            f"  {mode:6s}: {count:4d} sbatch calls for the STL fits ({count / len(targets):.3f} per model), "
            f"{seconds:.0f} s wall"
        )


if __name__ == "__main__":
    main()
