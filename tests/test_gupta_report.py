"""gupta2023 scoring (docs/protocols.md 1.4) against rouge-score called directly, STL pooling, the thesis's
category columns on the real 119-task list, the no-training anchors on the real task files, and
the report's tables and figures (thesis numbers beside ours, "not run" for missing runs)."""

from __future__ import annotations

import csv
import json
import math
import re
import string
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SUPERNI_SAMPLE_TASKS, superni_sample
from PIL import Image
from rouge_score import rouge_scorer

from ftrepro.evaluate import score_run
from ftrepro.io import DataError, write_jsonl
from ftrepro.metrics import category_key, score_superni_predictions
from ftrepro.papers.gupta2023 import PAPER as GUPTA
from ftrepro.papers.gupta2023.report import (
    copy_demo_predictions,
    copy_input_predictions,
    group_runs,
    pool_stl,
    thesis_categories,
    thesis_column,
    write_gupta_report,
)
from ftrepro.report import Verdicts

REPO = Path(__file__).resolve().parents[1]
SUPERNI = REPO.parent / "shared" / "data" / "superni"
SAMPLE_TASKS = SUPERNI_SAMPLE_TASKS
RESULTS = REPO / "config" / "targets" / "gupta2023_results.csv"
CATEGORIES = REPO / "config" / "targets" / "gupta2023_categories.csv"
ANCHORS = REPO / "config" / "targets" / "gupta2023_anchors.csv"
TEXT = REPO / "config" / "targets" / "gupta2023_tk_categories.csv"
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def _rouge(pred: str, refs: list[str]) -> float:
    return max(SCORER.score(ref, pred)["rougeL"].fmeasure for ref in refs)


def _em(pred: str, refs: list[str]) -> float:
    def norm(s: str) -> str:
        return " ".join(s.lower().translate(str.maketrans("", "", string.punctuation)).split())

    return float(any(norm(pred) == norm(ref) for ref in refs))


def _expected(pairs: list[tuple[str, list[str]]]) -> tuple[float, float]:
    """compute_metrics.py's corpus scores, written out here: mean x 100, rounded to 4 decimals."""
    return (
        round(100 * sum(_rouge(p, r) for p, r in pairs) / len(pairs), 4),
        round(100 * sum(_em(p, r) for p, r in pairs) / len(pairs), 4),
    )


def rec(task: str, category: str, i: int, prediction, references: list[str]) -> dict:
    return {
        "task": task,
        "category": category,
        "id": f"{task}-{i}",
        "prediction": prediction,
        "references": references,
    }


RECORDS = [
    rec("task1", "Question Rewriting", 1, "The cats are running home", ["cat runs home", "dogs sleep"]),
    rec("task1", "Question Rewriting", 2, "The answer.", ["the answer"]),
    rec("task2", "Textual Entailment", 1, "answer", ["the answer"]),
    rec("task2", "Textual Entailment", 2, "can't stop", ["cant stop!", "no"]),
    rec("task3", "Word Analogy", 1, "Paris is big", ["Rome", "paris, big"]),
]


# --- scoring ----------------------------------------------------------------------------------


def test_score_run_matches_rouge_score_and_squad_em(tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, RECORDS)
    metrics = score_run(GUPTA.scoring(), path)
    pairs = [(r["prediction"], r["references"]) for r in RECORDS]
    assert (metrics["rougeL"], metrics["exact_match"]) == _expected(pairs)
    # EM by hand: "The answer." = "the answer" (punctuation out), "answer" != "the answer"
    # (articles kept), "can't stop" = "cant stop!" (apostrophe is punctuation), the rest differ
    assert metrics["exact_match"] == 40.0
    assert metrics["n_examples"] == 5
    for task, category in (
        ("task1", "question_rewriting"),
        ("task2", "textual_entailment"),
        ("task3", "word_analogy"),
    ):
        group = [(r["prediction"], r["references"]) for r in RECORDS if r["task"] == task]
        rouge, em = _expected(group)
        assert metrics["per_task"][task] == {
            "rougeL": rouge,
            "exact_match": em,
            "n": len(group),
            "category": category,
        }
        assert metrics["per_category"][category] == {"rougeL": rouge, "exact_match": em, "n": len(group)}
    assert json.loads(json.dumps(metrics)) == metrics  # metrics.json holds it as is


