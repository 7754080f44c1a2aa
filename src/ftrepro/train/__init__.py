"""Training entry points, one module per model family, and what every Trainer run shares:
progress in the job log, resuming from the last complete checkpoint of a killed job, a fit that
diverges stopped as a failure, a checkpoint saved on SIGTERM, and one atomic write of the
finished model with its training log (TRAIN_LOG)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from transformers import ProgressCallback, Trainer, TrainerCallback
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


class Diverged(RuntimeError):
    """A fit whose loss or gradient norm stopped being a finite number."""


class Preempted(RuntimeError):
    """A fit stopped by SIGTERM once its checkpoint was saved; the rerun resumes from it."""


class DivergenceGuard(TrainerCallback):
    """Stops a fit at its first loss or gradient norm that is not finite, naming the run, the step
    and the last finite loss. The loss of every micro-batch is checked as `training_step` returns
    it, before the Trainer's logging_nan_inf_filter keeps it out of the logged mean (the filter
    reads it each micro-batch too: no extra device sync); the gradient norm as it is logged."""

    def __init__(self, trainer: Trainer, run: str):
        self.run, self.last_finite = run, None  # (step, loss)
        training_step = trainer.training_step

        def checked(*args, **kwargs):
            loss = training_step(*args, **kwargs)
            self.check({"loss": float(loss)}, trainer.state.global_step + 1)
            return loss

        trainer.training_step = checked

    def check(self, values: dict[str, float], step: int) -> None:
        """Raise Diverged unless every value is finite; then a loss among them is the last finite one."""
        for name, value in values.items():
            if not math.isfinite(value):
                last = (
                    f"last finite loss {self.last_finite[1]:.6g} at step {self.last_finite[0]}"
                    if self.last_finite
                    else "no finite loss before it"
                )
                raise Diverged(f"{self.run}: training diverged at step {step}: {name} is {value} ({last})")
        if "loss" in values:
            self.last_finite = (step, values["loss"])

    def on_log(self, args, state, control, logs=None, **kwargs):
        logged = {name: (logs or {}).get(name) for name in ("grad_norm", "loss")}
        self.check({k: float(v) for k, v in logged.items() if isinstance(v, int | float)}, state.global_step)


class SaveOnSigterm(TrainerCallback):
    """SIGTERM (what SLURM sends ahead of a time limit or a preemption) ends training at the end
    of the step under way: a checkpoint is saved, then Preempted raised (before the Trainer's
    end of training, which would delete that checkpoint when it is not the best one). Processes
    training together stop at the same step: each step they agree on whether any of them was
    signalled."""

    def __init__(self, run: str):
        self.run, self.received, self.stopping = run, False, False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The SIGTERM handler in place while training (Python handles signals in its main
        thread only; elsewhere SIGTERM keeps its default)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _handle(self, signum, frame) -> None:
        log.warning("SIGTERM: saving a checkpoint at the end of this step, then stopping")
        self.received = True

    def on_step_end(self, args, state, control, **kwargs):
        if self._any_process_received(args.device):
            self.stopping = control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        if self.stopping:
            raise Preempted(
                f"{self.run}: stopped by SIGTERM after step {state.global_step} of {state.max_steps}; "
                f"a rerun resumes from {args.output_dir}/checkpoint-{state.global_step}"
            )

    def _any_process_received(self, device) -> bool:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self.received
        flag = torch.tensor([float(self.received)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())


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
    {global_step, training_loss, train_runtime, resumed_from}. A loss or gradient norm that is not
    finite raises Diverged (DivergenceGuard); SIGTERM saves a checkpoint at the end of the step
    and raises Preempted, leaving the checkpoints for the rerun (SaveOnSigterm).
    """
    checkpoint_dir = Path(checkpoint_dir)
    run = trainer.args.run_name or str(checkpoint_dir.parent)  # the job's work directory
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StderrProgress)
    trainer.add_callback(DivergenceGuard(trainer, run))
    sigterm = SaveOnSigterm(run)
    trainer.add_callback(sigterm)
    _tensorboard_beside(trainer, checkpoint_dir)
    resume = last_complete_checkpoint(checkpoint_dir, move_aside=trainer.is_world_process_zero())
    if resume:
        log.info("resuming from %s", resume)
    with sigterm.installed():
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
