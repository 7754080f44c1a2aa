"""What every paper's report shares: the words of a cell without a number, and figure files.

A cell reads "not run" where we have no metrics and "not in paper" where the paper has no such
model, setting or task (the matrix can hold more than the paper); never a made-up number.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure

from ftrepro.io import atomic_path

NOT_RUN = "not run"
NOT_IN_PAPER = "not in paper"
SYNTHETIC_DATA = "synthetic data"


def data_note(synthetic: bool) -> str:
    """The line every table carries when its runs read generated data (config data.source:
    synthetic), so that no number of it is taken for one on the papers' data; "" otherwise."""
    if not synthetic:
        return ""
    return (
        f"**{SYNTHETIC_DATA.capitalize()}** (data.source: synthetic): generated files in each "
        "dataset's format with a planted rule, not the papers' datasets. These numbers say nothing "
        "about the papers.\n\n"
    )


def stand_in_note(stand_ins: Mapping[str, str]) -> str:
    """A sentence naming the stand-in behind each paper model name ({name: stand-in}; "" for none),
    so that a number under a paper's model name is never taken for that model's."""
    if not stand_ins:
        return ""
    pairs = "; ".join(f"{stand_in} under {name}" for name, stand_in in stand_ins.items())
    return f"Stand-ins: this preset trains {pairs}.\n\n"


def save_figure(fig: Figure, path: str | Path, *, synthetic: bool = False) -> None:
    """A PNG, written atomically; `synthetic` (runs on generated data) writes "synthetic data"
    in its lower right corner."""
    if synthetic:
        fig.text(0.995, 0.005, SYNTHETIC_DATA, ha="right", va="bottom", color="#b00", fontsize="large")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