def test_stemming_and_max_over_references():
    metrics = score_superni_predictions(
        [rec("t", "Data to Text", 1, "The cats are running", ["x", "cat runs"])]
    )
    # best reference "cat runs": LCS [cat, run] over 4 / 2 tokens -> F = 2/3
    assert metrics["rougeL"] == round(100 * 2 / 3, 4)


def test_category_key_is_compute_metrics_normalisation():
    assert category_key("Question Rewriting") == "question_rewriting"
    assert category_key(" Data  to Text") == "data_to_text"


def test_null_prediction_scores_as_empty():
    metrics = score_superni_predictions([rec("t", "Title Generation", 1, None, ["a title"])])
    assert (metrics["rougeL"], metrics["exact_match"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"references": []}, "record 2 .*'references' must be a non-empty list"),
        ({"prediction": 3}, "record 2 .*'prediction' must be a string or null"),
        ({"category": ""}, "record 2 .*'category' must be a non-empty string"),
        ({"id": "task1-1"}, "record 2 .*duplicate id in task task1"),
        (
            {"category": "Title Generation"},
            "record 2 .*task1 has categories question_rewriting and title_generation",
        ),
    ],
)
def test_bad_records_name_the_file_and_record(tmp_path, bad, message):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, [RECORDS[0], {**RECORDS[1], **bad}])
    with pytest.raises(DataError, match=f"predictions.jsonl: {message}"):
        score_run(GUPTA.scoring(), path)


# --- pooling and categories -------------------------------------------------------------------


def test_pool_stl_is_example_weighted_and_equals_scoring_the_concatenation():
    runs = [
        score_superni_predictions([r for r in RECORDS if r["task"] == t]) for t in ("task1", "task2", "task3")
    ]
    pooled = pool_stl(runs)
    whole = score_superni_predictions(RECORDS)
    assert pooled["n_examples"] == 5
    assert pooled["per_task"] == whole["per_task"]
    for key in ("rougeL", "exact_match"):
        weighted = sum(run[key] * run["n_examples"] for run in runs) / 5
        assert pooled[key] == round(weighted, 4)
        assert pooled[key] == pytest.approx(whole[key], abs=1e-4)  # only the 4-decimal rounding differs
        assert pooled[key] != pytest.approx(
            sum(run[key] for run in runs) / 3, abs=1e-3
        )  # not a mean of tasks
    assert pooled["per_category"] == whole["per_category"]


def test_pool_stl_rejects_a_task_twice():
    run = score_superni_predictions(RECORDS[:2])
    with pytest.raises(DataError, match="task task1 is scored by more than one run"):
        pool_stl([run, run])


def test_thesis_columns_on_the_real_test_tasks_match_table_4_3():
    with open(SUPERNI / "task_categories.tsv", newline="", encoding="utf-8") as f:
        tasks = [row for row in csv.DictReader(f, delimiter="\t") if row["split"] == "test"]
    columns = pd.Series([thesis_column(category_key(row["category"])) for row in tasks]).value_counts()
    assert columns.to_dict() == {
        "textual_entailment": 24,
        "title_generation": 18,
        "coreference_resolution": 14,
        "answerability_classification": 13,
        "question_rewriting": 11,
        "data_to_text": 9,
        "other_categories": 30,
    }


def test_thesis_categories_pool_the_other_categories_by_examples():
    metrics = {
        "per_category": {
            "question_rewriting": {"rougeL": 50.0, "exact_match": 10.0, "n": 2},
            "word_analogy": {"rougeL": 80.0, "exact_match": 40.0, "n": 1},
            "keyword_tagging": {"rougeL": 20.0, "exact_match": 0.0, "n": 3},
        }
    }
    assert thesis_categories(metrics) == {
        "question_rewriting": {"rougeL": 50.0, "exact_match": 10.0, "n": 2},
        "other_categories": {"rougeL": 35.0, "exact_match": 10.0, "n": 4},  # (80 + 3*20) / 4, (40 + 0) / 4
    }


# --- anchors on the real task files -------------------------------------------------------------


@pytest.fixture(scope="module")
def derived(tmp_path_factory) -> Path:
    return superni_sample(tmp_path_factory.mktemp("superni"))[1]


@pytest.fixture(scope="module")
def raw(derived) -> Path:
    return derived.parent / "raw"


