"""Trained runs' loss curves from their train_log.jsonl (ftrepro.fit.train_log_path): the training
loss at every logging step and, where the recipe evaluates, the evaluation loss. One figure per
run (`loss_curves`), or per family of runs (`family_curves`, the HTML report's), legends outside
the axes so that no entry hides a point."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from ftrepro.io import read_jsonl
from ftrepro.report import outside_legend, save_figure

LOSSES = (("loss", "train loss"), ("eval_loss", "eval loss"))
# a family's runs each get a legend entry up to this many; more are told by their count
MAX_LEGEND_RUNS = 12
NO_LOSS = "{n} {runs}: no loss logged\n(fewer steps than the logging interval)"


def _points(history: list[dict], key: str) -> tuple[list, list]:
    """(steps, values) of one key of a log_history (the summary record at the end has none)."""
    points = [(r["step"], r[key]) for r in history if key in r]
    return ([s for s, _ in points], [v for _, v in points]) if points else ([], [])


def loss_curves(history: list[dict], title: str) -> Figure:
    """Training and evaluation loss of one run against the optimizer step; the legend outside."""
    fig = Figure(figsize=(5.5, 3), layout="constrained")
    ax = fig.add_subplot()
    for key, label in LOSSES:
        steps, losses = _points(history, key)
        if steps:
            ax.plot(steps, losses, marker="." if len(steps) < 30 else None, label=label)
    ax.set(xlabel="step", ylabel="loss", title=title)
    outside_legend(fig)
    return fig


def family_curves(histories: Mapping[str, list[dict]], title: str) -> Figure:
    """The runs of a family ({run: its log_history}): a panel of training loss and, where any run
    evaluates, one of evaluation loss against the optimizer step, a colour per run, the runs named
    in a legend outside the panels (counted instead beyond MAX_LEGEND_RUNS)."""
    keys = [(key, label) for key, label in LOSSES if any(_points(h, key)[0] for h in histories.values())]
    named = len(histories) <= MAX_LEGEND_RUNS
    legend_width = 0.075 * max(map(len, histories)) if named else 0  # inches, at the legend's font
    fig = Figure(figsize=(1.5 + 3.5 * max(len(keys), 1) + legend_width, 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(keys), 1), squeeze=False)[0]
    colours = colormaps["tab10" if len(histories) <= 10 else "tab20"].colors
    for ax, (key, label) in zip(axes, keys):
        for i, (run, history) in enumerate(histories.items()):
            steps, losses = _points(history, key)
            ax.plot(steps, losses, color=colours[i % len(colours)], linewidth=1,
                    marker="." if len(steps) < 30 else None, label=run if named else "_run")  # fmt: skip
        ax.set(xlabel="step", ylabel=label, title=label)
    silent = [run for run, history in histories.items() if not any(_points(history, k)[0] for k, _ in LOSSES)]
    if silent:  # a run shorter than the Trainer's logging interval logs its summary only
        axes[0].text(0.5, 0.98, NO_LOSS.format(n=len(silent), runs="run" if len(silent) == 1 else "runs"),
                     transform=axes[0].transAxes, ha="center", va="top", fontsize="small", color="grey")  # fmt: skip
    fig.suptitle(title if named else f"{title} ({len(histories)} runs)")
    if named:
        outside_legend(fig, fontsize="small")
    return fig


def plot_loss_curves(train_log: str | Path, out_png: str | Path, title: str, **stamp) -> None:
    """The curves of one run's train_log.jsonl as a PNG, stamped as save_figure does (`stamp`:
    synthetic, preset, stand_ins)."""
    save_figure(loss_curves(read_jsonl(train_log), title), out_png, **stamp)
