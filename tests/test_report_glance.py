"""The report at a glance (issue 29 item 6): no legend over a plotted point, every figure stamped
with its preset and stand-ins, paper / ours / difference in columns of their own, and one word
("thesis") for the work gupta2023 reproduces."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure
from test_band_report import RUNS as BAND_RUNS

import ftrepro.papers.band2025.report as band
import ftrepro.papers.gupta2023.report as gupta
from ftrepro.report import DIFFERENCE, OURS, compared, legend_overlaps, save_figure, stamp_text
from ftrepro.report.curves import family_curves, loss_curves

REPO = Path(__file__).resolve().parents[1]
STAND_INS = {"llama3.1-8b": "tiny-llama", "distilbert": "tiny-bert"}


def _scored(loss: float) -> dict:
    return {
        "log_loss": loss,
        "accuracy": 0.5,
        "n_examples": 10,
        "ci": {"log_loss": [loss - 0.02, loss + 0.02]},
    }


def _band_table() -> pd.DataFrame:
    """Figure 10's table with a number for every run, the LoRA's near the paper's 0.98."""
    ours = {run: _scored(1.10 - 0.01 * i) for i, run in enumerate(BAND_RUNS)}
    return band.log_loss_table(BAND_RUNS, ours, {"llama3.1-8b": 0.98}, {}, {})


def _drawn(monkeypatch, module) -> dict[str, Figure]:
    """{png name: figure} of every figure the module saves, saved for real (stamped)."""
    figures, original = {}, module.save_figure

    def keep(fig, path, **stamp):
        original(fig, path, **stamp)
        figures[Path(path).name] = fig

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def test_legend_overlaps_finds_a_legend_over_a_point():
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 0.5, 1], marker="o", label="rising")
    ax.plot([0, 1, 2], [1, 1, 1], marker="o", label="flat")
    ax.legend(loc="upper right")  # over the last points of both lines
    assert {label for label, _, _ in legend_overlaps(fig)} >= {"rising", "flat"}


def test_figures_10_and_11_keep_their_legends_off_the_data(tmp_path, monkeypatch):
    figures = _drawn(monkeypatch, band)
    band.write_band_report(
        BAND_RUNS,
        {run: _scored(1.10 - 0.01 * i) for i, run in enumerate(BAND_RUNS)},
        REPO / "config/targets/band2025_results.csv",
        REPO / "config/targets/band2025_parameters.csv",
        {},
        tmp_path,
        stand_ins=STAND_INS,
        preset="tiny",
    )
    assert set(figures) == {"figure10.png", "figure11.png"}
    for fig in figures.values():
        assert legend_overlaps(fig) == []
    # the paper's 0.98 is drawn and visible
    points = [c for c in figures["figure10.png"].axes[0].collections if "paper" in c.get_label()]
    assert points and 0.98 in points[0].get_offsets()[:, 1]


def _gupta_figures(out: Path, monkeypatch, **options) -> dict[str, Figure]:
    """gupta2023's report written to `out` without runs; {png name: figure} of its figures."""
    settings = yaml.safe_load((REPO / "config/config.yaml").read_text())["gupta2023"]["settings"]
    figures = _drawn(monkeypatch, gupta)
    gupta.write_gupta_report(
        {},
        {},
        {},
        REPO / "config/targets/gupta2023_results.csv",
        REPO / "config/targets/gupta2023_categories.csv",
        out,
        settings=settings,
        anchors_csv=REPO / "config/targets/gupta2023_anchors.csv",
        text_csv=REPO / "config/targets/gupta2023_tk_categories.csv",
        **options,
    )
    return figures


def test_gupta_figures_keep_their_legends_off_the_data(tmp_path, monkeypatch):
    figures = _gupta_figures(tmp_path, monkeypatch, preset="tiny")
    assert len(figures) == 4
    for name, fig in figures.items():
        assert legend_overlaps(fig) == [], name


