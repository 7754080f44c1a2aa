"""Training and prediction on every GPU of one job (one SLURM allocation, one node), for every family.

`train_on_job_gpus(processes, train, deepspeed=..., **kwargs)` runs `train(**kwargs,
deepspeed=...)` in this process when one process suffices and no DeepSpeed config applies (a CPU
job, or one GPU without DeepSpeed); otherwise it writes the call to a job file in the checkpoint
directory and starts `python -m torch.distributed.run --standalone --nproc-per-node=<processes>
-m ftrepro.train.launch <file>`, which makes the same call in every process. torchrun gives
DeepSpeed its process group even on one GPU, and `--standalone` picks a free port, so jobs sharing
a node do not collide. Without a GPU the processes train together over gloo, DeepSpeed on its CPU
accelerator (DS_ACCELERATOR=cpu): the GPU code path, run for real in the tests.

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


def torchrun_command(nproc: int, job_file: str | Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "ftrepro.train.launch",
        str(job_file),
    ]


def needs_torchrun(processes: int, deepspeed: str | Path | None) -> bool:
    """Several processes, or DeepSpeed (which needs a process group even for one)."""
    return processes > 1 or deepspeed is not None


def train_on_job_gpus(
    processes: int, train: Callable, /, *, deepspeed: str | Path | None = None, **kwargs
) -> dict | None:
    """`train(**kwargs, deepspeed=deepspeed)` on `processes` processes (the job's GPUs; 0 or 1:
    one). `kwargs` must hold `checkpoint_dir` and be JSON-serialisable (paths are written as
    strings) when torchrun starts the processes. Returns train's summary when it ran here (under
    torchrun it is in the log)."""
    if needs_torchrun(processes, deepspeed):
        run_distributed(max(processes, 1), train, deepspeed=deepspeed, **kwargs)
        return None
    return train(**kwargs, deepspeed=deepspeed)


def run_distributed(nproc: int, train: Callable, /, **kwargs) -> None:
    """Call `train(**kwargs)` in `nproc` processes started by torchrun; their output goes to this
    job's stderr (its log file). Raises CalledProcessError when training fails."""
    job_file = Path(kwargs["checkpoint_dir"]) / "launch.json"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    write_json(job_file, {"train": _name(train), "kwargs": _plain(kwargs)})
    _torchrun(nproc, job_file, kwargs.get("deepspeed"))


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


def _torchrun(nproc: int, job_file: Path, deepspeed: str | Path | None) -> None:
    env = dict(os.environ)
    if not _gpu():
        env.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed would look for CUDA otherwise
    # the job's CPU threads shared between its processes (torchrun would give each one)
    threads = int(env.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(max(1, threads // nproc))
    command = torchrun_command(nproc, job_file)
    log.info("launching %s (DeepSpeed config: %s)", " ".join(command), deepspeed)
    sys.stderr.flush()
    subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, env=env, check=True)


def build_deepspeed_ops() -> None:
    """Compile DeepSpeed's JIT ops that the configs use (CPU Adam for optimizer offload; without a
    GPU also the shared-memory collectives) into the torch extensions cache, once per machine, so
    that the first training job does not spend minutes compiling."""
    if not _gpu():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from deepspeed.accelerator import get_accelerator

    _cpu_info_once()
    builders = ["CPUAdamBuilder"] + ([] if _gpu() else ["ShareMemCommBuilder"])
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
