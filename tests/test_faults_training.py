"""kill -9 of a training job at each stage, then a rerun (issue 17, finding 1 and the fault suite);
SIGTERM, a finished job whose snakemake died, and a diverging fit (issue 28).

The job is workflow/scripts/fit_band_encoder.py on a tiny random BERT: 24 steps, an evaluation
and a checkpoint every 6, the best checkpoint kept, predictions of the test split. It is
killed with SIGKILL while loading data, after a step, during an evaluation, in the middle of a
checkpoint (before and while trainer_state.json is written) and in the middle of writing its
predictions; the rerun must finish with predictions and metrics identical to an uninterrupted
run, resume from the newest complete checkpoint, and leave nothing behind once the run's score
job has released its work directory.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import faults_jobs
import pytest
from conftest import RecordSteps, StopAfterFirstSave
from faults_jobs import (
    SIGNAL_STEP,
    STEPS,
    band_fit_job,
    run_child,
    score_job,
    steps_by_run,
    write_band_data,
)
from test_preference import ALLOCATION, HPARAMS
from transformers import TrainerControl, TrainerState, TrainingArguments

from ftrepro.fit import FINISHED, STAMP
from ftrepro.io import TRAIN_LOG, read_json, read_jsonl
from ftrepro.metrics import Bootstrap, score_preference_predictions
from ftrepro.papers.band2025.train import train_preference
from ftrepro.train import Diverged, DivergenceGuard

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def band_data(tmp_path_factory) -> Path:
    return write_band_data(tmp_path_factory.mktemp("band-data"))


@pytest.fixture(scope="module")
def context():
    return faults_jobs.forkserver()


@pytest.fixture(scope="module")
def reference(context, band_data, tmp_path_factory) -> Path:
    """The same job, never killed."""
    root = tmp_path_factory.mktemp("band-reference")
    assert run_child(context, band_fit_job, str(root), str(band_data), None) == 0
    assert steps_by_run(root) == [list(range(1, STEPS + 1))]
    return root


@pytest.mark.parametrize(
    "fault, newest_complete",
    [
        ("load", 0),
        ("step", 6),
        ("evaluation", 6),
        ("checkpoint", 6),
        ("checkpoint-state", 6),
        ("prediction", None),
    ],
)
def test_a_fit_killed_at_any_stage_finishes_on_rerun_as_if_never_killed(
    context, band_data, reference, tmp_path, fault, newest_complete
):
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), fault) == -signal.SIGKILL
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), None) == 0

    out, expected = tmp_path / "out" / "predictions.jsonl", reference / "out" / "predictions.jsonl"
    assert out.read_bytes() == expected.read_bytes()
    assert score_preference_predictions(read_jsonl(out)) == score_preference_predictions(read_jsonl(expected))
    runs = steps_by_run(tmp_path) if (tmp_path / "steps.log").exists() else []
    if newest_complete is None:  # killed after training: the rerun predicts again, trains nothing
        assert runs == [list(range(1, STEPS + 1))]
    else:  # no step lost, none done twice after the newest complete checkpoint
        *killed, rerun = runs
        assert rerun == list(range(newest_complete + 1, STEPS + 1))
        assert all(steps[:newest_complete] == list(range(1, newest_complete + 1)) for steps in killed)
    # the finished predictions wait in the work directory for the score job, nothing else
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == sorted(
        [FINISHED, STAMP, TRAIN_LOG]
    )  # what a restore needs
    assert run_child(context, score_job, str(tmp_path)) == 0
    assert not (tmp_path / "scratch").exists()
    # no leftover temporaries: the run's outputs and its training log only
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "competition_predictions.jsonl",
        "predictions.jsonl",
        TRAIN_LOG,
    ]
    if fault.startswith("checkpoint"):
        logs = "".join(p.read_text() for p in tmp_path.glob("job-*.log"))
        assert "checkpoint-12 was cut off while being saved" in logs and "incomplete-checkpoint-12" in logs


# --- the same fault in-process, fast: a checkpoint folder without its trainer_state.json -------


@pytest.mark.parametrize("damage", ["no-state", "torn-state"])
def test_an_incomplete_checkpoint_is_moved_aside_and_the_previous_one_resumed(
    band_data, tmp_path, caplog, damage
):
    """Finding 1: every retry failed on checkpoint-N/ without trainer_state.json."""
    args = (
        band_data / "base",
        band_data / "train.jsonl",
        band_data / "dev.jsonl",
        "single",
        HPARAMS,
        ALLOCATION,
        tmp_path / "model",
        tmp_path / "ckpt",
    )
    with pytest.raises(KeyboardInterrupt):
        train_preference(*args, callbacks=[StopAfterFirstSave()])
    cut = tmp_path / "ckpt" / "checkpoint-12"  # what a kill during the next save leaves
    shutil.copytree(tmp_path / "ckpt" / "checkpoint-6", cut)
    state = cut / "trainer_state.json"
    if damage == "no-state":
        state.unlink()
    else:  # the step's own state, cut short
        text = json.dumps({**json.loads(state.read_text()), "global_step": 12})
        state.write_text(text[: len(text) // 2])
    steps = RecordSteps()
    summary = train_preference(*args, callbacks=[steps])
    assert summary["resumed_from"].endswith("checkpoint-6")
    assert (steps.start_step, steps.steps_run, summary["global_step"]) == (6, STEPS - 6, STEPS)
    assert "checkpoint-12 was cut off while being saved" in caplog.text
    assert json.loads((tmp_path / "model" / "config.json").read_text())  # the model was written


# --- issue 28: SIGTERM, a finished job snakemake never recorded, divergence ---------------------


def test_sigterm_between_checkpoints_saves_one_and_the_rerun_resumes_it(
    context, band_data, reference, tmp_path
):
    """SIGTERM (SLURM, ahead of the time limit) at step 9, between the checkpoints of steps 6 and
    12: the fit saves checkpoint-9 and fails; the rerun trains steps 10-24 only (a restart from
    checkpoint-6 would train 7-24) and ends where an uninterrupted run does."""
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), "sigterm") == 1
    [log] = tmp_path.glob("job-*.log")
    assert f"stopped by SIGTERM after step {SIGNAL_STEP} of {STEPS}" in log.read_text()
    assert (tmp_path / "scratch" / "checkpoints" / f"checkpoint-{SIGNAL_STEP}").is_dir()
    assert not (tmp_path / "out" / "predictions.jsonl").exists()
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), None) == 0

    first, rerun = steps_by_run(tmp_path)
    assert first == list(range(1, SIGNAL_STEP + 1)) and rerun == list(range(SIGNAL_STEP + 1, STEPS + 1))
    out, expected = tmp_path / "out" / "predictions.jsonl", reference / "out" / "predictions.jsonl"
    assert score_preference_predictions(read_jsonl(out)) == score_preference_predictions(read_jsonl(expected))


def test_a_finished_fit_that_snakemake_never_recorded_is_restored_not_trained(
    context, band_data, reference, tmp_path
):
    """kill -9 of snakemake while the fit runs: the fit finishes on its own, but snakemake never
    records it, so the rerun deletes its predictions and runs it again. The rerun restores them
    from the work directory (stamped with the job's fingerprint) instead of training again; the
    run's score job then releases the directory."""
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), None) == 0
    out = tmp_path / "out" / "predictions.jsonl"
    out.unlink()  # what snakemake does to the outputs of a job it did not see finish
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), None) == 0
    assert steps_by_run(tmp_path) == [list(range(1, STEPS + 1))]  # nothing trained by the rerun
    assert out.read_bytes() == (reference / "out" / "predictions.jsonl").read_bytes()
    assert run_child(context, score_job, str(tmp_path)) == 0
    assert not (tmp_path / "scratch").exists()
    # the score job's metrics, with the intervals it draws (faults_jobs.score_job's bootstrap)
    assert read_json(tmp_path / "metrics.json") == score_preference_predictions(
        read_jsonl(out), bootstrap=Bootstrap(resamples=1000, seed=0)
    )