def test_every_figure_is_stamped_with_its_preset_and_stand_ins(tmp_path):
    fig = band.plot_log_loss(
        _band_table(), tmp_path / "f10.png", synthetic=True, preset="tiny", stand_ins=STAND_INS
    )
    texts = [t.get_text().replace("\n", " ") for t in fig.texts]
    assert "synthetic data" in texts
    assert "preset tiny; stand-ins: tiny-llama under llama3.1-8b; tiny-bert under distilbert" in texts
    assert stamp_text("mini") == "preset mini"
    # the stamp has a margin of its own: no axes reaches down into it
    fig.draw_without_rendering()
    stamp = next(t for t in fig.texts if t.get_text().startswith("preset")).get_window_extent()
    assert all(ax.get_tightbbox().y0 >= stamp.y1 - 1 for ax in fig.axes)


def test_save_figure_without_a_preset_stamps_nothing_new(tmp_path):
    fig = Figure()
    save_figure(fig, tmp_path / "f.png")
    assert fig.texts == []


def test_loss_curves_keep_their_legends_off_the_data():
    history = [{"loss": 1.0 - 0.1 * s, "step": s} for s in range(1, 9)] + [{"eval_loss": 0.6, "step": 8}]
    assert legend_overlaps(loss_curves(history, "run")) == []
    fig = family_curves({"a.run": history, "b.run": history[:4]}, "family")
    assert [ax.get_title() for ax in fig.axes] == ["train loss", "eval loss"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["a.run", "b.run"]
    assert legend_overlaps(fig) == []


def test_compared_puts_paper_ours_and_the_difference_in_columns_of_their_own():
    table = pd.DataFrame(
        {
            "model": ["m", "m", "n"],
            "column": ["acc", "f1", "acc"],
            "paper": [80.0, 70.0, float("nan")],
            "in_paper": [True, True, False],
            "ours": [82.5, 65.0, 50.0],
            "ci_lo": [81.0, 64.0, 49.0],
            "ci_hi": [84.0, 66.0, 51.0],
            "status": ["ok", "ok", "ok"],
            "verdict": ["above", "below", "no paper number"],
        }
    )
    frame = compared(table, {"model": "model"}, group="column", headers={"acc": "accuracy"})
    m = frame.iloc[0]
    assert (m[("accuracy", "paper")], m[("accuracy", OURS)]) == ("80.0", "82.5 ±1.5")
    assert m[("accuracy", DIFFERENCE)] == pytest.approx(2.5) and m[("f1", DIFFERENCE)] == pytest.approx(-5.0)
    n = frame.iloc[1]
    assert n[("accuracy", "paper")] == "not in paper" and pd.isna(n[("accuracy", DIFFERENCE)])


# --- gupta2023: one word, "thesis" ------------------------------------------------------------------


def test_gupta_tables_and_figures_call_the_work_a_thesis(tmp_path, monkeypatch):
    figures = _gupta_figures(tmp_path, monkeypatch, synthetic=True)
    paper = re.compile(r"\bpapers?\b", re.IGNORECASE)
    for md in (tmp_path / "tables").glob("*.md"):
        assert paper.findall(md.read_text()) == [], md.name
    for name, fig in figures.items():
        words = [t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
        words += [t.get_text() for t in fig.texts]
        words += [h.get_label() for ax in fig.axes for h in [*ax.lines, *ax.collections]]
        assert [w for w in words if paper.search(w)] == [], name


def test_a_run_too_short_to_log_a_loss_is_said_to_have_none():
    """A run of fewer steps than the Trainer's logging interval keeps its summary only (gupta2023's
    STL runs at tiny): its family's figure says so rather than drawing an empty panel unexplained."""
    summary_only = [{"train_runtime": 4.4, "train_loss": 1.7, "epoch": 3.0, "step": 39}]
    fig = family_curves({"stl.a": summary_only, "stl.b": summary_only}, "stl")
    assert "2 runs: no loss logged" in fig.axes[0].texts[0].get_text()
    logged = [{"loss": 1.0, "step": 1}, {"loss": 0.9, "step": 2}]
    assert list(family_curves({"stl.a": logged}, "stl").axes[0].texts) == []