def _raw_pairs(raw: Path, prediction) -> list[tuple[str, list[str]]]:
    """(prediction, references) of every test instance, read from the task files themselves."""
    pairs = []
    for task in SAMPLE_TASKS:
        data = json.loads((raw / "tasks" / f"{task}.json").read_text(encoding="utf-8"))
        pairs += [(prediction(data, inst), inst["output"]) for inst in data["Instances"][:100]]
    return pairs


def test_copy_input_anchor_on_real_tasks(raw, derived):
    records = copy_input_predictions(derived)  # tasks from the manifest
    assert len(records) == 400
    expected = _expected(_raw_pairs(raw, lambda data, inst: inst["input"]))
    metrics = score_superni_predictions(records)
    assert (metrics["rougeL"], metrics["exact_match"]) == expected
    assert set(metrics["per_task"]) == set(SAMPLE_TASKS)


def test_copy_demo_anchor_on_real_tasks(raw, derived):
    records = copy_demo_predictions(raw, derived, SAMPLE_TASKS)
    expected = _expected(_raw_pairs(raw, lambda data, inst: data["Positive Examples"][0]["output"]))
    metrics = score_superni_predictions(records)
    assert (metrics["rougeL"], metrics["exact_match"]) == expected
    assert len({(r["task"], r["prediction"]) for r in records}) == len(SAMPLE_TASKS)  # one demo per task


def test_copy_demo_needs_a_positive_example(raw, derived, tmp_path):
    task = json.loads((raw / "tasks" / f"{SAMPLE_TASKS[0]}.json").read_text(encoding="utf-8"))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / f"{SAMPLE_TASKS[0]}.json").write_text(json.dumps({**task, "Positive Examples": []}))
    with pytest.raises(DataError, match="'Positive Examples' is empty"):
        copy_demo_predictions(tmp_path, derived, SAMPLE_TASKS[:1])


# --- the report -------------------------------------------------------------------------------


def _metrics(per_task: dict[str, tuple[str, float, int]]) -> dict:
    """A metrics.json dict from {task: (category key, rougeL, n)}; EM is rougeL / 2."""
    per_task = {
        t: {"rougeL": r, "exact_match": r / 2, "n": n, "category": c} for t, (c, r, n) in per_task.items()
    }
    return pool_stl([{"per_task": per_task}])


@pytest.fixture(scope="module")
def settings() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())["gupta2023"]["settings"]


