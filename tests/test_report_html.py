"""results/report.html from a small results tree: preset in words, each paper's tables and figures,
run provenance with GPU-hours planned, and the page in headless Chromium."""

from __future__ import annotations

import json
import os
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
        f"zhao2025\tresults/zhao2025/{run}/predictions.jsonl\tllama2-7b\t3.5\n"
        "gupta2023\tresources/models/gupta2023/prefinetuned\tt5-3b\t1.0\n"
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
