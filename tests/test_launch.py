"""The one launch path of every training family and of prediction: in the job's process, or N
processes under torchrun with the call written to a job file (the 2-process runs are in
test_deepspeed.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

from ftrepro import config as cfg
from ftrepro.io import read_json, write_json
from ftrepro.resources import prediction_processes
from ftrepro.train import launch

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def fake_train(**kwargs):
    return kwargs


def test_one_process_without_deepspeed_trains_here():
    assert not launch.needs_torchrun(0, None) and not launch.needs_torchrun(1, None)
    assert launch.needs_torchrun(2, None) and launch.needs_torchrun(1, "zero2.json")
    assert launch.train_on_job_gpus(1, fake_train, checkpoint_dir="c", hparams={}) == {
        "checkpoint_dir": "c",
        "hparams": {},
        "deepspeed": None,
    }


def test_torchrun_gets_the_call_the_deepspeed_accelerator_and_a_share_of_the_threads(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append((command, kw["env"])))
    monkeypatch.setenv("OMP_NUM_THREADS", "12")
    monkeypatch.delenv("DS_ACCELERATOR", raising=False)
    result = launch.train_on_job_gpus(
        4, fake_train, deepspeed=Path("zero2.json"), checkpoint_dir=tmp_path / "ckpt", records=[{"id": 1}]
    )
    assert result is None
    ((command, env),) = calls
    assert command == launch.torchrun_command(4, tmp_path / "ckpt" / "launch.json")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"] and "--nproc-per-node=4" in command
    assert env["OMP_NUM_THREADS"] == "3" and env["DS_ACCELERATOR"] == "cpu"  # no GPU here
    job = read_json(tmp_path / "ckpt" / "launch.json")
    assert job == {
        "train": "test_launch:fake_train",
        "kwargs": {
            "deepspeed": "zero2.json",
            "checkpoint_dir": str(tmp_path / "ckpt"),
            "records": [{"id": 1}],
        },
    }


def train_in_a_process_group(*, fail: bool):
    dist.init_process_group("gloo")  # what the Trainer does in a torchrun worker
    if fail:
        raise RuntimeError("out of memory")


@pytest.fixture
def one_worker_group(monkeypatch):
    """The environment torchrun gives a worker, for a group of one; no group left behind."""
    for name, value in {
        "RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "0",
    }.items():
        monkeypatch.setenv(name, value)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.mark.parametrize("fail", [False, True])
def test_a_worker_leaves_its_process_group_when_its_work_succeeds(tmp_path, one_worker_group, fail):
    """Left to interpreter exit, gloo can abort a worker that finished (seen in CI); destroyed after
    an error, it would hang the workers still in a collective instead of failing them."""
    job_file = tmp_path / "launch.json"
    write_json(job_file, {"train": launch._name(train_in_a_process_group), "kwargs": {"fail": fail}})
    if fail:
        with pytest.raises(RuntimeError, match="out of memory"):
            launch.main([str(job_file)])
    else:
        launch.main([str(job_file)])
    assert dist.is_initialized() is fail


def fake_predict(model_dir, rows, *, suffix):
    return [{"id": row["id"], "pred": f"{model_dir}{suffix}"} for row in rows]


def test_one_prediction_process_predicts_here():
    rows = [{"id": i} for i in range(3)]
    assert launch.predict_on_job_gpus(1, fake_predict, "m", rows, suffix="!") == fake_predict(
        "m", rows, suffix="!"
    )


def test_the_typed_launch_config_sets_training_and_prediction_processes():
    paper = cfg.load(CONFIG, {"preset": "paper"})
    tiny = cfg.load(CONFIG, {"preset": "tiny", "launch": {"cpu_processes": 2, "cpu_deepspeed": True}})
    assert tiny.launch == cfg.Launch(cpu_processes=2, cpu_deepspeed=True)
    assert (tiny.processes(0), paper.processes(4)) == (2, 4)
    assert tiny.deepspeed("zero2.json") == paper.deepspeed("zero2.json") == "zero2.json"
    assert cfg.load(CONFIG, {"preset": "tiny"}).deepspeed("zero2.json") is None
    # rows split over the job's GPUs when the model's inference fits one; a 70B model spreads
    assert prediction_processes(paper, "llama3-8b", 4) == 4
    assert prediction_processes(paper, "llama3-70b", 4) == 1
    assert prediction_processes(tiny, "llama3-70b", 0) == 2


# --- several nodes: one torchrun per node under srun (tests/test_multinode.py runs two) -------


def test_a_multi_node_launcher_joins_a_c10d_rendezvous_instead_of_standalone(tmp_path):
    command = launch.torchrun_command(
        8, tmp_path / "launch.json", nodes=2, rendezvous="gpu03:29417", run_id="17"
    )
    assert "--standalone" not in command and "--nproc-per-node=8" in command
    assert {"--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=gpu03:29417", "--rdzv-id=17"} <= set(
        command
    )


def test_a_job_on_two_nodes_starts_one_torchrun_per_node_under_srun(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append(command))
    monkeypatch.setattr(launch, "first_node", lambda nodelist: {"gpu[03-04]": "gpu03"}[nodelist])
    for name, value in {
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_JOB_ID": "4017",
        "SLURM_JOB_NODELIST": "gpu[03-04]",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_STEP_NUM_NODES", raising=False)
    launch.train_on_job_gpus(8, fake_train, deepspeed="zero3.json", checkpoint_dir=tmp_path / "ckpt")
    ((command,),) = [calls]
    srun, torchrun = command[: command.index(sys.executable)], command[command.index(sys.executable) :]
    assert srun == ["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    assert torchrun == launch.torchrun_command(8, tmp_path / "ckpt" / "launch.json", 2, "gpu03:29417", "4017")
    # a job step of one node inside it (or no SLURM at all) launches on its own node
    monkeypatch.setenv("SLURM_STEP_NUM_NODES", "1")
    assert launch.allocated_nodes(dict(os.environ)) == 1 and launch.allocated_nodes({}) == 1
    assert launch.needs_torchrun(1, None, nodes=2)
