"""gupta2023 with the tiny preset through snakemake (the demo's run): pre-finetuning, every STL and
MTL model, the anchors, scores and the thesis's tables and figures, in a sandbox. Settings that
train the same model in the preset (papers.shared_runs) are trained once."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.io import read_jsonl

pytestmark = pytest.mark.slow

TINY = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})


@pytest.fixture(scope="module")
def gupta_run(demo_run):
    """The demo's run (tests/conftest.py): gupta2023 is one of its three papers."""
    return demo_run


def test_every_run_is_scored_per_task_and_category(gupta_run):
    runs = papers.runs(TINY, "gupta2023")
    assert len(runs) == 3 * 8 + 8 + 2 + 1 + 2  # ... the anchors, few-shot and the task-242 pair
    shared = papers.shared_runs(TINY, "gupta2023")
    assert set(runs) == set(papers.trained_runs(TINY, "gupta2023")) | set(shared)
    for run in (shared.get(run, run) for run in runs):  # a shared run's numbers are its model's
        metrics = json.loads((gupta_run / "results/tiny/gupta2023" / run / "metrics.json").read_text())
        predictions = read_jsonl(gupta_run / "results/tiny/gupta2023" / run / "predictions.jsonl")
        assert metrics["n_examples"] == len(predictions) > 0
        assert 0 <= metrics["rougeL"] <= 100
        tasks = {p["task"] for p in predictions}
        assert set(metrics["per_task"]) == tasks
        assert len(tasks) == (1 if run.startswith(("stl.", "ablation.")) else len(TINY.gupta2023.test_tasks))


def test_weights_are_deleted_and_predictions_kept(gupta_run):
    assert not (gupta_run / "resources/tiny/models/gupta2023").exists() or list(
        (gupta_run / "resources/tiny/models/gupta2023").iterdir()
    ) == [gupta_run / "resources/tiny/models/gupta2023/prefinetuned"]
    assert not list((gupta_run / "resources" / "tiny").glob("scratch/gupta2023/*"))


def test_tables_and_figures_hold_ours_beside_the_thesis(gupta_run):
    rows = list(csv.DictReader((gupta_run / "results/tiny/gupta2023/tables/headline.csv").open()))
    assert len(rows) == 2 * 8 + 1 + 2  # STL and MTL per setting, few-shot, then the two anchors
    assert all(row["status"] == "ok" and row["ours"] != "" for row in rows)
    for i in (1, 2, 3, 4):
        assert (gupta_run / f"results/tiny/gupta2023/figures/figure5_{i}.png").read_bytes()[:4] == b"\x89PNG"


def test_figure_1_1_and_the_case_study_hold_the_new_runs(gupta_run):
    """Tk-Instruct few-shot is Figure 1.1's first row; the task-242 pair and task 1356 (a tiny test
    task) are scored in the case study, with their measured prompt lengths."""
    figure = list(csv.DictReader((gupta_run / "results/tiny/gupta2023/tables/figure1_1_table.csv").open()))
    assert [row["status"] for row in figure] == ["ok"] * 4 and figure[0]["paper"] == "54.3"
    assert (gupta_run / "results/tiny/gupta2023/figures/figure1_1.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((gupta_run / "results/tiny/gupta2023/tables/case_study.csv").open()))
    ok = {(row["task"], row["column"]) for row in rows if row["status"] == "ok"}
    ablation = TINY.gupta2023.case_study["ablation_task"]
    assert {(ablation, "ablation: def-pos"), (ablation, "ablation: def-pos1-neg1")} <= ok
    assert {task for task, _ in ok} == {ablation, "task1356_xlsum_title_generation"}
