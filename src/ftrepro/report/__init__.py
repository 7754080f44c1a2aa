"""What every paper's report shares: the runs' metrics by table cell (the seeds of a run as one),
the words of a cell without a number, our numbers with their intervals, the verdict of a cell
against the paper's number, and figure files.

A cell reads "not run" where we have no metrics and "not in paper" where the paper has no such
model, setting or task (the matrix can hold more than the paper); never a made-up number.

Our number is shown with the half-width of its 95% interval ("86.4 ±1.5"): the intervals are
percentile bootstraps, nearly symmetric on these test sizes, and the table's CSV keeps both
bounds (ci_lo, ci_hi), which decide the verdict. A cell whose metrics have no interval (scored
without a bootstrap) shows its number alone and gets no verdict.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ftrepro.io import atomic_path, read_json
from ftrepro.jobs import unseeded

NOT_RUN = "not run"
NOT_IN_PAPER = "not in paper"
SYNTHETIC_DATA = "synthetic data"


def run_metrics(paths: Iterable[str | Path]) -> dict[str, dict]:
    """{run: its metrics} from metrics.json files (results/<paper>/<run>/metrics.json), the runs of
    a run's several seeds (ftrepro.jobs.seed_run) aggregated into that run's one cell: their mean,
    with their spread and count (ftrepro.metrics.aggregate_seeds)."""
    from ftrepro.metrics import aggregate_seeds  # scorers' imports, for tables over several seeds only

    runs: dict[str, list[dict]] = {}
    for path in paths:
        runs.setdefault(unseeded(Path(path).parent.name), []).append(read_json(path))
    return {
        run: metrics[0] if len(metrics) == 1 else aggregate_seeds(metrics) for run, metrics in runs.items()
    }


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


# a cell's verdict: the paper's number against our interval (Verdicts)
REPRODUCED, ABOVE, BELOW = "reproduced", "above", "below"
NO_PAPER_NUMBER = "no paper number"
NO_INTERVAL = "no interval"  # our number was scored without a bootstrap
MEANINGLESS = "meaningless"  # the preset's numbers cannot be held against the paper's
COMPARED = (REPRODUCED, BELOW, ABOVE)
# what a verdict means in a preset (ftrepro.papers.verdict_basis)
BASIS_WORDS = {
    "paper": "",
    "stand-ins": (
        "stand-in models: a verdict holds the model the preset trains under a paper model's name "
        "against that model's number in the paper"
    ),
    "meaningless": (
        "synthetic data or randomly initialised models: their numbers cannot be held against the "
        "papers', so no verdict is given"
    ),
}


@dataclass(frozen=True)
class Verdicts:
    """How a table judges its cells: the preset's `basis` (a key of BASIS_WORDS) and per metric
    the `tolerance` (config stats.tolerance) by which the paper's number may miss our interval
    and still read reproduced."""

    basis: str = "paper"
    tolerance: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.basis not in BASIS_WORDS:
            raise ValueError(f"verdict basis must be one of {sorted(BASIS_WORDS)}, got {self.basis!r}")

    def tolerance_of(self, metric: str) -> float:
        """The tolerance of a metrics.json key: its own, else that of its last "_" part
        (slots_f1 -> f1), else 0."""
        for key in (metric, metric.rsplit("_", 1)[-1]):
            if key in self.tolerance:
                return float(self.tolerance[key])
        return 0.0

    def __call__(self, metric: str, paper: float, ours: float, lo: float, hi: float) -> str:
        """The verdict of one cell: reproduced when the paper's number lies in [lo, hi] widened
        by the metric's tolerance, else above (our interval above it) or below; not run, no paper
        number, no interval, or meaningless (the basis) where there is nothing to judge."""
        if _missing(ours):
            return NOT_RUN
        if _missing(paper):
            return NO_PAPER_NUMBER
        if _missing(lo) or _missing(hi):
            return NO_INTERVAL
        if self.basis == "meaningless":
            return MEANINGLESS
        tolerance = self.tolerance_of(metric)
        if lo - tolerance > paper:
            return ABOVE
        if hi + tolerance < paper:
            return BELOW
        return REPRODUCED


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def interval_columns(metrics: Mapping | None, metric: str) -> dict:
    """ci_lo, ci_hi, seeds and seed_sd of one cell of ours from its run's (or group's) metrics
    (NaN where absent; seeds 1 for a single run, ftrepro.metrics.aggregate_seeds for several)."""
    nan = math.nan
    bounds = (metrics or {}).get("ci", {}).get(metric, (nan, nan))
    seeds = (metrics or {}).get("seeds", {})
    return {
        "ci_lo": float(bounds[0]),
        "ci_hi": float(bounds[1]),
        "seeds": seeds.get("n", 1) if metrics else nan,
        "seed_sd": seeds.get("sd", {}).get(metric, nan),
    }


def ours_text(
    value: float,
    spec: str,
    lo: float = math.nan,
    hi: float = math.nan,
    seeds=1,
    seed_sd: float = math.nan,
    unit: str = "",
) -> str:
    """Our number formatted with `spec` (and `unit`), the half-width of its interval [lo, hi]
    ("86.4 ±1.5") and, over several seeds, their count and spread ("(3 seeds, sd 0.4)")."""
    unsigned = spec.replace("+", "")
    text = format(value, spec) + unit
    if not _missing(lo) and not _missing(hi):
        text += " ±" + format((hi - lo) / 2, unsigned) + unit
    if not _missing(seeds) and seeds > 1:
        text += f" ({int(seeds)} seeds, sd {format(seed_sd, unsigned)}{unit})"
    return text


def verdict_mark(verdict: str) -> str:
    """What a cell's text adds for its verdict: the word where there is one to give."""
    return f" {verdict}" if verdict in COMPARED else ""


