"""A tiny target through `--profile profiles/slurm` against a real single-node SLURM.

../shared/tools/local-slurm.sh starts munged, slurmctld and slurmd (installing Debian's
packages when missing). It needs root; without it, or when the cluster cannot be started, the
test is skipped and says why. The cluster has no accounting daemon, so status comes from squeue.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, snakemake

from ftrepro import config as cfg
from ftrepro.papers.gupta2023 import runs as gupta_runs

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

TARGET = "results/tiny/zhao2025/20ng-7class.roberta-base.ft/metrics.json"
SLURM_LOGS = Path("/tmp/local-slurm/log")  # local-slurm.sh's default LOCAL_SLURM_DIR


def on_cluster(args: list[str], workdir: Path, timeout: float) -> subprocess.CompletedProcess:
    """snakemake `args` against the cluster; past `timeout`, the test fails with what snakemake
    printed and what SLURM says of its jobs, and the jobs are cancelled (not left to the next test)."""
    try:
        return snakemake(args, workdir, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        printed = "".join(x.decode() if isinstance(x, bytes) else x for x in (e.stdout, e.stderr) if x)
        state = [
            subprocess.run(command, capture_output=True, text=True).stdout
            for command in (["squeue", "-a", "-o", "%i %j %T %r %C %m %b"], ["sinfo", "-N", "-o", "%N %T %E"])
        ]
        daemons = "".join(log.read_text()[-2000:] for log in sorted(SLURM_LOGS.glob("*.log")))
        subprocess.run(["scancel", "--user", "root"], capture_output=True)
        pytest.fail(f"snakemake ran past {timeout} s:\n{printed[-4000:]}\n{''.join(state)}\n{daemons}")


def test_tiny_run_through_slurm_submits_gpu_rules_and_keeps_local_rules_local(slurm_cluster, workdir):
    result = on_cluster(
        [
            TARGET,
            "--profile",
            "profiles/slurm",
            "--retries",
            "0",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--config",
            "preset=tiny",
        ],
        workdir,
        600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    submitted = [line for line in out.splitlines() if "has been submitted with SLURM jobid" in line]
    assert len(submitted) == 2, submitted  # derive and fit; download, prepare and score are local
    assert any("rule_fit_zhao_encoder" in line for line in submitted)
    metrics = json.loads((workdir / TARGET).read_text())
    assert 0 <= metrics["7class_accuracy"] <= 100 and metrics["n_examples"] > 0


def test_gupta_stl_models_go_out_grouped(slurm_cluster, workdir):
    """The 8 STL models of one SuperNI task as group jobs: fewer submissions than models, each
    group run one member after another within one job's cores and memory."""
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    task = tiny.gupta2023.test_tasks[0]
    targets = [
        f"results/tiny/gupta2023/{run}/predictions.jsonl"
        for run in gupta_runs.stl_runs(tiny)
        if run.startswith(f"stl.{task}.")
    ]
    result = on_cluster(
        [
            *targets,
            "--profile",
            "profiles/slurm",
            "--retries",
            "0",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--groups",
            "fit_gupta_stl=stl",
            "--group-components",
            "stl=8",
            "--cores",
            "2",
            "--resources",
            "mem_mb=8000",
            "--config",
            "preset=tiny",
        ],
        workdir,
        900,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    submitted = [line for line in out.splitlines() if "has been submitted with SLURM jobid" in line]
    groups = [line for line in submitted if "/group_stl_" in line]
    # one group of the 8: it goes out once pre-finetuning (baseline 1's start) is done
    assert len(targets) == 8 and len(groups) == 1, submitted
    assert not any("rule_fit_gupta_stl" in line for line in submitted)
    for target in targets:
        assert (workdir / target).read_text().count("\n") > 0
