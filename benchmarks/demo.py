"""Wall time of `make demo` after set-up (goal: < 600 s on a 2-core machine): a fresh clone of
the committed repository, the tiny preset of all three papers, raw data to results/report.html.

Runs what `make demo` runs after its set-up step (`python -m ftrepro.run`) in a new clone with
this interpreter's packages, then prints the total beside the goal and the time per stage from
the demo's logs/run/tiny/timings.json: busy time (jobs' wall times summed; two run side by side) and
span (first start to last end). The machine's load average is printed too: the figure is only
comparable between runs on an otherwise idle machine.

    python benchmarks/demo.py [--keep]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

GOAL_S = 600
STAGE_ORDER = ("data", "models", "fit", "predict", "score", "report", "other")


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    workdir = Path(tempfile.mkdtemp(prefix="ftrepro-demo-")) / "ftrepro"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(workdir)], check=True)
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    env = {**os.environ, "PYTHONPATH": str(workdir / "src")}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "ftrepro.run", "--cores", "all"], cwd=workdir, env=env)
    total_s = time.perf_counter() - start
    load_after = Path("/proc/loadavg").read_text().split()[:3] if load_before else []
    if result.returncode != 0:
        sys.exit(f"the demo failed (exit {result.returncode}); see {workdir}/logs/run/tiny/snakemake.log")
    timings = json.loads((workdir / "logs" / "run" / "tiny" / "timings.json").read_text())
    verdict = "meets" if total_s < GOAL_S else "MISSES"
    print(
        f"\ndemo, all three papers: {total_s:.0f} s wall on {os.cpu_count()} cores ({verdict} the goal of < {GOAL_S} s)"
    )
    print(f"load average (1/5/15 min) before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(f"{timings['jobs']} jobs; per stage, busy time (jobs summed) / span (first start to last end):")
    stages = timings["stages"]
    names = [s for s in STAGE_ORDER if s in stages] + sorted(s for s in stages if s.startswith("fit: "))
    for name in names:
        stage = stages[name]
        print(
            f"  {name:<32} {stage['jobs']:>4} jobs  {stage['busy_s']:>7.1f} s busy  {stage['span_s']:>7.1f} s span"
        )
    if keep:
        print(f"workdir: {workdir}")
    else:
        shutil.rmtree(workdir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
