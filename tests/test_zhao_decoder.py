"""zhao2025 open-decoder runs: training examples without the five-shot demos, the candidates of
constrained decoding in the trained answer format, prediction records."""

from __future__ import annotations

import json

import pytest

from ftrepro.models.base import prepare_base_model
from ftrepro.papers.zhao2025 import predict as zhao2025
from ftrepro.papers.zhao2025.prompts import task_demos, template

LABELS = {
    "20class": ["comp.graphics", "rec.autos", "sci.space"],
    "7class": ["comp", "rec", "sci"],
    "intent": ["alarm_set", "play_music"],
    "slots": ["Other", "date", "time"],
}


def test_consolidated_20ng_candidates_are_every_whole_answer(monkeypatch):
    offered = []

    def choose(model_dir, prompts, candidates, batch_size, whole_answers=True):
        offered.append((candidates[0], whole_answers))
        return [text for text in candidates[0] if '"sci"' in text and '"sci.space"' in text][:1] + [None]

    monkeypatch.setattr(zhao2025, "choose", choose)
    picks = zhao2025.constrained_predictions(
        "m", ["p1", "p2"], ["20class", "7class"], "20newsgroups", LABELS, 4
    )
    texts, whole = offered[0]
    assert whole and len(texts) == 9 and len(offered) == 1
    assert {json.loads(t)["task1"] for t in texts} == set(LABELS["7class"])  # task1 is the 7-class label
    assert picks == [{"20class": "sci.space", "7class": "sci"}, None]


def test_intent_next_to_slots_is_scored_up_to_its_closing_quote(monkeypatch):
    offered = []

    def choose(model_dir, prompts, candidates, batch_size, whole_answers=True):
        offered.append((candidates[0], whole_answers))
        return [candidates[0][1]] * len(prompts)

    monkeypatch.setattr(zhao2025, "choose", choose)
    picks = zhao2025.constrained_predictions("m", ["p"], ["intent", "slots"], "massive", LABELS, 4)
    texts, whole = offered[0]
    assert not whole and texts == ['{"task1": "alarm_set"', '{"task1": "play_music"']
    assert picks == [{"intent": "play_music"}]
    assert zhao2025.constrained_predictions("m", ["p"], ["slots"], "massive", LABELS, 4) == [{}]


def test_a_label_after_another_subtask_cannot_be_scored_alone():
    tpl = {**template(["intent", "slots"], "massive"), "tasks": {"task1": "slots", "task2": "intent"}}
    with pytest.raises(ValueError, match="before 'intent'"):
        zhao2025.answer_beginning(tpl, "intent", "alarm_set", ["intent", "slots"])


def test_training_examples_leave_out_the_five_shot_demos(tmp_path):
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", tmp_path / "base")
    records = [
        {
            "id": str(i),
            "text": f"wake me up at {i}",
            "words": ["wake", "me", "up", "at", str(i)],
            "labels": {"intent": "alarm_set", "slots": ["Other"] * 4 + ["time"]},
        }
        for i in range(12)
    ]
    demos = task_demos(records, ["intent"], "five-shot", seed=0)
    assert len(demos) == 5 and task_demos(records, ["intent"], "zero-shot", seed=0) is None
    examples = zhao2025.training_examples(tmp_path / "base", records, ["intent"], "massive", LABELS, demos)
    assert [e["id"] for e in examples] == [r["id"] for r in records if r not in demos]
    for example in examples:
        assert example["answer"] == "alarm_set" and example["prompt"].startswith("[INST]")
        assert all(f"wake me up at {d['id']}" in example["prompt"] for d in demos)
