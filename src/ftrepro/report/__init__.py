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


def stand_in_note(stand_ins: Mapping[str, str]) -> str:
    """A sentence naming the stand-in behind each paper model name ({name: stand-in}; "" for none),
    so that a number under a paper's model name is never taken for that model's."""
    if not stand_ins:
        return ""
    pairs = "; ".join(f"{stand_in} under {name}" for name, stand_in in stand_ins.items())
    return f"Stand-ins: this preset trains {pairs}.\n\n"


def save_figure(fig: Figure, path: str | Path) -> None:
    """A PNG, written atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
