"""Shared by the benchmark scripts: a sandboxed workdir and a timed snakemake call."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def sandbox() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="ftrepro-bench-"))
    for name in ("Snakefile", "workflow", "config", "profiles"):
        (workdir / name).symlink_to(REPO / name)
    return workdir


def timed(args: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout + result.stderr


def median_of(repeats: int, args: list[str], cwd: Path) -> tuple[float, str]:
    runs = [timed(args, cwd) for _ in range(repeats)]
    return statistics.median(s for s, _ in runs), runs[-1][1]
