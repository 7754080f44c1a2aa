"""Shared fixtures: the repository, the shared data beside it, and sandboxed workflow runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# What a run needs from the checkout; outputs (resources/, results/, logs/) stay in the sandbox.
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory that sees the workflow through symlinks and keeps its own outputs."""
    for name in WORKFLOW_FILES:
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def snakemake(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the snakemake of this interpreter's environment; returns the completed process."""
    exe = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def job_stats(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake dry-run as {rule: count}."""
    lines = output.splitlines()
    start = lines.index("Job stats:") + 3
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts
