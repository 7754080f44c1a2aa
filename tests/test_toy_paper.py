"""A fourth paper costs one package: tests/papers/toy2099 (its job table, config section, rules file,
scorer and targets CSV), registered by its config.yaml and found on the Python path, joins the DAG,
the plan, the console's notion of papers and stages, the scoring and the report without a change
to any shared module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO, job_stats, snakemake

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.evaluate import score_run
from ftrepro.io import write_jsonl
from ftrepro.papers import deviations
from ftrepro.plan import plan, training_jobs
from ftrepro.report.html import build_report

TOY = Path(__file__).parent / "papers" / "toy2099"
TOY_CONFIG = TOY / "config.yaml"


@pytest.fixture
def tiny(monkeypatch) -> cfg.Config:
    monkeypatch.syspath_prepend(str(TOY.parent))
    monkeypatch.chdir(REPO)  # config paths are relative to the workflow directory
    return cfg.load(
        REPO / "config" / "config.yaml", {"preset": "tiny", **yaml.safe_load(TOY_CONFIG.read_text())}
    )


def encoders() -> list[str]:
    """The toy paper's own definition: one run per encoder its section lists."""
    return yaml.safe_load(TOY_CONFIG.read_text())["toy2099"]["encoders"]


def test_the_dag_runs_the_fourth_paper_beside_the_three(workdir):
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(TOY.parent)])}
    toy = ["--profile", "profiles/local", "--configfile", str(TOY_CONFIG), "--config", "preset=tiny"]
    result = snakemake(["results/tiny/report.html", "-n", *toy], workdir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout + result.stderr)
    assert stats["fit_toy2099"] == len(encoders()) and stats["toy2099_report"] == 1
    assert stats["zhao2025_table3"] == stats["gupta2023_report"] == stats["band2025_report"] == 1
    out = result.stdout + result.stderr
    assert "results/tiny/toy2099/roberta-base.majority/metrics.json" in out  # scored
    html = out[out.index("rule html_report:") :]
    assert "results/tiny/toy2099/tables/summary.md" in html[: html.index("output:")]
    # its id is a target, as the three papers' are
    result = snakemake(["toy2099", "-n", *toy], workdir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_stats(result.stdout + result.stderr)["toy2099"] == 1


def test_the_plan_sizes_its_jobs(tiny):
    rows = [row for row in plan(tiny) if row.paper == "toy2099"]
    assert sorted(row.job for row in rows) == sorted(
        f"results/tiny/toy2099/{encoder}.majority/predictions.jsonl" for encoder in encoders()
    )
    assert all(row.model in encoders() for row in rows)


def test_the_console_knows_its_rules_paper_and_stage(tiny):
    assert papers.ids(tiny)[-1] == "toy2099"
    rules = papers.rules(tiny)
    assert (rules["fit_toy2099"].paper, rules["fit_toy2099"].stage) == ("toy2099", "fit")
    assert (rules["toy2099_report"].paper, rules["toy2099_report"].stage) == ("toy2099", "report")
    assert {rule.paper for rule in rules.values()} == {"zhao2025", "gupta2023", "band2025", "toy2099"}


def test_its_runs_are_scored_by_its_own_scorer(tiny, tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(
        path, [{"id": i, "gold": {"intent": "a"}, "pred": {"intent": p}} for i, p in enumerate("aab")]
    )
    metrics = score_run(papers.registered(tiny)["toy2099"].scoring(), path)
    assert metrics["intent_accuracy"] == pytest.approx(200 / 3) and metrics["n_examples"] == 3


def test_the_report_has_a_section_for_it(tiny, tmp_path):
    table = tmp_path / "results" / "toy2099" / "tables" / "summary.md"
    table.parent.mkdir(parents=True)
    table.write_text("| run | ours |\n|---|---|\n| roberta-base.majority | 4.7 |\n")
    registered = papers.registered(tiny)
    page = build_report(
        tmp_path / "results" / "report.html",
        preset=tiny.preset,
        papers={
            p: {"title": r.title, "tables": r.tables, "figures": r.figures} for p, r in registered.items()
        },
        runs={paper: papers.runs(tiny, paper, with_api=False) for paper in registered},
        shared={paper: papers.shared_runs(tiny, paper) for paper in registered},
        verdicts={p: {"basis": papers.verdict_basis(tiny, p), "tolerance": {}} for p in registered},
        deviations={paper: deviations.section(tiny, paper) for paper in registered},
        results_dir=tmp_path / "results",
        logs_dir=tmp_path / "logs",
        plan_path=None,
        stats_path=None,
    ).read_text()
    assert '<section class="paper" id="toy2099">' in page and "<td>4.7</td>" in page
    assert "roberta-base.majority" in page and registered["toy2099"].title in page
    assert "<li>toy2099: verdicts meaningless at preset tiny" in page  # its table has no verdicts


def test_it_needs_no_deviation_registry_and_no_training_job(tiny):
    """The registry and the layouts are the papers' that have them: the toy paper has neither."""
    assert deviations.section(tiny, "toy2099") == "" and deviations.problems(tiny, "toy2099") == []
    assert deviations.section(tiny, "zhao2025")  # the three papers keep theirs
    laid_out = training_jobs(tiny)
    assert laid_out and not any(output.startswith("results/tiny/toy2099/") for output in laid_out)
