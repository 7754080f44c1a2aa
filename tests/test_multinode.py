"""A training job over two nodes, for real on CPU: two torchrun launchers on 127.0.0.1 (two
"nodes" of one worker each, the command each node's srun task runs: launch.torchrun_command)
meet at a c10d rendezvous and train one tiny Llama under ZeRO-3 (config/deepspeed/zero3.json,
gloo, DeepSpeed's CPU accelerator). The loss falls; one node's launcher killed after the first
checkpoint, a rerun resumes that checkpoint; and the model predicts what a one-node run of the
same seed and effective batch (two processes under --standalone) predicts. Four launches of a few
steps each: about 2 minutes on two busy cores.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import REPO
from test_causal import EXAMPLES
from test_causal import HPARAMS as CAUSAL

from ftrepro.infer.causal import generate
from ftrepro.models.base import prepare_base_model
from ftrepro.train import launch
from ftrepro.train.causal import train_causal_lm

pytestmark = [pytest.mark.multinode, pytest.mark.usefixtures("deepspeed_ops")]

HOOKS = Path(__file__).parent / "hooks"
ZERO3 = REPO / "config" / "deepspeed" / "zero3.json"
# 8 steps of 4 examples (2 workers x 2 per device), a checkpoint after 4
HPARAMS = {
    **CAUSAL,
    "max_steps": 8,
    "save_steps": 4,
    "per_device_train_batch_size": 2,
    "effective_batch_size": 4,
    "logging_steps": 1,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(job_file: Path, logs: Path, **env: str) -> list[int]:
    """Both nodes' launchers, each in its own session (as on its own machine); their exit codes.
    Their output goes to logs/node<i>.log, appended."""
    port = free_port()
    command = launch.torchrun_command(
        1, job_file, nodes=2, rendezvous=f"127.0.0.1:{port}", run_id=f"test{port}"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{HOOKS}:{REPO / 'src'}",
        "DS_ACCELERATOR": "cpu",
        "OMP_NUM_THREADS": "1",  # as in the one-node run: the same arithmetic, the same weights
        **env,
    }
    logs.mkdir(exist_ok=True)
    launchers = [
        subprocess.Popen(
            command,
            env=env,
            stdout=open(logs / f"node{node}.log", "a"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for node in range(2)
    ]
    try:
        return [launcher.wait(timeout=600) for launcher in launchers]
    finally:
        for launcher in launchers:
            if launcher.poll() is None:
                os.killpg(launcher.pid, signal.SIGKILL)


def logged(logs: Path) -> str:
    return "".join(path.read_text() for path in sorted(logs.glob("node*.log")))


def losses(log: str) -> dict[int, float]:
    return {int(s): float(loss) for s, loss in re.findall(r"step (\d+): \{'loss': ([\d.]+)", log)}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("multinode") / "base"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", path)
    return path


def test_two_nodes_train_under_zero3_resume_a_killed_node_and_predict_as_one_node(
    base, tmp_path, monkeypatch
):
    job = {"base_dir": base, "examples": EXAMPLES * 8, "hparams": HPARAMS, "deepspeed": ZERO3}
    checkpoints, logs = tmp_path / "ckpt", tmp_path / "logs"
    job_file = launch.write_job_file(
        train_causal_lm, out_dir=tmp_path / "model", checkpoint_dir=checkpoints, **job
    )

    # the node whose worker is rank 1 goes down, launcher and all, after the first checkpoint
    saves = tmp_path / "saves.jsonl"
    killed = two_nodes(
        job_file,
        logs,
        FTREPRO_TEST_SAVES=str(saves),
        FTREPRO_TEST_KILL_RANK="1",
        FTREPRO_TEST_KILL_LAUNCHER="1",
    )
    assert all(code != 0 for code in killed), logged(logs)[-3000:]
    assert [p.name for p in checkpoints.glob("checkpoint-*")] == ["checkpoint-4"]
    assert (checkpoints / "checkpoint-4" / "global_step4").is_dir()
    assert not (tmp_path / "model").exists()
    first = losses(logged(logs))
    assert sorted(first) == [1, 2, 3, 4]

    (logs / "node0.log").rename(logs / "killed0.log")
    (logs / "node1.log").rename(logs / "killed1.log")
    assert two_nodes(job_file, logs) == [0, 0], logged(logs)[-3000:]
    log = logged(logs)
    assert "batch of 4: 2 process(es) x 2 per device x 1 accumulation steps" in log
    assert re.search(r"resuming from \S+/checkpoint-4", log)
    resumed = losses(log)
    assert sorted(resumed) == [5, 6, 7, 8]  # the step count goes on from the checkpoint
    assert sum(resumed[s] for s in (7, 8)) < sum(first[s] for s in (1, 2))  # it learns
    assert (tmp_path / "model" / "model.safetensors").is_file() and not checkpoints.exists()

    # one node, two processes, the same seed and effective batch, uninterrupted
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # 1 per process, as on the two nodes
    launch.run_distributed(
        2, train_causal_lm, out_dir=tmp_path / "one-node", checkpoint_dir=tmp_path / "c1", **job
    )
    prompts = [example["prompt"] for example in EXAMPLES]
    two = generate(tmp_path / "model", prompts, max_new_tokens=4, batch_size=4)
    one = generate(tmp_path / "one-node", prompts, max_new_tokens=4, batch_size=4)
    assert two == one and all(text is not None for text in two)
