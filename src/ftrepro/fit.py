"""One fit job: train a model, predict the test split, keep the weights only if asked.

Training and prediction share a job because a model's weights are scratch by default: 952
T5-3B checkpoints would be about 10 TB, and writing each one only to read it back in another
job would double the SLURM submissions and the I/O for nothing.

The job works in resources/<preset>/scratch/<paper>/<run>/: Trainer checkpoints go there, so a job killed
mid-training resumes when rerun. A fingerprint of the job (params and inputs) is stamped in the
directory (ftrepro.workflow.fingerprint: every param of the rule and a digest of every input);
leftovers of a different configuration are wiped instead of resumed. A finished job
leaves its predictions there too, until the run's score job (which snakemake starts only once it
has recorded the fit as finished) releases the directory: a fit that finished while snakemake
died is restored from them on rerun, not trained again.

What a run keeps of its training besides its predictions: the Trainer's log_history as
results/<preset>/<paper>/<run>/train_log.jsonl (`train_log_path`) and its TensorBoard events in
logs/<preset>/tensorboard/<paper>/<run>/ (`tensorboard_dir`), so that `tensorboard --logdir
logs/<preset>/tensorboard` shows every run of a preset.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from ftrepro import jobs
from ftrepro.io import TRAIN_LOG, DataError, atomic_path, read_json, read_jsonl, write_json, write_jsonl
from ftrepro.jobs import in_preset, run_at

log = logging.getLogger(__name__)

STAMP = "job.json"  # the fingerprint a work directory belongs to
FINISHED = "predictions.jsonl"  # a finished job's predictions, kept until the run is scored

Train = Callable[[Path, Path], None]  # (model_dir, checkpoint_dir) -> None
Predict = Callable[[Path], list[dict]]  # model_dir -> prediction records


def train_log_path(predictions_path: str | Path) -> Path:
    """A run's training log, beside its predictions (and metrics.json):
    results/<preset>/<paper>/<run>/train_log.jsonl."""
    return Path(predictions_path).with_name(TRAIN_LOG)


def tensorboard_dir(paper: str, run: str, preset: str) -> Path:
    """Where a run's TensorBoard events go: logs/<preset>/tensorboard/<paper>/<run>/ (ftrepro.jobs)."""
    return Path(in_preset(jobs.tensorboard_dir(paper, run), preset))


@contextlib.contextmanager
def tensorboard_logs(directory: str | Path) -> Iterator[None]:
    """The Trainer's TensorBoard writer (in this process and the ones torchrun starts) writes to
    `directory` meanwhile (transformers reads TENSORBOARD_LOGGING_DIR when a Trainer is made)."""
    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(directory)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR")
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = before


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
    stamp = work_dir / STAMP
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
    """Train (resuming when possible), predict, write the records to `out_path` (JSONL) and the
    model's training log beside them (train_log_path), then keep the model in `keep_dir` or drop
    it. The model goes last, so that a job killed while writing its predictions predicts again on
    rerun instead of training again.

    With `out_path`, the predictions (and the training log) stay in the work directory (FINISHED)
    until the score job releases it (`release_work_dir`), and a rerun of the same job restores
    them instead of training; without, the work directory goes too."""
    work_dir = Path(work_dir)
    prepare_work_dir(work_dir, fingerprint)
    model_dir, finished = work_dir / "model", work_dir / FINISHED
    if out_path is not None and finished.exists():  # written atomically, so whole
        log.info("%s: this job's predictions, finished before: restored, nothing trained", finished)
        records = read_jsonl(finished)
    else:
        records = _train_and_predict(train, predict, work_dir, out_path)
    if out_path is not None:
        write_jsonl(out_path, records)
        if (work_dir / TRAIN_LOG).is_file():  # a Trainer's model (not a baseline's)
            with atomic_path(train_log_path(out_path)) as tmp:
                shutil.copyfile(work_dir / TRAIN_LOG, tmp)
    if keep_dir is not None and model_dir.exists():
        with atomic_path(keep_dir) as tmp:
            shutil.move(model_dir, tmp)
        log.info("model kept in %s", keep_dir)
    if out_path is None:
        shutil.rmtree(work_dir)
    else:
        for leftover in set(work_dir.iterdir()) - {work_dir / STAMP, finished, work_dir / TRAIN_LOG}:
            if leftover.is_dir():  # checkpoints, the model
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    return records


def _train_and_predict(train: Train, predict: Predict, work_dir: Path, out_path: str | Path | None) -> list:
    """Train unless a whole model is there (TensorBoard events into the run's directory), predict;
    with `out_path`, keep the predictions (FINISHED) and the training log in `work_dir`."""
    model_dir = work_dir / "model"
    if model_dir.exists():  # written atomically, so complete: a kill came after training
        log.info("trained model found in %s", model_dir)
    else:
        run = run_at(out_path) if out_path else None
        events = tensorboard_logs(tensorboard_dir(*run)) if run else contextlib.nullcontext()
        with events:
            train(model_dir, work_dir / "checkpoints")
    records = predict(model_dir)
    if out_path is not None:
        if (model_dir / TRAIN_LOG).is_file():
            shutil.copyfile(model_dir / TRAIN_LOG, work_dir / TRAIN_LOG)
        write_jsonl(work_dir / FINISHED, records)
    return records


def release_work_dir(work_dir: str | Path) -> bool:
    """Drop a finished job's work directory (the score job of its run, which snakemake starts only
    after recording the fit as finished). One without finished predictions, a fit under way or
    killed, is left alone. Returns whether it was dropped."""
    work_dir = Path(work_dir)
    if not (work_dir / FINISHED).exists():
        return False
    shutil.rmtree(work_dir)
    log.info("released %s", work_dir)
    return True