@pytest.fixture(scope="module")
def report(settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gupta_report")
    stl = {
        "baseline1": {
            "taskA": _metrics({"taskA": ("answerability_classification", 50.0, 2)}),
            "taskB": _metrics({"taskB": ("word_analogy", 80.0, 1)}),
            "taskC": _metrics({"taskC": ("keyword_tagging", 20.0, 3)}),
        },
        "tk-instruct-100": {"taskA": {"status": "not run"}},
    }
    mtl = {
        "tk-instruct-1000": _metrics(
            {"taskA": ("answerability_classification", 70.0, 2), "taskB": ("title_generation", 40.0, 2)}
        )
    }
    anchors = {"copy_input": _metrics({"taskA": ("answerability_classification", 12.5, 4)})}
    write_gupta_report(
        stl, mtl, anchors, RESULTS, CATEGORIES, out, settings=settings, anchors_csv=ANCHORS, text_csv=TEXT
    )
    return out


def test_report_writes_every_file(report):
    tables = [f"tables/{t}.{ext}" for t in ("table5_1", "table5_2", "headline") for ext in ("csv", "md")]
    figures = [f"figures/figure5_{i}.png" for i in (1, 2, 3, 4)]
    assert sorted(str(p.relative_to(report)) for p in report.rglob("*") if p.is_file()) == sorted(
        tables + figures
    )
    for figure in figures:
        assert (report / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(report / figure) as image:
            image.verify()


def _row(table: pd.DataFrame, **keys) -> pd.Series:
    match = table.loc[(table[list(keys)] == pd.Series(keys)).all(axis=1)]
    assert len(match) == 1, keys
    return match.iloc[0]


def test_headline_has_ours_beside_the_thesis(report):
    table = pd.read_csv(report / "tables" / "headline.csv", dtype={"samples_per_task": str})
    row = _row(table, paradigm="stl", setting="baseline1")
    assert (row["paper"], row["ours"], row["status"]) == (64.29, 40.0, "ok")  # (2*50 + 80 + 3*20) / 6
    assert row["diff"] == pytest.approx(40.0 - 64.29)
    assert (row["exact_match"], row["n_tasks"], row["n_examples"]) == (20.0, 3, 6)
    mtl = _row(table, paradigm="mtl", setting="tk-instruct-1000")
    assert (mtl["paper"], mtl["ours"], mtl["status"]) == (73.14, 55.0, "ok")
    anchor = _row(table, setting="copy_input")
    # the anchors' numbers are the Tk-Instruct README's, never the thesis's (issue 24 item 4)
    assert (anchor["reference"], anchor["ours"]) == (14.20, 12.5) and pd.isna(anchor["paper"])
    assert anchor["reference_source"] == "Tk-Instruct README" and not anchor["in_paper"]
    assert anchor["diff"] == pytest.approx(12.5 - 14.20)
    for paradigm, setting in (
        ("stl", "tk-instruct-100"),
        ("stl", "tk-instruct-all"),
        ("mtl", "baseline1"),
        ("no training", "copy_demo"),
    ):
        row = _row(table, paradigm=paradigm, setting=setting)
        known = row["paper"] if paradigm != "no training" else row["reference"]
        assert row["status"] == "not run" and pd.isna(row["ours"]) and pd.notna(known)
    assert pd.isna(_row(table, paradigm="stl", setting="tk-instruct-500")["paper"])  # not in the thesis
    md = (report / "tables" / "headline.md").read_text()
    assert "64.29" in md and "40.00" in md and "-24.29" in md and "not run" in md
    header = next(line for line in md.splitlines() if line.startswith("| paradigm "))
    copy_demo = next(line for line in md.splitlines() if "| copy_demo " in line)
    cells = dict(zip((c.strip() for c in header.split("|")), (c.strip() for c in copy_demo.split("|"))))
    assert [cells[c] for c in ("thesis", "ours", "reference (not the thesis)")] == [
        "not in thesis",
        "not run",
        "28.54 (Tk-Instruct README)",
    ]


def test_the_anchors_references_name_the_tk_instruct_readme():
    table = pd.read_csv(ANCHORS, comment="#")
    assert dict(zip(table["method"], table["rougeL"])) == {"copy_input": 14.20, "copy_demo": 28.54}
    assert set(table["source"]) == {"Tk-Instruct README"}


# every Tk-Instruct category number of Chapter 5's text: (paradigm, samples, column) -> ROUGE-L
THESIS_TEXT = {
    ("stl", "1000", "answerability_classification"): 75.15,
    ("stl", "all", "answerability_classification"): 74.38,
    ("stl", "100", "coreference_resolution"): 75.74,
    ("stl", "200", "coreference_resolution"): 74.25,
    ("stl", "best", "answerability_classification"): 75.15,
    ("stl", "best", "title_generation"): 44.55,
    ("stl", "best", "coreference_resolution"): 82.82,
    ("stl", "best", "data_to_text"): 59.06,
    ("stl", "mean", "coreference_resolution"): 78.23,
    ("stl", "mean", "data_to_text"): 57.88,
    ("stl", "mean", "question_rewriting"): 70.51,
    ("stl", "mean", "answerability_classification"): 74.10,
    ("stl", "mean", "title_generation"): 43.36,
    ("mtl", "1000", "data_to_text"): 58.83,
    ("mtl", "all", "data_to_text"): 53.28,
    ("mtl", "1000", "title_generation"): 43.94,
    ("mtl", "all", "title_generation"): 38.16,
    ("mtl", "best", "textual_entailment"): 84.16,
    ("mtl", "mean", "textual_entailment"): 81.93,
    ("mtl", "mean", "answerability_classification"): 75.97,
    ("mtl", "mean", "question_rewriting"): 67.38,
    ("mtl", "mean", "title_generation"): 43.99,
}


def test_the_thesis_text_values_of_tk_instruct_are_transcribed():
    from ftrepro.papers.gupta2023.report import read_text_values

    values = read_text_values(TEXT)
    found = {(r["setting"], r["samples_per_task"], r["column"]): r["rougeL"] for _, r in values.iterrows()}
    assert found == THESIS_TEXT
    thesis = (REPO.parent / "shared" / "papers" / "gupta2023-instruction-tuned-quick-learners.md").read_text()
    chapter5 = thesis[thesis.index("## 5.1 Results") : thesis.index("## Chapter 6")]
    assert all(f"{value:.2f}" in chapter5 for value in THESIS_TEXT.values())


def test_tables_5_1_and_5_2_list_the_text_values_beside_ours(report):
    md = (report / "tables" / "table5_2.md").read_text()
    section = md.split("## Tk-Instruct in the thesis's text")[1]
    # MTL tk-instruct-1000's title generation is ours: 40.0
    assert re.search(r"\| 1000 +\| Title Generation +\| 43\.94 +\| 40\.00 +\| Figure 5\.4 caption", section)
    assert re.search(r"\| best +\| Textual Entailment +\| 84\.16 +\| not run +\|", section)
    assert re.search(
        r"\| mean +\| Title Generation +\| 43\.99 +\| 40\.00 +\|", section
    )  # our one setting run


def test_figures_5_2_and_5_4_draw_the_text_values(settings, tmp_path):
    from matplotlib.figure import Figure

    import ftrepro.papers.gupta2023.report as report_module

    drawn = []
    original = report_module.save_figure

    def keep(fig: Figure, path, **kwargs):
        labels = {h.get_label() for ax in fig.axes for h in [*ax.lines, *ax.collections]}
        drawn.append((path.name, labels))
        original(fig, path, **kwargs)

    report_module.save_figure = keep
    try:
        write_gupta_report({}, {}, {}, RESULTS, CATEGORIES, tmp_path, settings=settings, text_csv=TEXT)
    finally:
        report_module.save_figure = original
    labels = dict(drawn)
    for figure in ("figure5_2.png", "figure5_4.png"):
        assert {
            "Tk-Instruct (thesis text)",
            "Tk-Instruct best (thesis text)",
            "Tk-Instruct mean (thesis text)",
        } <= labels[figure]
    assert "Tk-Instruct (thesis text)" not in labels["figure5_1.png"]


def test_table_5_1_category_cells(report):
    table = pd.read_csv(report / "tables" / "table5_1.csv")
    answerability = _row(table, setting="baseline1", column="answerability_classification")
    assert (answerability["paper"], answerability["ours"], answerability["n_examples"]) == (70.38, 50.0, 2)
    other = _row(table, setting="baseline1", column="other_categories")
    assert (other["paper"], other["ours"], other["n_examples"]) == (72.31, 35.0, 4)  # (80 + 3*20) / 4
    absent = _row(table, setting="baseline1", column="title_generation")
    assert (absent["paper"], absent["status"]) == (44.71, "not run")
    assert set(table[table["setting"] == "baseline3"]["status"]) == {"not run"}
    assert table[table["setting"].str.startswith("tk-instruct")]["paper"].isna().all()  # no thesis table
    md = (report / "tables" / "table5_1.md").read_text()
    assert "70.38 / 50.00 (-20.38)" in md and "44.71 / not run" in md and "– / not run" in md


def test_table_5_2_mtl(report):
    table = pd.read_csv(report / "tables" / "table5_2.csv")
    assert _row(table, setting="tk-instruct-1000", column="title_generation")["ours"] == 40.0
    baseline = _row(table, setting="baseline2", column="coreference_resolution")
    assert (baseline["paper"], baseline["status"]) == (81.93, "not run")
    assert "81.93 / not run" in (report / "tables" / "table5_2.md").read_text()


def test_report_with_nothing_run(settings, tmp_path):
    headline = write_gupta_report({}, {}, {}, RESULTS, CATEGORIES, tmp_path, settings=settings)
    assert set(headline["status"]) == {"not run"}
    assert (tmp_path / "figures" / "figure5_4.png").stat().st_size > 0


def test_every_table_names_the_stand_ins(settings, tmp_path):
    stand_ins = {"tk-instruct-3b": "SmolLM2-135M-Instruct"}
    write_gupta_report({}, {}, {}, RESULTS, CATEGORIES, tmp_path, settings=settings, stand_ins=stand_ins)
    for table in ("headline", "table5_1", "table5_2"):
        text = (tmp_path / "tables" / f"{table}.md").read_text()
        assert "Stand-ins: this preset trains SmolLM2-135M-Instruct under tk-instruct-3b." in text


def test_report_rejects_unknown_settings_and_unmatched_targets(settings, tmp_path):
    with pytest.raises(DataError, match="unknown MTL settings"):
        write_gupta_report({}, {"tk-instruct-7": {}}, {}, RESULTS, CATEGORIES, tmp_path, settings=settings)
    without = {k: v for k, v in settings.items() if k != "baseline3"}
    with pytest.raises(
        DataError, match="gupta2023_results.csv: row .*baseline3-t5-3b.* matches no gupta2023 setting"
    ):
        write_gupta_report({}, {}, {}, RESULTS, CATEGORIES, tmp_path, settings=without)


def test_group_runs_splits_run_names():
    m = {"rougeL": 1.0}
    stl, mtl, anchors = group_runs(
        {"stl.task1.baseline1": m, "mtl.tk-instruct-100": m, "anchor.copy_input": m}
    )
    assert (stl, mtl, anchors) == ({"baseline1": {"task1": m}}, {"tk-instruct-100": m}, {"copy_input": m})
    with pytest.raises(ValueError, match="not a gupta2023 run name"):
        group_runs({"stl.baseline1": m})


def test_targets_with_a_duplicate_row_are_rejected(settings, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text(RESULTS.read_text() + "stl,tk-instruct-3b,100,1.0\n")
    with pytest.raises(DataError, match="results.csv: duplicate row .*tk-instruct-3b"):
        write_gupta_report({}, {}, {}, results, CATEGORIES, tmp_path / "out", settings=settings)


def test_a_setting_the_thesis_has_not_reads_not_in_thesis(settings, tmp_path):
    """A setting added to the config is in every table; without any thesis number it is marked."""
    added = {**settings, "tk-instruct-50": {"model": "tk-instruct-3b", "samples": 50, "instructions": True}}
    added = {name: {"init": "pretrained", **s} for name, s in added.items()}
    mtl = {"tk-instruct-50": _metrics({"taskA": ("answerability_classification", 30.0, 2)})}
    headline = write_gupta_report({}, mtl, {}, RESULTS, CATEGORIES, tmp_path, settings=added)
    row = _row(headline, paradigm="mtl", setting="tk-instruct-50")
    assert (row["in_paper"], row["ours"]) == (False, 30.0) and pd.isna(row["paper"])
    assert _row(headline, paradigm="mtl", setting="tk-instruct-100")["in_paper"]
    md = (tmp_path / "tables" / "headline.md").read_text()
    line = next(line for line in md.splitlines() if "| mtl " in line and "tk-instruct-50 " in line)
    assert [cell.strip() for cell in line.split("|")[4:6]] == ["not in thesis", "30.00"]
    table = (tmp_path / "tables" / "table5_2.md").read_text()
    assert "not in thesis / 30.00" in table and "– / not run" in table  # tk-instruct-100: no category table


# --- intervals and verdicts ---------------------------------------------------------------------


def _scored(per_task: dict[str, tuple[str, float, int, float]]) -> dict:
    """A metrics.json dict with intervals from {task: (category key, rougeL, n, standard error)}."""
    per_task = {
        t: {
            "rougeL": r,
            "exact_match": r / 2,
            "n": n,
            "category": c,
            "ci": {"rougeL": [r - 2 * se, r + 2 * se], "exact_match": [r / 2 - se, r / 2 + se]},
            "se": {"rougeL": se, "exact_match": se / 2},
        }
        for t, (c, r, n, se) in per_task.items()
    }
    return pool_stl([{"per_task": per_task}])


def test_pooled_cells_carry_intervals_and_verdicts_against_the_thesis(settings, tmp_path):
    stl = {
        "baseline1": {
            "taskA": _scored({"taskA": ("answerability_classification", 62.0, 100, 3.0)}),
            "taskB": _scored({"taskB": ("word_analogy", 66.0, 300, 2.0)}),
        }
    }
    mtl = {"tk-instruct-1000": {**_scored({"taskA": ("title_generation", 72.0, 100, 2.0)})}}
    headline = write_gupta_report(stl, mtl, {}, RESULTS, CATEGORIES, tmp_path, settings=settings,
                                  verdicts=Verdicts("paper", {"rougeL": 0.005}))  # fmt: skip
    pooled = _row(headline, paradigm="stl", setting="baseline1")
    se = math.sqrt((100 / 400 * 3.0) ** 2 + (300 / 400 * 2.0) ** 2)  # the strata's, weighted
    assert pooled["ours"] == 65.0 and (pooled["ci_lo"], pooled["ci_hi"]) == pytest.approx(
        (65.0 - 1.959964 * se, 65.0 + 1.959964 * se)
    )
    assert pooled["verdict"] == "reproduced"  # the thesis's 64.29 lies in 65.0 +- 3.29
    one_task = _row(headline, paradigm="mtl", setting="tk-instruct-1000")
    assert (one_task["ci_lo"], one_task["ci_hi"], one_task["verdict"]) == (68.0, 76.0, "reproduced")  # 73.14
    assert (
        _row(headline, paradigm="stl", setting="tk-instruct-500")["verdict"] == "not run"
    )  # no thesis number either
    table = pd.read_csv(tmp_path / "tables" / "table5_1.csv")
    answerability = _row(table, setting="baseline1", column="answerability_classification")
    assert (answerability["ci_lo"], answerability["ci_hi"], answerability["verdict"]) == (56.0, 68.0, "below")
    md = (tmp_path / "tables" / "headline.md").read_text()
    line = next(line for line in md.splitlines() if "| stl " in line and "| baseline1 " in line)
    assert [cell.strip() for cell in line.split("|")[4:8]] == ["64.29", "65.00 ±3.29", "+0.71", "reproduced"]
    assert (
        md.rstrip().endswith("not run.") and "**Verdicts:** 2 reproduced, 0 below, 0 above of 2 cells" in md
    )
    assert (
        "**Verdicts:** 0 reproduced, 2 below, 0 above of 2 cells"
        in (tmp_path / "tables" / "table5_1.md").read_text()
    )


def test_the_figures_draw_our_intervals_as_error_bars():
    from matplotlib.container import ErrorbarContainer
    from matplotlib.figure import Figure

    from ftrepro.papers.gupta2023.report import _plot_series

    rows = pd.DataFrame(
        {
            "samples_per_task": ["100", "1000", "200"],
            "instructions": [True, True, False],
            "setting": ["tk-instruct-100", "tk-instruct-1000", "baseline1"],
            "paper": [60.0, 70.0, 64.0],
            "ours": [58.0, 69.0, 61.0],
            "ci_lo": [55.0, 67.0, 59.5],
            "ci_hi": [61.0, 71.0, 62.5],
        }
    )
    ax = Figure().subplots()
    _plot_series(ax, rows)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # Tk-Instruct's line and the baseline's point
    segments = [seg for bar in bars for seg in bar.lines[2][0].get_segments()]
    assert sorted((round(s[0][1], 1), round(s[1][1], 1)) for s in segments) == [
        (55.0, 61.0), (59.5, 62.5), (67.0, 71.0)
    ]  # fmt: skip


# --- Figure 1.1 and the §5.2.5 case study ---------------------------------------------------------


def test_the_fewshot_run_is_a_headline_row_against_the_thesis_s_54_30(settings, tmp_path):
    fewshot = _scored({"taskA": ("answerability_classification", 52.0, 100, 2.0)})
    headline = write_gupta_report(
        {}, {}, {}, RESULTS, CATEGORIES, tmp_path, settings=settings, verdicts=Verdicts(), fewshot=fewshot
    )
    row = _row(headline, paradigm="fewshot", setting="tk-instruct-3b")
    assert (row["paper"], row["ours"], row["samples_per_task"], row["status"]) == (54.30, 52.0, "0", "ok")
    assert (row["ci_lo"], row["ci_hi"]) == (48.0, 56.0) and row["verdict"] == "reproduced"
    headline = write_gupta_report({}, {}, {}, RESULTS, CATEGORIES, tmp_path / "none", settings=settings)
    assert _row(headline, paradigm="fewshot")["status"] == "not run"


def test_figure_1_1_sets_ours_beside_the_thesis_s_four_rows(settings, tmp_path):
    from ftrepro.papers.gupta2023.figure1 import write_figure1

    mtl = {"tk-instruct-200": _scored({"taskA": ("answerability_classification", 60.0, 100, 1.0)})}
    fewshot = _scored({"taskA": ("answerability_classification", 54.0, 100, 1.0)})
    headline = write_gupta_report(
        {}, mtl, {}, RESULTS, CATEGORIES, tmp_path, settings=settings, fewshot=fewshot
    )
    table = write_figure1(headline, tmp_path, basis="paper")
    assert table["paper"].tolist() == [54.30, 70.40, 73.14, 70.99]  # its caption and §1.2
    assert table["ours_run"].tolist() == [
        "fewshot.tk-instruct-3b",
        "mtl.tk-instruct-200",
        "mtl.tk-instruct-1000",
        "stl.baseline3",
    ]
    assert table["ours"].tolist()[:2] == [54.0, 60.0] and table["status"].tolist()[2:] == ["not run"] * 2
    assert table["verdict"].tolist()[:2] == ["reproduced", "below"]
    md = (tmp_path / "tables" / "figure1_1_table.md").read_text()
    assert "Few-shot inference" in md and "54.00 ±2.0" in md and "not run" in md
    with Image.open(tmp_path / "figures" / "figure1_1.png") as image:
        image.verify()


def test_the_case_study_reads_each_task_s_pair_from_the_thesis_and_ours_per_task(tmp_path):
    from ftrepro.papers.gupta2023.case_study import case_study_table, read_case_study

    targets = read_case_study(REPO / "config" / "targets" / "gupta2023_case_study.csv")
    assert dict(
        zip(targets["task"].str.split("_").str[0], zip(targets["tk_instruct"], targets["baseline"]))
    ) == {
        "task602": (0.01, 0.38),
        "task1356": (0.03, 0.33),
        "task1540": (0.27, 0.40),
        "task233": (0.63, 0.99),
        "task242": (0.63, 0.99),
    }
    assert targets["tokens"].tolist()[:4] == [1192, 1256, 781, 648] and pd.isna(targets["tokens"].iloc[4])
    task = "task242_tweetqa_classification"
    case = {"setting": "tk-instruct-1000", "baseline": "baseline2", "ablation_task": task}
    pair = (f"stl.{task}.tk-instruct-1000", f"ablation.{task}.tk-instruct-1000.def-pos1-neg1")
    metrics = {
        pair[0]: _scored({task: ("answerability_classification", 70.0, 100, 2.0)}),
        pair[1]: _scored({task: ("answerability_classification", 99.0, 100, 0.5)}),
        "mtl.baseline2": _scored({task: ("answerability_classification", 98.0, 100, 1.0)}),
    }
    table = case_study_table(targets, metrics, case_study=case, ablation=pair, verdicts=Verdicts())
    rows = table[table["task"] == task].set_index("column")
    assert rows.loc["Tk-Instruct STL (tk-instruct-1000)", ["paper", "ours"]].tolist() == [0.63, 0.70]
    assert rows.loc["baseline MTL (baseline2)", ["paper", "ours", "verdict"]].tolist() == [
        0.99,
        0.98,
        "reproduced",
    ]
    assert rows.loc["ablation: def-pos1-neg1", ["paper", "ours", "run"]].tolist() == [1.00, 0.99, pair[1]]
    assert rows.loc["ablation: def-pos", "run"] == pair[0]  # the STL run where the matrix holds it
    assert rows.loc["Tk-Instruct MTL (tk-instruct-1000)", "status"] == "not run"
    assert set(table.loc[table["task"] != task, "status"]) == {"not run"}  # tasks with no run


def test_a_case_study_without_measured_prompt_lengths_says_so(tmp_path):
    """A partial report on a fresh checkout has no derived data to measure prompts on: its case
    study still comes out, our token column "not run" and the note saying why."""
    from ftrepro.papers.gupta2023.case_study import write_case_study

    task = "task242_tweetqa_classification"
    case = {"setting": "tk-instruct-1000", "baseline": "baseline2", "ablation_task": task}
    pair = (f"stl.{task}.tk-instruct-1000", f"ablation.{task}.tk-instruct-1000.def-pos1-neg1")
    table = write_case_study(
        REPO / "config" / "targets" / "gupta2023_case_study.csv",
        None,
        {pair[0]: _scored({task: ("answerability_classification", 70.0, 100, 2.0)})},
        tmp_path,
        case_study=case,
        ablation=pair,
        tokenizer_model="tk-instruct-3b",
    )
    assert not table.empty
    md = (tmp_path / "tables" / "case_study.md").read_text()
    rows = [line.split("|") for line in md.splitlines() if line.startswith("| task") and "_" in line]
    assert len(rows) == 5 and {row[3].strip() for row in rows} == {"not run"}  # tokens (ours)
    assert "ours are not measured in this report" in md
