"""kill -9 of a training job at each stage, then a rerun (issue 17, finding 1 and the fault suite).

The job is workflow/scripts/fit_band_encoder.py on a tiny random BERT: 24 steps, an evaluation
and a checkpoint every 6, the best checkpoint kept, predictions of the validation split. It is
killed with SIGKILL while loading data, after a step, during an evaluation, in the middle of a
checkpoint (before and while trainer_state.json is written) and in the middle of writing its
predictions; the rerun must finish with predictions and metrics identical to an uninterrupted
run, resume from the newest complete checkpoint, and leave nothing behind.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import faults_jobs
import pytest
from conftest import RecordSteps, StopAfterFirstSave
from faults_jobs import (
    STEPS,
    band_fit_job,
    run_child,
    steps_by_run,
    write_band_data,
)
from test_preference import ALLOCATION, HPARAMS

from ftrepro.io import read_jsonl
from ftrepro.metrics import score_preference_predictions
from ftrepro.papers.band2025.train import train_preference

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
    assert not (tmp_path / "scratch").exists()
    assert [p.name for p in out.parent.iterdir()] == ["predictions.jsonl"]  # no leftover temporaries
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
        band_data / "validation.jsonl",
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
