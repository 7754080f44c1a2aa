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

import io
import math
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

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


def data_note(synthetic: bool, source: str = "paper") -> str:
    """The line every table carries when its runs read generated data (config data.source:
    synthetic), so that no number of it is taken for one on the papers' data; "" otherwise.
    `source`: the word for the work the table reproduces ("thesis" where the work is one)."""
    if not synthetic:
        return ""
    return (
        f"**{SYNTHETIC_DATA.capitalize()}** (data.source: synthetic): generated files in each "
        f"dataset's format with a planted rule, not the {source}'s datasets. These numbers say "
        f"nothing about the {source}.\n\n"
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
        "stand-in models: a verdict holds the model the preset trains under a {source} model's name "
        "against that model's number in the {source}"
    ),
    "meaningless": (
        "synthetic data or randomly initialised models: their numbers cannot be held against the "
        "{source}'s, so no verdict is given"
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


def verdict_summary(
    verdicts: Iterable[str], basis: str, preset: str | None = None, source: str = "paper"
) -> str:
    """ "18 reproduced, 3 below, 1 above of 22 cells" (the cells judged), "at preset mini" where
    given, and what the basis makes of them; "verdicts meaningless" where the basis says so.
    `source`: the word for the work judged against ("thesis" where the work is one)."""
    counts = Counter(verdicts)
    if basis == "meaningless":
        text = "verdicts meaningless"
    else:
        judged = sum(counts[v] for v in COMPARED)
        text = ", ".join(f"{counts[v]} {v}" for v in COMPARED) + f" of {judged} cells"
    text += f" at preset {preset}" if preset else ""
    return text + (f" ({BASIS_WORDS[basis].format(source=source)})" if BASIS_WORDS[basis] else "")


def verdict_note(verdicts: Iterable[str], basis: str, source: str = "paper") -> str:
    """The lines that end a table: what ± means, what a verdict is, and the count per verdict
    (`source`: the word for the work judged against, "thesis" where the work is one)."""
    verdicts = list(verdicts)
    counts = Counter(verdicts)
    words = {NO_PAPER_NUMBER: f"no {source} number"}
    rest = [f"{counts[v]} {words.get(v, v)}" for v in (NO_PAPER_NUMBER, NO_INTERVAL, NOT_RUN) if counts[v]]
    judged = (
        ""
        if basis == "meaningless"
        else f" A verdict is reproduced when the {source}'s number lies in our interval widened by the "
        "metric's tolerance, above or below when our interval lies above or below it."
    )
    return (
        "\n± is half the width of our 95% interval (a seeded percentile bootstrap over the test rows; "
        f"the CSV has its bounds).{judged}\n\n"
        f"**Verdicts:** {verdict_summary(verdicts, basis, source=source)}"
        + (f"; {', '.join(rest)}" if rest else "")
        + ".\n"
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


def stamp_text(preset: str, stand_ins: Mapping[str, str] | None = None) -> str:
    """What a figure says of where its numbers come from: "preset tiny; stand-ins: X under m, ...",
    so that a PNG seen on its own is never taken for the papers' models at their scale."""
    pairs = "; ".join(f"{stand_in} under {name}" for name, stand_in in (stand_ins or {}).items())
    return f"preset {preset}" + (f"; stand-ins: {pairs}" if pairs else "")


def stamp_figure(
    fig: Figure, *, synthetic: bool = False, preset: str | None = None, stand_ins: Mapping | None = None
) -> None:
    """Write on the figure what its numbers are: "synthetic data" in its lower right corner where
    the runs read generated data, and with a `preset` the stamp_text in its lower left, in a margin
    of its own (the constrained layout keeps the axes above it; not a fig.supxlabel, which that
    layout puts at the very bottom: label the axes instead)."""
    if synthetic:
        fig.text(0.995, 0.005, SYNTHETIC_DATA, ha="right", va="bottom", color="#b00", fontsize="large")
    if preset is None:
        return
    width, height = fig.get_size_inches()
    fontsize = 7 * max(1.0, width / 8)  # a wide figure is shown scaled down: its stamp stays legible
    # the corner mark keeps the right fifth; ~0.55 em per character of the default font
    lines = textwrap.wrap(stamp_text(preset, stand_ins), int(0.78 * width * 72 / (0.55 * fontsize)))
    fig.text(0.005, 0.005, "\n".join(lines), ha="left", va="bottom", color="#555", fontsize=fontsize)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        margin = min(0.5, (len(lines) * 1.25 * fontsize / 72 + 0.05) / height)
        engine.set(rect=(0, margin, 1, 1 - margin))


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    synthetic: bool = False,
    preset: str | None = None,
    stand_ins: Mapping[str, str] | None = None,
) -> None:
    """A PNG, written atomically, stamped (stamp_figure) with what its numbers are: `synthetic`
    data, the `preset` and its `stand_ins` ({paper's model name: what the preset trains under it})."""
    stamp_figure(fig, synthetic=synthetic, preset=preset, stand_ins=stand_ins)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, as save_figure writes it (for a page that embeds it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def outside_legend(fig: Figure, **kwargs) -> None:
    """One legend for the figure's labelled artists, outside its axes: right of the last (the
    constrained layout makes room), so that no entry hides a plotted point; none when nothing is
    labelled."""
    handles = {
        label: handle
        for ax in fig.axes
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)
    }
    if handles:
        fig.axes[-1].legend(
            handles.values(),
            handles.keys(),
            loc="upper left",
            bbox_to_anchor=(1.02, 1),
            borderaxespad=0,
            **kwargs,
        )


def legend_overlaps(fig: Figure) -> list[tuple[str, float, float]]:
    """The plotted points that a legend of the figure covers once drawn: (the artist's label, x, y
    in pixels) of every line vertex, scatter point and bar top inside a legend's box. A figure
    whose legends sit outside its axes, or where nothing is under them, gives []."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    boxes = [legend.get_window_extent(renderer) for legend in legends]
    covered = []
    for label, x, y in _plotted_points(fig):
        if any(box.contains(x, y) for box in boxes):
            covered.append((label, float(x), float(y)))
    return covered


def _plotted_points(fig: Figure) -> Iterable[tuple[str, float, float]]:
    """(label, x, y) in pixels of what each axes draws of its data: line vertices (not of lines
    across the whole axes, such as axhline), scatter offsets and the top middle of each bar."""
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_transform() != ax.transData:  # axhline/axvline: a level across the axes, no point
                continue
            for x, y in line.get_transform().transform(line.get_xydata()):
                yield line.get_label(), x, y
        for collection in ax.collections:
            if isinstance(collection, PathCollection):  # scatter markers (error bars are their lines)
                for x, y in collection.get_offset_transform().transform(collection.get_offsets()):
                    yield collection.get_label(), x, y
        for patch in ax.patches:
            box = patch.get_window_extent()
            yield patch.get_label(), (box.x0 + box.x1) / 2, box.y1


# --- the report's layout of a table: paper, ours and the difference in columns of their own -------

OURS, DIFFERENCE, VERDICT = "ours", "difference", "verdict"  # parts of a compared cell (and the paper's)


def paper_text(value: float, in_paper: bool, spec: str, source: str = "paper") -> str:
    """The paper's number of a cell; "–" where the paper has the cell without a number, "not in
    <source>" where it has no such cell."""
    if not _missing(value):
        return format(value, spec)
    return "–" if in_paper else f"not in {source}"


def compared(
    table: pd.DataFrame,
    keys: Mapping[str, str],
    *,
    group: str | None = None,
    headers: Mapping[str, str] | None = None,
    spec: str = ".1f",
    paper_spec: str | None = None,
    source: str = "paper",
    columns: Mapping[str, str] | None = None,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A long table (a paper's CSV) as the report shows it: a row per value of its `keys` ({column:
    header}) and, per value of `group` (its header from `headers`; the table is one group without),
    the paper's number (named `source`), ours with its interval, the difference ours - paper (a
    number, NaN where either is missing) and the verdict. Columns are (group, part) pairs, the keys'
    and `extra`'s (one row per table row, for a table without `group`) with part "". `columns` names
    the CSV's paper, ours, ci_lo, ci_hi where they differ; numbers use `spec` (the paper's
    `paper_spec`)."""
    names = {"paper": "paper", "ours": "ours", "ci_lo": "ci_lo", "ci_hi": "ci_hi", **(columns or {})}
    table = table.assign(**{key: table[key].map(lambda v: "" if pd.isna(v) else str(v)) for key in keys})
    if group is None:
        table = table.assign(_group=(headers or {}).get(None, source))
        group = "_group"
    rows = []
    for _, cells in table.groupby(list(keys), sort=False):
        row = {(header, ""): cells[key].iloc[0] for key, header in keys.items()}
        for _, cell in cells.iterrows():
            header = (headers or {}).get(cell[group], cell[group])
            row.update(_compared_cell(cell, header, names, spec, paper_spec or spec, source))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if extra is not None:
        frame = pd.concat([frame, extra.set_axis([(c, "") for c in extra.columns], axis=1)], axis=1)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.attrs.update(source=source, spec=spec)
    return frame


def _compared_cell(
    cell: pd.Series, header: str, names: Mapping[str, str], spec: str, paper_spec: str, source: str
) -> dict:
    paper, ours = cell[names["paper"]], cell[names["ours"]]
    in_paper = bool(cell.get("in_paper", not _missing(paper)))
    ran = not _missing(ours) and cell.get("status", "ok") == "ok"
    text = (
        ours_text(
            ours, spec, cell[names["ci_lo"]], cell[names["ci_hi"]], cell.get("seeds", 1), cell.get("seed_sd")
        )
        if ran
        else NOT_RUN
    )
    return {
        (header, "paper"): paper_text(paper, in_paper, paper_spec, source),
        (header, OURS): text,
        (header, DIFFERENCE): ours - paper if ran and not _missing(paper) else math.nan,
        (header, VERDICT): cell.get("verdict", ""),
    }
