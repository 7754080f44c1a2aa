"""The tiny preset end to end through snakemake (the demo's run): raw data to Table 3, in a sandbox."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import REPO, SHARED_DATA, snakemake

from ftrepro import config as cfg
from ftrepro.io import read_jsonl

pytestmark = pytest.mark.slow

TABLE = "results/tiny/zhao2025/tables/table3.csv"
LOCAL = ["--profile", "profiles/local", "--cores", "2", "--config", "preset=tiny"]


@pytest.fixture(scope="module")
def tiny_run(demo_run):
    """The demo's run (tests/conftest.py): every zhao2025 encoder and the one Llama model of the tiny
    preset (its four names resolve to one random model, papers.shared_runs), fine-tuned and not, in
    both prompt settings; tests/test_pipeline_zhao_decoder.py looks at the decoder runs closely."""
    return demo_run


def test_every_encoder_run_writes_predictions_and_metrics(tiny_run):
    runs = sorted(p.parent.name for p in (tiny_run / "results" / "tiny" / "zhao2025").glob("*/metrics.json"))
    assert len(runs) == 12 + 2 * 2 * 6 and sum(".roberta-" in run for run in runs) == 12
    joint = json.loads(
        (tiny_run / "results/tiny/zhao2025/massive-joint.roberta-base.ft/metrics.json").read_text()
    )
    assert set(joint) - {"ci", "se", "bootstrap"} == {
        "intent_accuracy",
        "slots_f1",
        "slots_precision",
        "slots_recall",
        "exact_match",
        "n_examples",
    }
    assert set(joint["ci"]) == set(joint["se"]) == set(joint) - {"ci", "se", "bootstrap", "n_examples"}
    predictions = read_jsonl(
        tiny_run / "results/tiny/zhao2025/massive-joint.roberta-base.ft/predictions.jsonl"
    )
    assert len(predictions) == joint["n_examples"]
    assert all(len(p["pred"]["slots"]) == len(p["gold"]["slots"]) for p in predictions)


def test_tiny_models_learn_the_synthetic_signal(tiny_run):
    """Synthetic data plants a learnable signal: every 7-class model beats chance by far."""
    for model in ("roberta-base", "roberta-large"):
        metrics = json.loads(
            (tiny_run / f"results/tiny/zhao2025/20ng-7class.{model}.ft/metrics.json").read_text()
        )
        assert metrics["7class_accuracy"] > 3 * 100 / 7


def test_table3_has_ours_for_the_runs_made_and_not_run_elsewhere(tiny_run):
    rows = list(csv.DictReader((tiny_run / TABLE).open()))
    assert len(rows) == 24 * 8
    for row in rows:  # every encoder and Llama row is made (the Llama rows by one shared model)
        if row["model"].startswith(("roberta", "llama")):
            assert row["status"] == "ok" and row["ours"] != ""
            assert float(row["diff"]) == pytest.approx(float(row["ours"]) - float(row["paper"]))
        else:
            assert row["status"] == "not run" and row["ours"] == "" and row["diff"] == ""
    assert sum(row["status"] == "ok" for row in rows) == (2 + 4 * 2 * 2) * 8
    assert "not run" in (tiny_run / TABLE.replace(".csv", ".md")).read_text()


def test_weights_are_scratch_and_a_second_run_has_nothing_to_do(tiny_run):
    assert not list((tiny_run / "resources" / "tiny").glob("scratch/*/*"))
    assert not (tiny_run / "resources" / "tiny" / "models" / "zhao2025").exists()
    result = snakemake(["results/tiny/report.html", *LOCAL, "-n"], tiny_run)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_real_local_data_through_one_model(workdir):
    """data.source: local reads the real MASSIVE copy; the tiny preset caps its rows."""
    if not (SHARED_DATA / "massive" / "en-US.jsonl.gz").exists():
        pytest.skip(f"no MASSIVE copy in {SHARED_DATA}")
    target = "results/tiny/zhao2025/massive-intent.roberta-base.ft/metrics.json"
    data = f"data={{'source': 'local', 'local_dir': '{SHARED_DATA}'}}"
    result = snakemake([target, *LOCAL, data], workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    test_rows = read_jsonl(workdir / "resources/tiny/derived/massive/test.jsonl")
    labels = json.loads((workdir / "resources/tiny/derived/massive/labels.json").read_text())
    cap = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"}).data.max_rows["test"]
    assert len(test_rows) == cap < 2974  # the tiny cap of the real test split
    assert len(labels["intent"]) == 60 and len(labels["slots"]) == 56  # labels of the full data
    assert json.loads((workdir / target).read_text())["n_examples"] == cap
