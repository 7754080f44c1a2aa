"""zhao2025 open decoders with the tiny preset through snakemake (the demo's run), in a sandbox: a
fine-tuned and a prompted (noft) run of a dual and of a consolidated task, one of each dataset, to
metrics.json."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro.io import read_jsonl

pytestmark = pytest.mark.slow

TINY = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
# run -> its subtasks; dual and consolidated, ft and noft, zero- and five-shot, both datasets. The
# tiny preset's four Llama names are one model (papers.shared_runs): llama2-7b's runs are made.
RUNS = {
    "20ng-20class.llama2-7b.zero-shot.ft": ["20class"],
    "massive-joint.llama2-7b.five-shot.ft": ["intent", "slots"],
    "massive-slots.llama2-7b.five-shot.noft": ["slots"],
    "20ng-joint.llama2-7b.zero-shot.noft": ["20class", "7class"],
}


@pytest.fixture(scope="module")
def decoder_run(demo_run):
    """The demo's run (tests/conftest.py), which makes every one of these runs."""
    return demo_run


@pytest.mark.parametrize("run", RUNS)
def test_every_test_record_is_predicted_and_scored(decoder_run, run):
    subtasks = RUNS[run]
    derived = decoder_run / "resources/tiny/derived" / TINY.zhao2025.tasks[run.split(".")[0]].dataset
    test, labels = read_jsonl(derived / "test.jsonl"), json.loads((derived / "labels.json").read_text())
    predictions = read_jsonl(decoder_run / "results/tiny/zhao2025" / run / "predictions.jsonl")
    assert [p["id"] for p in predictions] == [r["id"] for r in test]
    sequence = [s for s in subtasks if s != "slots"]
    for p, record in zip(predictions, test, strict=True):
        assert p["gold"] == {s: record["labels"][s] for s in subtasks}
        assert set(p["pred"]) == set(subtasks) and p["too_long"] is (p["output"] is None)
        assert isinstance(p["parsed"], bool)
        if sequence:  # constrained decoding is on by default: a label of the list per sequence subtask
            assert set(p["pred_constrained"]) == set(sequence)
            assert all(p["pred_constrained"][s] in labels[s] for s in sequence)
    metrics = json.loads((decoder_run / "results/tiny/zhao2025" / run / "metrics.json").read_text())
    assert metrics["n_examples"] == len(test)
    assert 0 <= metrics["parse_failure_rate"] <= 100 and 0 <= metrics["too_long_rate"] <= 100
    for s in sequence:
        assert 0 <= metrics[f"{s}_accuracy"] <= 100 and 0 <= metrics[f"constrained_{s}_accuracy"] <= 100
    if "slots" in subtasks:
        assert 0 <= metrics["slots_f1"] <= 100


def test_fine_tuning_leaves_no_weights_or_scratch(decoder_run):
    assert not list((decoder_run / "resources" / "tiny").glob("scratch/zhao2025/*"))
    assert not (decoder_run / "resources/tiny/models/zhao2025").exists()
    log = (decoder_run / "logs/tiny/zhao2025/fit/massive-joint.llama2-7b.five-shot.ft.log").read_text()
    assert "batch of 8: 1 process(es) x 8 per device x 1 accumulation steps" in log
