"""Training entry points, one module per model family, and what every Trainer run shares:
progress in the job log, resuming from the last complete checkpoint of a killed job, and one
atomic write of the finished model with its training log (TRAIN_LOG)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from transformers import ProgressCallback, Trainer
from transformers.integrations import TensorBoardCallback

from ftrepro.io import TRAIN_LOG, atomic_path, write_jsonl

log = logging.getLogger(__name__)


class StderrProgress(ProgressCallback):
    """Trainer's progress bar (stderr), with its loss lines sent to logging instead of stdout."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            log.info(
                "step %d: %s", state.global_step, {k: v for k, v in (logs or {}).items() if k != "total_flos"}
            )


# The Trainer writes this file last into a checkpoint: a checkpoint without it, or with it cut
# short, was being written when the job was killed.
TRAINER_STATE = "trainer_state.json"


def checkpoint_complete(checkpoint: str | Path) -> bool:
    """Whether a Trainer checkpoint's save finished: its trainer_state.json is whole (valid JSON)
    and names the checkpoint's own step."""
    checkpoint = Path(checkpoint)
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and f"checkpoint-{state.get('global_step')}" == checkpoint.name


def last_complete_checkpoint(checkpoint_dir: Path, move_aside: bool = True) -> str | None:
    """The newest complete checkpoint in `checkpoint_dir` (None: none); newer incomplete ones
    are renamed incomplete-<name>-<time> with a warning, a name the Trainer neither resumes nor
    rotates. `move_aside` False only skips them (GPU processes but the first)."""
    for checkpoint in _checkpoints_newest_first(checkpoint_dir):
        if checkpoint_complete(checkpoint):
            return str(checkpoint)
        if move_aside:
            aside = checkpoint.with_name(f"incomplete-{checkpoint.name}-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(checkpoint, aside)
            log.warning(
                "%s was cut off while being saved (no whole %s): moved to %s",
                checkpoint,
                TRAINER_STATE,
                aside,
            )
        else:
            log.warning("%s was cut off while being saved: not resumed", checkpoint)
    return None


def _checkpoints_newest_first(checkpoint_dir: Path) -> list[Path]:
    """checkpoint-<step> folders as the Trainer names them (get_last_checkpoint's rule)."""
    if not checkpoint_dir.is_dir():
        return []
    found = [p for p in checkpoint_dir.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]), reverse=True)


def _tensorboard_beside(trainer: Trainer, checkpoint_dir: Path) -> None:
    """TensorBoard events without a TENSORBOARD_LOGGING_DIR (a fit job sets one,
    ftrepro.fit.tensorboard_dir) go beside the checkpoints rather than among them."""
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.logging_dir is None:
            callback.logging_dir = str(checkpoint_dir.parent / "tensorboard")


def train_and_save(
    trainer: Trainer,
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    save: Callable[[Path], None] | None = None,
) -> dict:
    """Train, resuming from the last complete checkpoint in `checkpoint_dir`; write the model to `out_dir`
    atomically, with the Trainer's log_history (a resumed run's from its first step) as
    TRAIN_LOG in it, then drop the checkpoints.

    `save(directory)` writes the model (on the main process only); without it the Trainer saves,
    on every process, since under ZeRO-3 saving gathers the sharded weights. Returns a summary
    {global_step, training_loss, train_runtime, resumed_from}.
    """
    checkpoint_dir = Path(checkpoint_dir)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StderrProgress)
    _tensorboard_beside(trainer, checkpoint_dir)
    resume = last_complete_checkpoint(checkpoint_dir, move_aside=trainer.is_world_process_zero())
    if resume:
        log.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    final = checkpoint_dir / "final"
    if save is None:
        trainer.save_model(str(final))
    if trainer.is_world_process_zero():  # one writer when several GPU processes train together
        with atomic_path(out_dir) as tmp:
            if save is None:
                shutil.move(final, tmp)
            else:
                save(tmp)
            write_jsonl(tmp / TRAIN_LOG, trainer.state.log_history)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {
        "global_step": result.global_step,
        "training_loss": result.training_loss,
        "train_runtime": result.metrics.get("train_runtime"),
        "resumed_from": resume,
    }
