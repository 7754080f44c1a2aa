"""zhao2025 baselines: TF-IDF + linear SVM and frozen encoder + logistic regression, scored by
the models' scorer, on keyword data where a word decides the intent and is the only slot."""

from __future__ import annotations

import pytest
from test_encoder import KEYWORDS, make_records

from ftrepro.io import DataError, write_jsonl
from ftrepro.metrics import score_predictions
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.zhao2025.baselines import fit_baseline, per_record, word_features

SUBTASKS = ["intent", "slots"]


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    prepare_base_model({"random": {"architecture": "roberta"}}, "encoder", root / "base")
    write_jsonl(root / "train.jsonl", make_records(90, seed=0))
    write_jsonl(root / "test.jsonl", make_records(30, seed=1))
    return root


def test_word_features_see_two_neighbours_each_side():
    features = word_features(["wake", "Me", "at", "7"], 1)
    assert {"word=me", "title=True", "word-1=wake", "word+2=7", "word-2=<none>"} <= set(features)
    assert "digit=True" in word_features(["wake", "Me", "at", "7"], 3)


def test_per_record_cuts_word_labels_back_into_records():
    records = [{"words": ["a", "b"]}, {"words": []}, {"words": ["c"]}]
    assert per_record(["x", "y", "z"], records) == [["x", "y"], [], ["z"]]


@pytest.mark.parametrize("method", ["tfidf-svm", "frozen-encoder"])
def test_baselines_learn_the_keywords(splits, method):
    records = fit_baseline(
        method,
        splits / "train.jsonl",
        splits / "test.jsonl",
        SUBTASKS,
        base_dir=splits / "base",
        max_length=16,
    )
    assert [r["id"] for r in records] == [f"1-{i}" for i in range(30)]
    metrics = score_predictions(records, SUBTASKS)
    chance = 100 / len(KEYWORDS)
    assert metrics["intent_accuracy"] > 2 * chance, metrics
    assert metrics["slots_f1"] > 60, metrics


def test_baselines_name_a_record_without_gold_labels(splits, tmp_path):
    records = make_records(5, seed=2)
    del records[3]["labels"]["slots"]
    write_jsonl(tmp_path / "train.jsonl", records)
    with pytest.raises(DataError, match=r"train.jsonl: record 4 \(id '2-3'\): no gold label for slots"):
        fit_baseline("tfidf-svm", tmp_path / "train.jsonl", splits / "test.jsonl", SUBTASKS)


def test_unknown_baseline_and_a_frozen_encoder_without_its_model(splits):
    with pytest.raises(ValueError, match="unknown baseline 'bm25'"):
        fit_baseline("bm25", splits / "train.jsonl", splits / "test.jsonl", ["intent"])
    with pytest.raises(ValueError, match="base_dir and max_length"):
        fit_baseline("frozen-encoder", splits / "train.jsonl", splits / "test.jsonl", ["intent"])
