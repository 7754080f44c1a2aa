"""Training and prediction on every GPU of one job (one SLURM allocation), for every family.

`train_on_job_gpus(processes, train, deepspeed=..., **kwargs)` runs `train(**kwargs,
deepspeed=...)` in this process when one process suffices and no DeepSpeed config applies (a CPU
job, or one GPU without DeepSpeed); otherwise it writes the call to a job file in the checkpoint
directory and starts `python -m torch.distributed.run --standalone --nproc-per-node=<processes>
-m ftrepro.train.launch <file>`, which makes the same call in every process. torchrun gives
DeepSpeed its process group even on one GPU, and `--standalone` picks a free port, so jobs sharing
a node do not collide. Without a GPU the processes train together over gloo, DeepSpeed on its CPU
accelerator (DS_ACCELERATOR=cpu): the GPU code path, run for real in the tests.

A job whose allocation spans several nodes (its layout's, ftrepro.layout; SLURM_JOB_NUM_NODES,
or SLURM_STEP_NUM_NODES inside a job step) starts one torchrun per node under `srun`, all meeting
at a c10d rendezvous on the first node of the allocation; the job file and the checkpoints are on
the shared filesystem, so a rerun resumes as on one node (tests/test_multinode.py: two launchers
on 127.0.0.1).

`predict_on_job_gpus(processes, predict, model_dir, rows, **kwargs)` is the same path for
prediction: with several processes (a model that fits one GPU, in a job with several) each
predicts its contiguous shard of the rows on its own GPU (accelerate's split_between_processes)
and rank 0 writes every record in the rows' order, atomically.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ftrepro.io import read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)


RENDEZVOUS_PORT = 29400  # torchrun's c10d default; a multi-node job adds its job id modulo 1000


def torchrun_command(
    nproc: int, job_file: str | Path, nodes: int = 1, rendezvous: str | None = None, run_id: str = ""
) -> list[str]:
    """One node's launcher of `nproc` workers: `--standalone` on one node; over several, a c10d
    rendezvous at `rendezvous` (host:port) of the run `run_id`, which every node's launcher joins."""
    where = ["--standalone"]
    if nodes > 1:
        where = [
            f"--nnodes={nodes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={rendezvous}",
            f"--rdzv-id={run_id}",
        ]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *where,
        f"--nproc-per-node={nproc}",
        "-m",
        "ftrepro.train.launch",
        str(job_file),
    ]


def srun_command(nproc: int, job_file: str | Path, nodes: int, environ: dict) -> list[str]:
    """One torchrun per node of this SLURM allocation, under srun; the rendezvous on its first node.
    --kill-on-bad-exit: a node that fails stops the others instead of leaving them in a collective."""
    job_id = environ["SLURM_JOB_ID"]
    rendezvous = f"{first_node(environ['SLURM_JOB_NODELIST'])}:{RENDEZVOUS_PORT + int(job_id) % 1000}"
    per_node = [f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    return ["srun", *per_node, *torchrun_command(nproc, job_file, nodes, rendezvous, job_id)]


def first_node(nodelist: str) -> str:
    """The first host of a SLURM node list ("gpu[03-04]" -> "gpu03")."""
    hosts = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
    ).stdout.split()
    return hosts[0]


def allocated_nodes(environ: dict) -> int:
    """Nodes of the SLURM allocation this job runs in (1 outside SLURM)."""
    return int(environ.get("SLURM_STEP_NUM_NODES") or environ.get("SLURM_JOB_NUM_NODES") or 1)


def needs_torchrun(processes: int, deepspeed: str | Path | None, nodes: int = 1) -> bool:
    """Several processes or nodes, or DeepSpeed (which needs a process group even for one)."""
    return processes > 1 or nodes > 1 or deepspeed is not None


def train_on_job_gpus(
    processes: int, train: Callable, /, *, deepspeed: str | Path | None = None, **kwargs
) -> dict | None:
    """`train(**kwargs, deepspeed=deepspeed)` on `processes` processes per node (the job's GPUs;
    0 or 1: one) of each node of the job's allocation. `kwargs` must hold `checkpoint_dir` and be JSON-serialisable (paths are written as
    strings) when torchrun starts the processes. Returns train's summary when it ran here (under
    torchrun it is in the log)."""
    if needs_torchrun(processes, deepspeed, allocated_nodes(os.environ)):
        run_distributed(max(processes, 1), train, deepspeed=deepspeed, **kwargs)
        return None
    return train(**kwargs, deepspeed=deepspeed)


def run_distributed(nproc: int, train: Callable, /, **kwargs) -> None:
    """Call `train(**kwargs)` in `nproc` processes per node started by torchrun (one per node of
    the allocation); their output goes to this job's stderr (its log file). Raises
    CalledProcessError when training fails."""
    _torchrun(nproc, write_job_file(train, **kwargs), kwargs.get("deepspeed"), allocated_nodes(os.environ))


def write_job_file(train: Callable, /, **kwargs) -> Path:
    """The call `train(**kwargs)` as the job file every worker reads: launch.json in the
    checkpoint directory (on the shared filesystem, for the workers of every node)."""
    job_file = Path(kwargs["checkpoint_dir"]) / "launch.json"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    write_json(job_file, {"train": _name(train), "kwargs": _plain(kwargs)})
    return job_file


