"""Causal LM training on every GPU of one job (one SLURM allocation, one node).

A GPU job runs `train_causal_lm` under torchrun, one process per GPU: the job's arguments and
examples go to a file in the checkpoint directory and `python -m torch.distributed.run
--standalone --nproc-per-node=<gpus> -m ftrepro.train.launch <file>` reads them back in every
process. torchrun gives DeepSpeed its process group even on one GPU, and `--standalone` picks a
free port, so jobs sharing a node do not collide. A CPU job trains in its own process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
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


def train_on_job_gpus(
    gpus: int,
    base_dir: str | Path,
    examples: Sequence[dict],
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    deepspeed: str | Path | None = None,
) -> None:
    """`train_causal_lm` on `gpus` GPUs (the job's SLURM request); 0: in this process, on CPU."""
    if gpus == 0:
        from ftrepro.train.causal import train_causal_lm

        train_causal_lm(base_dir, examples, hparams, out_dir, checkpoint_dir, deepspeed=deepspeed)
        return
    run_distributed(gpus, base_dir, examples, hparams, out_dir, checkpoint_dir, deepspeed)


def run_distributed(
    nproc: int,
    base_dir: str | Path,
    examples: Sequence[dict],
    hparams: dict,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    deepspeed: str | Path | None = None,
) -> None:
    """Train in `nproc` processes started by torchrun; their output goes to this job's stderr
    (its log file). Raises CalledProcessError when training fails."""
    checkpoint_dir = Path(checkpoint_dir)
    job_file = checkpoint_dir / "launch.json"
    examples_file = checkpoint_dir / "launch-examples.jsonl"
    write_jsonl(examples_file, examples)
    write_json(
        job_file,
        {
            "base_dir": str(base_dir),
            "examples": str(examples_file),
            "hparams": hparams,
            "out_dir": str(out_dir),
            "checkpoint_dir": str(checkpoint_dir),
            "deepspeed": None if deepspeed is None else str(deepspeed),
        },
    )
    command = torchrun_command(nproc, job_file)
    log.info("launching %s", " ".join(command))
    sys.stderr.flush()
    subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=True)


def main(argv: list[str]) -> None:
    """One torchrun worker: train on the job described by the file argv[0]."""
    from ftrepro.train.causal import train_causal_lm

    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s rank{rank} %(name)s %(message)s",
    )
    job = read_json(argv[0])
    train_causal_lm(
        job["base_dir"],
        read_jsonl(job["examples"]),
        job["hparams"],
        job["out_dir"],
        job["checkpoint_dir"],
        deepspeed=job["deepspeed"],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
