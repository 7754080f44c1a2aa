"""Wall time of `make demo` after set-up (goal: < 600 s on a 2-core machine), through the warm
interpreter (`ftrepro.warm`) and through plain Snakemake, one after the other, each in a fresh
clone of the committed repository: the tiny preset of all three papers, raw data to
results/tiny/report.html.

Runs what `make demo` runs after its set-up step (`ftrepro run`, then the same with `--plain`)
with this interpreter's packages, then prints both totals, the share of the plain run's wall time
the warm runner saves (it stays only if that is at least 20%), the CPU seconds each run used (the
whole process tree's; less sensitive to other load than wall time), and the time per stage of each
from its logs/tiny/run/timings.json: busy time (jobs' wall times summed; two run side by side) and
span (first start to last end). The machine's load average is printed around each run: the
wall times are only comparable between runs on an otherwise idle machine.

    python benchmarks/demo.py [--keep] [--only warm|plain]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

GOAL_S = 600
SAVING_GOAL = 0.20
RUNNERS = {"warm": [], "plain": ["--plain"]}


def _load() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process's ended children and their descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def demo(runner: str, keep: bool) -> float:
    """Run the demo with `runner` in a fresh clone; print and return its wall time."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ftrepro-demo-{runner}-")) / "ftrepro"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(workdir)], check=True)
    env = {**os.environ, "PYTHONPATH": str(workdir / "src")}
    load_before = _load()
    start, cpu_before = time.perf_counter(), _cpu_s()
    command = [sys.executable, "-m", "ftrepro.cli", "run", "--cores", "all", *RUNNERS[runner]]
    result = subprocess.run(command, cwd=workdir, env=env)
    total_s, cpu_s = time.perf_counter() - start, _cpu_s() - cpu_before
    if result.returncode != 0:
        sys.exit(
            f"the {runner} demo failed (exit {result.returncode}); see {workdir}/logs/tiny/run/snakemake.log"
        )
    timings = json.loads((workdir / "logs" / "run" / "tiny" / "timings.json").read_text())
    verdict = "meets" if total_s < GOAL_S else "MISSES"
    print(
        f"\ndemo ({runner}), all three papers: {total_s:.0f} s wall on {os.cpu_count()} cores ({verdict} < {GOAL_S} s)"
    )
    print(f"{cpu_s:.0f} CPU seconds; load average (1/5/15 min) before {load_before}, after {_load()}")
    print(f"{timings['jobs']} jobs; per stage, busy time (jobs summed) / span (first start to last end):")
    stages = timings["stages"]
    # the stages as they first finished a job, then the training families ("train: <family>")
    names = [s for s in stages if ": " not in s] + sorted(s for s in stages if ": " in s)
    for name in names:
        stage = stages[name]
        print(
            f"  {name:<32} {stage['jobs']:>4} jobs  {stage['busy_s']:>7.1f} s busy  {stage['span_s']:>7.1f} s span"
        )
    if keep:
        print(f"workdir: {workdir}")
    else:
        shutil.rmtree(workdir.parent, ignore_errors=True)
    return total_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the clones and print where they are")
    parser.add_argument("--only", choices=RUNNERS, help="run one runner only")
    args = parser.parse_args()
    # the imports' files in the page cache before either run, so the first is not the only cold one
    subprocess.run([sys.executable, "-c", "import torch, transformers, snakemake"], check=True)
    seconds = {runner: demo(runner, args.keep) for runner in RUNNERS if args.only in (None, runner)}
    if len(seconds) == len(RUNNERS):
        saving = 1 - seconds["warm"] / seconds["plain"]
        verdict = "keeps" if saving >= SAVING_GOAL else "does NOT keep"
        print(
            f"\nwarm {seconds['warm']:.0f} s vs plain snakemake {seconds['plain']:.0f} s: "
            f"the warm runner saves {saving:.0%} ({verdict} it: the bar is {SAVING_GOAL:.0%})"
        )


if __name__ == "__main__":
    main()