def predict_on_job_gpus(
    processes: int, predict: Callable, model_dir: str | Path, rows: list[dict], /, **kwargs
) -> list[dict]:
    """`predict(model_dir, rows, **kwargs)`: one record per row, in the rows' order. With
    `processes` > 1, torchrun starts them; each predicts its contiguous shard of `rows` on its own
    GPU (its LOCAL_RANK; ftrepro.infer.loading places the model there) and rank 0 gathers the
    records and writes them in order, atomically, to a file this returns the contents of. Rows
    and `kwargs` must be JSON-serialisable then."""
    if processes <= 1:
        return predict(model_dir, rows, **kwargs)
    with tempfile.TemporaryDirectory(prefix="ftrepro-predict-") as tmp:
        job_file, rows_file, out = (
            Path(tmp) / "launch.json",
            Path(tmp) / "rows.jsonl",
            Path(tmp) / "out.jsonl",
        )
        write_jsonl(rows_file, rows)
        job = {"model_dir": str(model_dir), "rows": str(rows_file), "out": str(out), "kwargs": _plain(kwargs)}
        write_json(job_file, {"predict": _name(predict), **job})
        _torchrun(processes, job_file, None)
        return read_jsonl(out)


def _torchrun(nproc: int, job_file: Path, deepspeed: str | Path | None, nodes: int = 1) -> None:
    env = dict(os.environ)
    if not _gpu():
        env.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed would look for CUDA otherwise
    # the job's CPU threads shared between its processes (torchrun would give each one)
    threads = int(env.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(max(1, threads // nproc))
    command = srun_command(nproc, job_file, nodes, env) if nodes > 1 else torchrun_command(nproc, job_file)
    log.info("launching %s (DeepSpeed config: %s)", " ".join(command), deepspeed)
    sys.stderr.flush()
    subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, env=env, check=True)


def build_deepspeed_ops() -> None:
    """Compile DeepSpeed's JIT ops that the configs use (CPU Adam for optimizer offload; without a
    GPU also the CPU FusedAdam of ZeRO without offload, and the shared-memory collectives) into the
    torch extensions cache, once per machine, so that the first training job does not spend
    minutes compiling."""
    if not _gpu():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from deepspeed.accelerator import get_accelerator

    _cpu_info_once()
    builders = ["CPUAdamBuilder"] + ([] if _gpu() else ["FusedAdamBuilder", "ShareMemCommBuilder"])
    for name in builders:
        get_accelerator().create_op_builder(name).load()


def main(argv: list[str]) -> None:
    """One torchrun worker: make the call described by the job file argv[0]."""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s rank{rank} %(name)s %(message)s",
    )
    job = read_json(argv[0])
    if "predict" in job:
        _predict_shard(job)
    else:
        _train(job)
    _leave_process_group()


def _train(job: dict) -> None:
    if job["kwargs"].get("deepspeed"):
        import deepspeed

        _cpu_info_once()

        # DeepSpeed's own process group, before any model: ZeRO-3 shards weights while they load
        # (accelerate makes it on GPUs only, and CPU processes train with DeepSpeed too)
        deepspeed.init_distributed()
    _load(job["train"])(**job["kwargs"])


def _leave_process_group() -> None:
    """Destroy the process group once this worker's work is done. Left to interpreter exit, gloo's
    worker threads can still hold tensors while Python tears down, and the process aborts
    ("terminate called without an active exception", pytorch/pytorch#190489) after a run that
    succeeded. Only on success: on an error the other workers may be mid-collective, and
    destroying would hang instead of failing."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _predict_shard(job: dict) -> None:
    """One prediction process: its contiguous shard of the rows; rank 0 writes them all in order."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState(cpu=not torch.cuda.is_available())  # gloo on CPU, NCCL on GPUs
    predict = _load(job["predict"])
    rows = read_jsonl(job["rows"])
    with state.split_between_processes(rows) as shard:
        records = predict(job["model_dir"], shard, **job["kwargs"]) if shard else []
    log.info("rank %d: %d of %d rows predicted", state.process_index, len(records), len(rows))
    records = gather_object(records)  # every rank's list, concatenated in rank order
    if state.is_main_process:
        write_jsonl(job["out"], records)


def _cpu_info_once() -> None:
    """DeepSpeed's op loader asks py-cpuinfo for the CPU's flags once per op it loads, each time in
    a fresh interpreter (about a second, more on a loaded node): ask once per process."""
    import functools

    import cpuinfo

    if not hasattr(cpuinfo.get_cpu_info, "cache_info"):
        cpuinfo.get_cpu_info = functools.cache(cpuinfo.get_cpu_info)


def _name(function: Callable) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def _load(name: str) -> Callable:
    module, qualname = name.split(":")
    return getattr(importlib.import_module(module), qualname)


def _plain(value):
    """Paths as strings, all the way down (the job file is JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _gpu() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    if sys.argv[1:] == ["--build-ops"]:
        build_deepspeed_ops()
    else:
        main(sys.argv[1:])