def verdict_summary(verdicts: Iterable[str], basis: str, preset: str | None = None) -> str:
    """ "18 reproduced, 3 below, 1 above of 22 cells" (the cells judged), "at preset mini" where
    given, and what the basis makes of them; "verdicts meaningless" where the basis says so."""
    counts = Counter(verdicts)
    if basis == "meaningless":
        text = "verdicts meaningless"
    else:
        judged = sum(counts[v] for v in COMPARED)
        text = ", ".join(f"{counts[v]} {v}" for v in COMPARED) + f" of {judged} cells"
    text += f" at preset {preset}" if preset else ""
    return text + (f" ({BASIS_WORDS[basis]})" if BASIS_WORDS[basis] else "")


def verdict_note(verdicts: Iterable[str], basis: str) -> str:
    """The lines that end a table: what ± means, what a verdict is, and the count per verdict."""
    verdicts = list(verdicts)
    counts = Counter(verdicts)
    rest = [f"{counts[v]} {v}" for v in (NO_PAPER_NUMBER, NO_INTERVAL, NOT_RUN) if counts[v]]
    judged = (
        ""
        if basis == "meaningless"
        else " A verdict is reproduced when the paper's number lies in our interval widened by the "
        "metric's tolerance, above or below when our interval lies above or below it."
    )
    return (
        "\n± is half the width of our 95% interval (a seeded percentile bootstrap over the test rows; "
        f"the CSV has its bounds).{judged}\n\n"
        f"**Verdicts:** {verdict_summary(verdicts, basis)}" + (f"; {', '.join(rest)}" if rest else "") + ".\n"
    )


def stand_in_note(stand_ins: Mapping[str, str]) -> str:
    """A sentence naming the stand-in behind each paper model name ({name: stand-in}; "" for none),
    so that a number under a paper's model name is never taken for that model's."""
    if not stand_ins:
        return ""
    pairs = "; ".join(f"{stand_in} under {name}" for name, stand_in in stand_ins.items())
    return f"Stand-ins: this preset trains {pairs}.\n\n"


def error_bars(values, lo, hi) -> np.ndarray:
    """Intervals [lo, hi] around `values` as matplotlib's yerr: 2 x n distances below and above
    each value, NaN (no bar drawn) where there is no interval."""
    values, lo, hi = (np.asarray(pd.to_numeric(pd.Series(v)), dtype=float) for v in (values, lo, hi))
    return np.array([values - lo, hi - values])


def save_figure(fig: Figure, path: str | Path, *, synthetic: bool = False) -> None:
    """A PNG, written atomically; `synthetic` (runs on generated data) writes "synthetic data"
    in its lower right corner."""
    if synthetic:
        fig.text(0.995, 0.005, SYNTHETIC_DATA, ha="right", va="bottom", color="#b00", fontsize="large")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
