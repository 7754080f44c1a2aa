"""One fit job: train a model, predict the test split, keep the weights only if asked.

Training and prediction share a job because a model's weights are scratch by default: 952
T5-3B checkpoints would be about 10 TB, and writing each one only to read it back in another
job would double the SLURM submissions and the I/O for nothing.

The job works in resources/scratch/<paper>/<run>/: Trainer checkpoints go there, so a job killed
mid-training resumes when rerun. A fingerprint of the job (params and inputs) is stamped in the
directory (ftrepro.workflow.fingerprint: every param of the rule and a digest of every input);
leftovers of a different configuration are wiped instead of resumed.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from ftrepro.io import DataError, atomic_path, read_json, write_json, write_jsonl

log = logging.getLogger(__name__)

Train = Callable[[Path, Path], None]  # (model_dir, checkpoint_dir) -> None
Predict = Callable[[Path], list[dict]]  # model_dir -> prediction records


def job_fingerprint(params: dict, inputs: list[str]) -> dict:
    """What must match for a leftover work directory to be resumed: the job's parameters
    and the digest of every input (ftrepro.workflow.fingerprint gives a job's)."""
    return {"params": params, "inputs": {path: input_digest(path) for path in sorted(inputs)}}


def input_digest(path: str | Path) -> str:
    """sha256 of the name, size and modification time of a file, or of every file under a
    directory: a rewritten file changes it, without reading a base model's weights."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        name = file.relative_to(root) if root.is_dir() else file.name
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare_work_dir(work_dir: Path, fingerprint: dict) -> None:
    stamp = work_dir / "job.json"
    if work_dir.exists():
        if _stamp(stamp) == fingerprint:
            log.info("resuming in %s", work_dir)
            return
        log.info("%s holds another configuration's work: starting afresh", work_dir)
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    write_json(stamp, fingerprint)


def _stamp(stamp: Path) -> dict | None:
    """The fingerprint a work directory was stamped with; None when missing or unreadable (its
    work cannot be trusted to be this job's, so it is redone, never a stuck job)."""
    try:
        return read_json(stamp) if stamp.exists() else None
    except (DataError, OSError, UnicodeDecodeError) as e:
        log.warning("%s is unreadable (%s): its work is not resumed", stamp, e)
        return None


def fit_and_predict(
    train: Train,
    predict: Predict,
    *,
    work_dir: str | Path,
    fingerprint: dict,
    keep_dir: str | Path | None = None,
    out_path: str | Path | None = None,
) -> list[dict]:
    """Train (resuming when possible), predict, write the records to `out_path` (JSONL), then
    keep the model in `keep_dir` or drop it. The work directory goes last, so that a job killed
    while writing its predictions predicts again on rerun instead of training again."""
    work_dir = Path(work_dir)
    prepare_work_dir(work_dir, fingerprint)
    model_dir = work_dir / "model"
    if model_dir.exists():  # written atomically, so complete: a kill came after training
        log.info("trained model found in %s", model_dir)
    else:
        train(model_dir, work_dir / "checkpoints")
    records = predict(model_dir)
    if out_path is not None:
        write_jsonl(out_path, records)
    if keep_dir is not None:
        with atomic_path(keep_dir) as tmp:
            shutil.move(model_dir, tmp)
        log.info("model kept in %s", keep_dir)
    shutil.rmtree(work_dir)
    return records
