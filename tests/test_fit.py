"""A fit job resumes its own work, never another configuration's, and keeps weights on request."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ftrepro.fit import fit_and_predict, job_fingerprint, tensorboard_dir, train_log_path
from ftrepro.io import TRAIN_LOG, atomic_path, read_jsonl, write_jsonl


class FakeModel:
    """Training writes a checkpoint then the model; it can be told to die after the checkpoint."""

    def __init__(self, die_after_checkpoint: bool = False):
        self.die = die_after_checkpoint
        self.resumed_from: list[bool] = []
        self.trained = 0

    def train(self, model_dir: Path, checkpoint_dir: Path) -> None:
        self.resumed_from.append((checkpoint_dir / "step-1").exists())
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (checkpoint_dir / "step-1").write_text("state")
        if self.die:
            raise KeyboardInterrupt("killed")
        self.tensorboard = os.environ.get("TENSORBOARD_LOGGING_DIR")
        with atomic_path(model_dir) as tmp:
            tmp.mkdir()
            (tmp / "weights").write_text("w")
            write_jsonl(tmp / TRAIN_LOG, [{"step": 1, "loss": 2.0}])
        self.trained += 1

    @staticmethod
    def predict(model_dir: Path) -> list[dict]:
        return [{"id": "1", "weights": (model_dir / "weights").read_text()}]


def run(model: FakeModel, work: Path, fingerprint: dict, keep: Path | None = None):
    return fit_and_predict(model.train, model.predict, work_dir=work, fingerprint=fingerprint, keep_dir=keep)


def test_killed_job_resumes_its_checkpoint_and_cleans_up(tmp_path):
    work, fp = tmp_path / "work", {"params": {"lr": 1}}
    dying = FakeModel(die_after_checkpoint=True)
    with contextlib.suppress(KeyboardInterrupt):
        run(dying, work, fp)
    assert (work / "checkpoints" / "step-1").exists()
    model = FakeModel()
    assert run(model, work, fp) == [{"id": "1", "weights": "w"}]
    assert model.resumed_from == [True]
    assert not work.exists()  # weights are scratch by default


def test_work_of_another_configuration_is_not_resumed(tmp_path):
    work = tmp_path / "work"
    with contextlib.suppress(KeyboardInterrupt):
        run(FakeModel(die_after_checkpoint=True), work, {"params": {"lr": 1}})
    model = FakeModel()
    run(model, work, {"params": {"lr": 2}})
    assert model.resumed_from == [False]


def test_model_trained_before_a_kill_is_not_trained_again(tmp_path, monkeypatch):
    work, fp = tmp_path / "work", {"params": {}}
    model = FakeModel()
    monkeypatch.setattr(FakeModel, "predict", staticmethod(lambda d: 1 / 0))
    with contextlib.suppress(ZeroDivisionError):
        run(model, work, fp)
    monkeypatch.undo()
    assert run(model, work, fp)[0]["weights"] == "w"
    assert model.trained == 1


def test_keep_dir_receives_the_weights(tmp_path):
    keep = tmp_path / "models" / "run"
    run(FakeModel(), tmp_path / "work", {}, keep=keep)
    assert (keep / "weights").read_text() == "w"


def test_fingerprint_changes_with_inputs(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("a\n")
    before = job_fingerprint({"x": 1}, [str(data)])
    data.write_text("ab\n")
    assert job_fingerprint({"x": 1}, [str(data)]) != before


def test_a_run_keeps_its_training_log_beside_its_predictions_and_its_curves_in_tensorboard(tmp_path):
    predictions = tmp_path / "results" / "mini" / "zhao2025" / "run.a" / "predictions.jsonl"
    model = FakeModel()
    fit_and_predict(model.train, model.predict, work_dir=tmp_path / "w", fingerprint={}, out_path=predictions)
    assert train_log_path(predictions) == predictions.with_name("train_log.jsonl")
    assert read_jsonl(train_log_path(predictions)) == [{"step": 1, "loss": 2.0}]
    tensorboard = tensorboard_dir("zhao2025", "run.a", "mini")
    assert model.tensorboard == str(tensorboard) == "logs/mini/tensorboard/zhao2025/run.a"  # the preset's
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ  # set for training only