def test_a_diverging_fit_fails_naming_run_step_and_last_finite_loss(context, band_data, tmp_path):
    """Learning rate 1e6: the loss turns NaN, which the Trainer's logging_nan_inf_filter hid
    (the job ended 0 and was scored); the fit now fails and writes no predictions to score."""
    diverging = {"learning_rate": 1e6, "fp16": False}
    assert run_child(context, band_fit_job, str(tmp_path), str(band_data), None, diverging) == 1
    [log] = tmp_path.glob("job-*.log")
    message = re.search(r"Diverged: (.*)", log.read_text()).group(1)
    assert message.startswith(f"{tmp_path / 'scratch'}: training diverged at step ")
    assert re.search(r"loss is nan \(last finite loss [-\d.e+]+ at step \d+\)", message)
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


@pytest.mark.parametrize("logs", [{"loss": 0.0, "grad_norm": float("nan")}, {"loss": float("inf")}])
def test_a_logged_loss_or_gradient_norm_that_is_not_finite_stops_the_fit(logs):
    """grad_norm: nan logged beside a loss of 0.0 (the filter's doing) is divergence too."""
    trainer = SimpleNamespace(training_step=lambda *a: None, state=TrainerState())
    guard = DivergenceGuard(trainer, "results/x/run")
    guard.on_log(
        TrainingArguments("unused", report_to="none"),
        TrainerState(global_step=1),
        TrainerControl(),
        logs={"loss": 1.5},
    )
    with pytest.raises(
        Diverged, match=r"results/x/run: training diverged at step 7: .* \(last finite loss 1.5 at step 1\)"
    ):
        guard.on_log(
            TrainingArguments("unused", report_to="none"),
            TrainerState(global_step=7),
            TrainerControl(),
            logs=logs,
        )
