"""A run's loss curves drawn from its train_log.jsonl."""

from __future__ import annotations

from ftrepro.io import write_jsonl
from ftrepro.report.curves import loss_curves, plot_loss_curves

HISTORY = [
    {"loss": 1.1, "learning_rate": 1e-3, "epoch": 0.5, "step": 10},
    {"loss": 0.7, "learning_rate": 1e-3, "epoch": 1.0, "step": 20},
    {"eval_loss": 0.9, "eval_runtime": 1.0, "epoch": 1.0, "step": 20},
    {"loss": 0.4, "learning_rate": 1e-3, "epoch": 1.5, "step": 30},
    {"train_runtime": 9.0, "train_loss": 0.7, "epoch": 1.5, "step": 30},  # the summary: no point
]


def test_train_and_eval_loss_are_drawn_against_the_step():
    ax = loss_curves(HISTORY, "zhao2025 run").axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
    assert lines == {"train loss": ([10, 20, 30], [1.1, 0.7, 0.4]), "eval loss": ([20], [0.9])}
    assert ax.get_legend() is not None and ax.get_title() == "zhao2025 run"


def test_a_run_without_evaluation_has_one_curve_and_the_png_is_written(tmp_path):
    log = tmp_path / "train_log.jsonl"
    write_jsonl(log, [r for r in HISTORY if "eval_loss" not in r])
    plot_loss_curves(log, tmp_path / "loss.png", "run")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert [line.get_label() for line in loss_curves(HISTORY[:2], "run").axes[0].lines] == ["train loss"]
