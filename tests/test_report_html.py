"""results/report.html from a small results tree: preset in words, each paper's tables and figures,
run provenance with GPU-hours planned, and the page in headless Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import REPO
from matplotlib.figure import Figure

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.io import write_json
from ftrepro.report.browser import check_page, find_chromium
from ftrepro.report.html import build_report, read_plan

TINY = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
# each paper's heading, tables and figures, as the html_report rule passes them
PAPERS = {
    paper: {"title": p.title, "tables": p.tables, "figures": p.figures}
    for paper, p in papers.registered(TINY).items()
}


def _png(path: Path) -> None:
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """results/ and logs/ as a tiny run leaves them, for a few runs."""
    monkeypatch.chdir(REPO)  # config paths (the SuperNI task list) are relative to the repository
    for paper, files in PAPERS.items():
        for name in files["tables"]:
            md = tmp_path / "results" / paper / "tables" / f"{name}.md"
            md.parent.mkdir(parents=True, exist_ok=True)
            md.write_text(
                f"# {paper} {name}\n\nSome text.\n\n| model | ours |\n|---|---|\n| m | 1.0 (+0.5) |\n"
            )
            md.with_suffix(".csv").write_text("model,ours\nm,1.0\n")
        for name in files["figures"]:
            _png(tmp_path / "results" / paper / "figures" / f"{name}.png")
    (tmp_path / "results/data").mkdir(parents=True)
    (tmp_path / "results/data/stats.md").write_text(
        "# Data\n\n| dataset | rows |\n|---|---|\n| massive | 3 |\n"
    )
    run = "20ng-7class.llama2-7b.zero-shot.ft"
    write_json(
        tmp_path / "results/zhao2025" / run / "metrics.json", {"7class_accuracy": 91.25, "n_examples": 4}
    )
    log = tmp_path / "logs/zhao2025/fit" / f"{run}.log"
    log.parent.mkdir(parents=True)
    log.write_text("trained\n")
    write_json(
        log.with_name(f"{run}.provenance.json"),
        {
            "status": "ok",
            "wall_s": 12.5,
            "gpu_hours": 0.0,
            "git_commit": "0123456789abcdef-dirty",
            "config_hash": "abcdefabcdef",
            "preset": "tiny",
            "packages": {"torch": "2.13.0"},
            "hardware": {"cpu_count": 2},
        },
    )
    return tmp_path


def _report(tree: Path, plan: Path | None = None, config: cfg.Config = TINY, **extra) -> str:
    out = build_report(
        tree / "results/report.html",
        preset=config.preset,
        papers=PAPERS,
        runs={paper: papers.runs(config, paper, with_api=False) for paper in PAPERS},
        shared={paper: papers.shared_runs(config, paper) for paper in PAPERS},
        stand_ins={paper: papers.stand_ins(config, paper) for paper in PAPERS},
        results_dir=tree / "results",
        logs_dir=tree / "logs",
        plan_path=plan,
        stats_path=tree / "results/data/stats.md",
        **extra,
    )
    return out.read_text()


def test_the_report_states_the_preset_and_holds_every_paper(tree):
    page = _report(tree)
    assert "Preset: tiny." in page and "not a reproduction of the papers" in page
    for paper in PAPERS:
        assert f'<section class="paper" id="{paper}">' in page
    # gupta2023's Figures 1.1 and 5.1-5.4, band2025's Figures 10 and 11
    assert page.count("data:image/png;base64,") == sum(len(p["figures"]) for p in PAPERS.values()) == 7
    assert "<td>1.0 (+0.5)</td>" in page and "<td>massive</td>" in page  # tables rendered
    assert 'href="zhao2025/tables/table3.csv"' in page


def test_each_paper_names_the_stand_ins_behind_its_models(tree):
    page = _report(tree)
    for paper in PAPERS:
        assert f'<table class="stand-ins" id="{paper}-stand-ins">' in page
    stand_in = papers.stand_ins(TINY, "zhao2025")["roberta-base"]
    assert f"<tr><td><code>roberta-base</code></td><td>{stand_in}</td></tr>" in page


def test_each_run_has_provenance_and_shared_runs_name_their_model(tree):
    page = _report(tree)
    run = "20ng-7class.llama2-7b.zero-shot.ft"
    assert f'href="../logs/zhao2025/fit/{run}.log"' in page
    assert "7class_accuracy 91.25" in page and "12.5 s" in page and "0123456789ab" in page
    assert "(uncommitted changes)" in page and "abcdefabcdef" in page
    assert "torch 2.13.0" in page and "2 CPUs" in page  # package versions and hardware per run
    # llama3-8b resolves to llama2-7b's model in the tiny preset
    assert f"shares <code>{run}</code>" in page
    assert "not planned" in page


def test_gpu_hours_planned_come_from_the_plan_when_there_is_one(tree):
    plan = tree / "results/plan.tsv"
    run = "20ng-7class.llama2-7b.zero-shot.ft"
    plan.write_text(
        "paper\tjob\tmodel\tgpu_hours\n"
        f"zhao2025\tresults/tiny/zhao2025/{run}/predictions.jsonl\tllama2-7b\t3.5\n"
        "gupta2023\tresources/tiny/models/gupta2023/prefinetuned\tt5-3b\t1.0\n"
    )
    assert read_plan(plan) == {("zhao2025", run): 3.5}
    assert read_plan(tree / "nothing.tsv") is None
    page = _report(tree, plan)
    assert "<td>3.50</td>" in page


@pytest.mark.skipif(find_chromium() is None, reason="no chromium (make setup installs Debian's)")
def test_chromium_opens_the_report_and_finds_nothing_broken(tree):
    _report(tree)
    page = check_page(tree / "results/report.html", screenshot=tree / "results/report.png")
    assert page.problems == [] and page.images == 7  # every paper's figures
    assert (tree / "results/report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(find_chromium() is None, reason="no chromium (make setup installs Debian's)")
def test_the_browser_check_fails_on_what_a_reader_would_hit(tmp_path):
    (tmp_path / "page.html").write_text(
        '<html><head><title>t</title></head><body><img src="missing.png"><a href="gone.txt">x</a>'
        '<script>console.error("boom")</script></body></html>'
    )
    page = check_page(tmp_path / "page.html")
    assert "console: boom" in page.problems
    assert any(p.startswith("broken image:") for p in page.problems)
    assert f"broken link: {(tmp_path / 'gone.txt').as_uri()}" in page.problems
    assert os.path.exists(tmp_path / "page.html")


def _verdict_report(tree: Path, preset: str, basis: str) -> str:
    out = build_report(
        tree / "results/report.html",
        preset=preset,
        papers=PAPERS,
        runs={paper: papers.runs(TINY, paper, with_api=False) for paper in PAPERS},
        shared={paper: papers.shared_runs(TINY, paper) for paper in PAPERS},
        verdicts={paper: {"basis": basis, "tolerance": {}} for paper in PAPERS},
        results_dir=tree / "results",
        logs_dir=tree / "logs",
        stats_path=tree / "results/data/stats.md",
    )
    return out.read_text()


def test_the_report_opens_with_the_verdicts_of_each_paper(tree):
    verdicts = ["reproduced", "below", "reproduced", "above", "no paper number", "not run"]
    csv = "ours,verdict\n" + "".join(f"1.0,{verdict}\n" for verdict in verdicts)
    (tree / "results/zhao2025/tables/table3.csv").write_text(csv)
    run = tree / "results/zhao2025/20ng-7class.llama2-7b.zero-shot.ft/metrics.json"
    write_json(run, {"7class_accuracy": 91.25, "n_examples": 400, "ci": {"7class_accuracy": [88.5, 93.75]}})
    page = _verdict_report(tree, "mini", "stand-ins")
    assert "7class_accuracy 91.25 ±2.6" in page  # the run's row shows its interval too
    lines = page[page.index('<ul class="verdicts"') : page.index("</ul>")]
    assert (
        "<li>zhao2025: 2 reproduced, 1 below, 1 above of 4 cells at preset mini (stand-in models: " in lines
    )
    assert (
        "<li>band2025: 0 reproduced, 0 below, 0 above of 0 cells at preset mini" in lines
    )  # no verdict column
    assert page.index('id="verdicts"') < page.index('<section class="paper"')  # the report opens with them


def test_the_tiny_report_says_its_verdicts_are_meaningless(tree):
    bases = {papers.verdict_basis(TINY, paper) for paper in PAPERS}
    assert bases == {"meaningless"}  # synthetic data, random tiny models
    (tree / "results/zhao2025/tables/table3.csv").write_text("ours,verdict\n1.0,meaningless\n2.0,not run\n")
    page = _verdict_report(tree, "tiny", bases.pop())
    assert (
        "<li>zhao2025: verdicts meaningless at preset tiny (synthetic data or randomly initialised models"
        in page
    )
    assert "; 1 of 2 cells run</li>" in page
    assert "reproduced" not in page


# --- what the data was, and the deviations (issue 24) ------------------------------------------


@pytest.mark.parametrize("preset", ["mini", "paper"])
def test_the_banner_names_synthetic_data_and_never_claims_real_data_for_it(tree, preset):
    config = cfg.load(REPO / "config" / "config.yaml", {"preset": preset, "data": {"source": "synthetic"}})
    page = _report(tree, config=config, synthetic=True)
    banner = page.split('id="preset">')[1].split("</div>")[0]
    assert "<strong>Synthetic data.</strong>" in banner and "synthetic data (generated" in banner
    assert "real data" not in banner and "full data" not in banner and "reproduction attempt" not in banner
    assert "synthetic data" in page.split('id="provenance"')[1]
    real = _report(tree, config=cfg.load(REPO / "config" / "config.yaml", {"preset": preset}))
    assert "Synthetic data" not in real.split('id="preset">')[1].split("</div>")[0]
    assert "the papers&#39; real datasets" in real


def test_each_paper_section_lists_its_deviations_once(tree):
    from ftrepro.papers import deviations

    for paper, files in PAPERS.items():  # the tables carry the section too: the report shows it once
        for name in files["tables"]:
            md = tree / "results" / paper / "tables" / f"{name}.md"
            md.write_text(md.read_text() + f"\n{deviations.section(TINY, paper)}")
    page = _report(tree, deviations={paper: deviations.section(TINY, paper) for paper in PAPERS})
    for paper in PAPERS:
        section = page.split(f'<section class="paper" id="{paper}">')[1].split("</section>")[0]
        assert f'<div class="deviations" id="{paper}-deviations">' in section
        assert section.count(f"Deviations from the paper ({paper}, preset tiny)") == 1
    assert "<td>tiny-demo</td>" in page and "<td>held-out-test</td>" in page


def test_each_run_names_the_data_it_read(tree):
    run = "20ng-7class.llama2-7b.zero-shot.ft"
    provenance = tree / "logs/zhao2025/fit" / f"{run}.provenance.json"
    record = json.loads(provenance.read_text())
    record["data"] = {"source": "local", "raw_sha256sums": {"20newsgroups": "ab" * 32}}
    write_json(provenance, record)
    assert "<td>local (SHA256SUMS 20newsgroups abababababab)</td>" in _report(tree)


# --- at a glance (issue 29 items 2 and 6) ---------------------------------------------------------


def _second_run(tree: Path, **differs) -> None:
    """A second zhao2025 run with provenance like the first but for `differs`."""
    run = "20ng-7class.roberta-base.ft"
    write_json(tree / "results/zhao2025" / run / "metrics.json", {"7class_accuracy": 80.0, "n_examples": 4})
    first = tree / "logs/zhao2025/fit/20ng-7class.llama2-7b.zero-shot.ft.provenance.json"
    record = {**json.loads(first.read_text()), "wall_s": 100.0, **differs}
    write_json(first.with_name(f"{run}.provenance.json"), record)
    first.with_name(f"{run}.log").write_text("trained\n")


def test_a_summary_per_paper_opens_the_report(tree):
    _second_run(tree)
    (tree / "results/zhao2025/tables/table3.csv").write_text(
        "ours,verdict\n1.0,reproduced\n2.0,below\n,not run\n"
    )
    page = _verdict_report(tree, "mini", "stand-ins")
    summary = page[page.index('<table class="summary" id="summary">') :].split("</table>")[0]
    assert page.index('id="summary"') < page.index('<section class="paper"')
    zhao = summary.split('<a href="#zhao2025">zhao2025</a></td>')[1].split("</tr>")[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', zhao)
    # cells run, reproduced, below, above, jobs, wall time (summed), GPU-hours used, planned
    assert cells == ["2 of 3", "1", "1", "0", "2", "1.9 min", "0.00", "not planned"]


def test_provenance_every_run_shares_is_stated_once_and_collapsed(tree):
    _second_run(tree)
    page = _report(tree)
    provenance = page.split('<details class="provenance" id="provenance">')[1].split("</details>")[0]
    assert "0123456789ab" in provenance and "torch 2.13.0" in provenance and "2 CPUs" in provenance
    assert page.count("0123456789ab") == 1 and page.count("abcdefabcdef") == 1  # not on every run's row
    runs = page.split('<details class="runs" id="zhao2025-runs">')[1].split("</details>")[0]
    assert "<th>git commit</th>" not in runs and "torch" not in runs


def test_what_differs_between_runs_gets_a_column_in_their_rows(tree):
    _second_run(tree, git_commit="fedcba987654321")
    page = _report(tree)
    runs = page.split('<details class="runs" id="zhao2025-runs">')[1].split("</details>")[0]
    assert "<th>git commit</th>" in runs and "fedcba987654" in runs and "0123456789ab" in runs
    assert "<th>config hash</th>" not in runs  # the same for both
    assert "git commit differ" in page.split('id="provenance">')[1].split("</summary>")[0]


def test_a_registered_layout_gives_paper_ours_and_difference_columns_coloured_by_sign(tree):
    (tree / "results/zhao2025/tables/table3.csv").write_text(
        "model,shots,finetuned,column,paper,in_paper,ours,ci_lo,ci_hi,status,verdict\n"
        "roberta-base,,True,massive_accuracy,80.0,True,82.5,81.0,84.0,ok,above\n"
        "roberta-base,,True,massive_macro_f1,70.0,True,65.0,64.0,66.0,ok,below\n"
    )
    layouts = {
        **PAPERS,
        "zhao2025": {**PAPERS["zhao2025"], "layout": papers.registered(TINY)["zhao2025"].layout},
    }
    page = build_report(
        tree / "results/report.html",
        preset="tiny",
        papers=layouts,
        runs={paper: papers.runs(TINY, paper, with_api=False) for paper in PAPERS},
        shared={paper: papers.shared_runs(TINY, paper) for paper in PAPERS},
        results_dir=tree / "results",
        logs_dir=tree / "logs",
        stats_path=None,
    ).read_text()
    table = page.split('<table class="compared">')[1].split("</table>")[0]
    assert '<th class="part paper">paper</th>' in table and '<th class="part difference"' in table
    assert '<td class="num pos">+2.5</td>' in table and '<td class="num neg">−5.0</td>' in table
    assert '<td class="num">82.5 ±1.5</td>' in table and '<td class="num">80.0</td>' in table
    assert "<td>1.0 (+0.5)</td>" in page  # a paper without a layout keeps its markdown table


def test_each_trained_runs_loss_curves_are_in_the_report_collapsed(tree):
    run = "20ng-7class.llama2-7b.zero-shot.ft"
    log = tree / "results/zhao2025" / run / "train_log.jsonl"
    log.write_text("".join(json.dumps({"loss": 1.0 / s, "step": s}) + "\n" for s in range(1, 6)))
    page = _report(tree, train_logs={"zhao2025": {"decoder": {run: str(log)}}})
    curves = page.split('<details class="curves" id="zhao2025-curves">')[1].split("</details>")[0]
    assert "decoder (1 run)" in curves and curves.count("data:image/png;base64,") == 1
    assert '<details class="curves" id="gupta2023-curves">' not in page  # no trained run: none


@pytest.mark.skipif(find_chromium() is None, reason="no chromium (make setup installs Debian's)")
def test_chromium_shows_the_summary_and_keeps_the_long_parts_collapsed(tree):
    _second_run(tree)
    _report(tree)
    page = check_page(tree / "results/report.html", screenshot=tree / "results/report.png")
    assert page.problems == []
    assert "cells run" in page.text and "wall time" in page.text  # the summary, seen first
    assert "Provenance of every run" in page.text  # the collapsed provenance's summary line
    assert "torch 2.13.0" not in page.text  # its contents, hidden until opened
