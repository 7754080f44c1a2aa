"""Training entry points, one module per model family, and what every Trainer run shares:
progress in the job log, resuming from the last checkpoint of a killed job, and one atomic
write of the finished model."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from transformers import ProgressCallback, Trainer
from transformers.trainer_utils import get_last_checkpoint

from ftrepro.io import atomic_path

log = logging.getLogger(__name__)


class StderrProgress(ProgressCallback):
    """Trainer's progress bar (stderr), with its loss lines sent to logging instead of stdout."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            log.info(
                "step %d: %s", state.global_step, {k: v for k, v in (logs or {}).items() if k != "total_flos"}
            )


def train_and_save(
    trainer: Trainer,
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    save: Callable[[Path], None] | None = None,
) -> dict:
    """Train, resuming from the last checkpoint in `checkpoint_dir`; write the model to `out_dir`
    atomically, then drop the checkpoints.

    `save(directory)` writes the model (on the main process only); without it the Trainer saves,
    on every process, since under ZeRO-3 saving gathers the sharded weights. Returns a summary
    {global_step, training_loss, train_runtime, resumed_from}.
    """
    checkpoint_dir = Path(checkpoint_dir)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StderrProgress)
    resume = get_last_checkpoint(checkpoint_dir) if checkpoint_dir.is_dir() else None
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
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {
        "global_step": result.global_step,
        "training_loss": result.training_loss,
        "train_runtime": result.metrics.get("train_runtime"),
        "resumed_from": resume,
    }
