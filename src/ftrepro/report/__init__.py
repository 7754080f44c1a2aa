"""What every paper's report shares: the words of a cell without a number, and figure files.

A cell reads "not run" where we have no metrics and "not in paper" where the paper has no such
model, setting or task (the matrix can hold more than the paper); never a made-up number.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ftrepro.io import atomic_path

NOT_RUN = "not run"
NOT_IN_PAPER = "not in paper"


def save_figure(fig: Figure, path: str | Path) -> None:
    """A PNG, written atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
