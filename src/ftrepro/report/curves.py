"""A trained run's loss curves from its train_log.jsonl (ftrepro.fit.train_log_path): the training
loss at every logging step and, where the recipe evaluates, the evaluation loss."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ftrepro.io import read_jsonl
from ftrepro.report import save_figure


def loss_curves(history: list[dict], title: str) -> Figure:
    """Training and evaluation loss against the optimizer step; the legend where it hides no point."""
    fig = Figure(figsize=(4.5, 3))
    ax = fig.add_subplot()
    for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            steps, losses = zip(*points, strict=True)
            ax.plot(steps, losses, marker="." if len(points) < 30 else None, label=label)
    ax.set(xlabel="step", ylabel="loss", title=title)
    if ax.lines:
        ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_loss_curves(train_log: str | Path, out_png: str | Path, title: str) -> None:
    """The curves of one run's train_log.jsonl as a PNG."""
    save_figure(loss_curves(read_jsonl(train_log), title), out_png)
