"""benchmarks/gpu_check.py at toy size on CPU, so that the GPU check cannot rot: every loop runs
(DeepSpeed under torchrun included) and the table is printed. Not timed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = [pytest.mark.deepspeed, pytest.mark.usefixtures("deepspeed_ops")]


def test_gpu_check_runs_every_loop_at_toy_size_and_prints_the_table(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--toy", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(
        r"^\| (.+?) \| ([\d.,]+)M \| ([\d,]+) \| ([\d.]+) \| (n/a|[\d.]+%) \|$", result.stdout, re.M
    )
    names = [row[0] for row in rows]
    assert names == [
        "llama, Trainer + ZeRO-2 offload",
        "llama, bare PyTorch (baseline)",
        "t5, Trainer + ZeRO-2 offload",
        "lora classifier (r 4, q/v)",
    ]
    assert all(float(row[2].replace(",", "")) > 0 and float(row[3]) > 0 for row in rows)
    assert all(row[4] == "n/a" for row in rows)  # no peak FLOP/s on a CPU
