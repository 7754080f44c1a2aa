"""band2025 with the tiny preset through snakemake (the demo's run), in a sandbox: annotation by the tiny local annotator, the
pre-fine-tuned encoders, all 9 models, their scores, the report and the Kaggle submissions."""

from __future__ import annotations

import csv
import json
import math

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.io import read_jsonl
from ftrepro.papers.band2025.annotate import read_annotations

pytestmark = pytest.mark.slow

TINY = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})


@pytest.fixture(scope="module")
def band_run(demo_run):
    """The demo's run (tests/conftest.py): band2025 is one of its three papers."""
    return demo_run


def test_all_nine_models_are_scored(band_run):
    runs = papers.runs(TINY, "band2025")
    assert len(runs) == 2 * 2 * 2 + 1
    test = read_jsonl(band_run / "resources/tiny/derived/arena/test.jsonl")
    for run in runs:
        metrics = json.loads((band_run / "results/tiny/band2025" / run / "metrics.json").read_text())
        predictions = read_jsonl(band_run / "results/tiny/band2025" / run / "predictions.jsonl")
        assert [p["id"] for p in predictions] == [r["id"] for r in test]
        assert metrics["n_examples"] == len(test)
        assert 0 < metrics["log_loss"] < 5 and math.isfinite(metrics["log_loss"])
        assert all(sum(p["probs"].values()) == pytest.approx(1, abs=1e-5) for p in predictions)


def test_annotations_cover_the_configured_sample(band_run):
    records = read_annotations(band_run / "resources/tiny/annotations/band2025/properties.jsonl")
    assert len(records) == TINY.band2025.annotation_rows
    train_ids = {r["id"] for r in read_jsonl(band_run / "resources/tiny/derived/arena/train.jsonl")}
    assert {r["id"] for r in records} <= train_ids
    assert not list(
        (band_run / "resources" / "tiny").glob("scratch/band2025/*")
    )  # work dirs are dropped when done


def test_report_and_submissions(band_run):
    rows = list(csv.DictReader((band_run / "results/tiny/band2025/tables/log_loss.csv").open()))
    assert [row["run"] for row in rows] == papers.runs(TINY, "band2025")
    implemented = papers.runs(TINY, "band2025")
    assert all(row["status"] == "ok" and row["log_loss"] for row in rows)
    for i in (10, 11):
        assert (band_run / f"results/tiny/band2025/figures/figure{i}.png").read_bytes()[:4] == b"\x89PNG"
    for run in implemented:
        with (band_run / f"results/tiny/band2025/submissions/{run}.csv").open() as f:
            submission = list(csv.DictReader(f))
        assert list(submission[0]) == ["id", "winner_model_a", "winner_model_b", "winner_tie"]
        assert len(submission) == len(read_jsonl(band_run / "resources/tiny/derived/arena/test.jsonl"))
        assert [row["id"] for row in submission] == [
            r["id"] for r in read_jsonl(band_run / "resources/tiny/derived/arena/test.jsonl")
        ]
        with (band_run / f"results/tiny/band2025/submissions/{run}.competition.csv").open() as f:
            competition = list(csv.DictReader(f))
        with (band_run / "resources/tiny/raw/arena/test.csv").open() as f:  # the competition's rows
            assert [row["id"] for row in competition] == [row["id"] for row in csv.DictReader(f)]


def test_the_tables_score_rows_that_no_run_trained_or_chose_its_checkpoint_on(band_run):
    """issue 24: train, dev and test are disjoint; the table's log loss is on test."""
    splits = {
        split: {r["id"] for r in read_jsonl(band_run / f"resources/tiny/derived/arena/{split}.jsonl")}
        for split in ("train", "dev", "test")
    }
    assert splits["test"] and not splits["test"] & (splits["train"] | splits["dev"])
    assert not splits["train"] & splits["dev"]
    annotated = {
        r["id"] for r in read_annotations(band_run / "resources/tiny/annotations/band2025/properties.jsonl")
    }
    assert annotated <= splits["train"]
    md = (band_run / "results/tiny/band2025/tables/log_loss.md").read_text()
    assert "log loss (ours, test)" in md and "## Deviations from the paper (band2025, preset tiny)" in md
