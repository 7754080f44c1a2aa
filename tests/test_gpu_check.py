"""benchmarks/gpu_check.py at toy size on CPU, so that the GPU check cannot rot: every loop runs
(DeepSpeed under torchrun included) and the table is printed. Not timed."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro.costs import Measurements
from ftrepro.plan import planned_layouts


@pytest.mark.deepspeed
@pytest.mark.usefixtures("deepspeed_ops")
def test_gpu_check_runs_every_planned_layout_at_toy_size_and_writes_the_table(tmp_path):
    """Each family in every layout kind the paper plan runs its jobs in, and the bare baseline;
    each loop a row of the printed table and of the measured table (dated; no MFU on a CPU)."""
    planned = planned_layouts(cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"}))
    table = tmp_path / "throughput.csv"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--toy",
            "--workdir",
            str(tmp_path),
            "--table",
            str(table),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(
        r"^\| (.+?) \| ([\d.,]+)M \| ([\d,]+) \| ([\d.]+) \| (n/a|[\d.]+%) \|$", result.stdout, re.M
    )
    names = [row[0] for row in rows]
    expected = [f"causal, {layout.kind}" for layout in planned["causal"]] + ["causal, bare"]
    expected += [f"{family}, {layout.kind}" for family in ("seq2seq", "lora") for layout in planned[family]]
    assert names == expected
    assert "causal, zero3" in names and "seq2seq, zero2" in names  # the layouts without offload
    assert all(float(row[2].replace(",", "")) > 0 and float(row[3]) > 0 for row in rows)
    assert all(row[4] == "n/a" for row in rows)  # no peak FLOP/s on a CPU
    measured = Measurements.read(table).rows
    assert [f"{m.family}, {m.layout}" for m in measured] == names
    assert {(m.date, m.gpu, m.gpus, m.mfu) for m in measured} == {
        (dt.date.today().isoformat(), "cpu", 1, None)
    }
    assert all(m.tokens_per_s > 0 for m in measured)


def test_a_failing_loop_is_a_row_saying_why_and_the_others_still_run(monkeypatch, tmp_path):
    """One lease of a GPU is short: a loop that fails (a CPU Adam that does not compile, say)
    must not cost the other loops' figures."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_check

    def broken_loop(workdir, size):
        raise RuntimeError("ninja: build stopped:\n  subcommand failed")

    row = gpu_check.run_loop(broken_loop, tmp_path, {})
    assert row == "| broken_loop | FAILED: RuntimeError: ninja: build stopped: subcommand failed | | | |"
    fine = gpu_check.run_loop(lambda workdir, size: ("ok", 1, 2.0, 3.0, 4), tmp_path, {})
    assert fine == ("ok", 1, 2.0, 3.0, 4)
