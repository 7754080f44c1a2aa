"""gupta2023's Figure 1.1 (§1.2): few-shot inference, MTL with 6% and 25% of the train data, and the
supervised SOTA, each the thesis's number beside ours, as a table and a figure.

The figure's four rows are four of the thesis's overall numbers (its caption and §1.2: 54.30,
70.40, 73.14, 70.99), each a row of the headline table (ftrepro.papers.gupta2023.report), keyed as
the results targets key them: Tk-Instruct without fine-tuning (the few-shot run), MTL Tk-Instruct
on 200 and on 1,000 samples per task ("6%" and "25%", §5.1.2), and T5-3B on every sample, one
model per task (STL baseline 3, "supervised SOTA", §5.1.1). Ours is the headline's row of that key,
named by its setting; where the config has no such setting the row reads "not run".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ftrepro.papers.gupta2023.report import FEWSHOT, write_table
from ftrepro.report import COMPARED, NOT_RUN, error_bars, ours_text, save_figure

# (the thesis's row, its share of the downstream train data, (setting, system, samples) of the
# results targets)
ROWS = (
    ("Few-shot inference: Tk-Instruct, no fine-tuning", "0%", (FEWSHOT, "tk-instruct-3b", "0")),
    ("Instruction-tuned, MTL: Tk-Instruct, 200 samples per task", "6%", ("mtl", "tk-instruct-3b", "200")),
    ("Instruction-tuned, MTL: Tk-Instruct, 1000 samples per task", "25%", ("mtl", "tk-instruct-3b", "1000")),
    ("Supervised SOTA: T5-3B on every sample, STL", "100%", ("stl", "baseline3-t5-3b", "all")),
)
TITLE = "gupta2023 Figure 1.1: few-shot inference, quick learners and the supervised SOTA, thesis / ours"


def figure1_table(headline: pd.DataFrame) -> pd.DataFrame:
    """One row per row of Figure 1.1: the thesis's number and ours (the headline row of its key)."""
    rows = []
    for label, share, (paradigm, system, samples) in ROWS:
        match = headline[
            (headline["paradigm"] == paradigm)
            & (headline["system"] == system)
            & (headline["samples_per_task"] == samples)
        ]
        found = match.iloc[0].to_dict() if len(match) else {"status": NOT_RUN, "setting": ""}
        ours = {
            key: found.get(key, float("nan"))
            for key in ("paper", "ours", "diff", "ci_lo", "ci_hi", "seeds", "seed_sd", "verdict")
        }
        rows.append(
            {
                "row": label,
                "train_data": share,
                "ours_run": f"{paradigm}.{found['setting']}" if found["setting"] else "no such setting",
                "n_tasks": found.get("n_tasks", 0),
                **ours,
                "status": found["status"],
            }
        )
    return pd.DataFrame(rows)


def figure1_layout(table: pd.DataFrame) -> pd.DataFrame:
    def ours(row: Mapping) -> str:
        if pd.isna(row["ours"]):
            return NOT_RUN
        return ours_text(row["ours"], ".2f", row["ci_lo"], row["ci_hi"], row["seeds"], row["seed_sd"])

    return pd.DataFrame(
        {
            "Figure 1.1": table["row"],
            "train data": table["train_data"],
            "thesis": table["paper"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "ours": [ours(row) for _, row in table.iterrows()],
            "ours - thesis": table["diff"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}"),
            "verdict": table["verdict"].map(lambda v: v if v in COMPARED else ""),
            "our run": table["ours_run"],
        }
    )


def plot_figure1(table: pd.DataFrame, path: Path, **stamp) -> None:
    """The four rows as horizontal bars: the thesis's hollow, ours filled with its 95% interval."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    y = pd.Series(range(len(table)), dtype=float)[::-1].to_numpy()
    height = 0.38
    ax.barh(
        y + height / 2, table["paper"], height, facecolor="none", edgecolor="C0", hatch="//", label="thesis"
    )
    ax.barh(
        y - height / 2,
        table["ours"].fillna(0),
        height,
        color="C0",
        xerr=error_bars(table["ours"], table["ci_lo"], table["ci_hi"]),
        capsize=3,
        label="ours (95% interval)",
    )
    for yi, (_, row) in zip(y, table.iterrows(), strict=True):
        ax.text(row["paper"], yi + height / 2, f" {row['paper']:.2f}", va="center", fontsize="small")
        text = NOT_RUN if pd.isna(row["ours"]) else f" {row['ours']:.2f}"
        ax.text(
            0 if pd.isna(row["ours"]) else row["ours"], yi - height / 2, text, va="center", fontsize="small"
        )
    ax.set_yticks(y, [f"{row['row']} ({row['train_data']})" for _, row in table.iterrows()], fontsize="small")
    ax.set(xlabel="ROUGE-L (119 SuperNI test tasks in the thesis)", xlim=(0, 100), title="Figure 1.1")
    ax.legend(fontsize="small", loc="lower right")
    save_figure(fig, path, **stamp)  # stamped as every figure (save_figure's synthetic, preset, stand_ins)


def write_figure1(
    headline: pd.DataFrame,
    out_dir: str | Path,
    *,
    note: str = "",
    basis: str = "paper",
    after: str = "",
    synthetic: bool = False,
    preset: str | None = None,
    stand_ins: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """tables/figure1_1_table.{csv,md} and figures/figure1_1.png under out_dir, from the headline table
    (write_gupta_report's); `note`, `basis` and `after` as write_table takes them; the figure
    stamped with `synthetic`, `preset` and `stand_ins` as write_gupta_report's."""
    out_dir = Path(out_dir)
    table = figure1_table(headline)
    closest = (
        "Each row of ours is the setting of the thesis's row: Tk-Instruct as released (the few-shot "
        "run), MTL Tk-Instruct on 200 and 1000 samples per task (the thesis's 6% and 25% of the "
        "downstream train data), and STL baseline 3 pooled over its task models (T5-3B on every "
        "sample). The share of the train data is the thesis's: a preset's caps change ours.\n\n"
    )
    write_table(
        table,
        figure1_layout(table),
        TITLE,
        out_dir / "tables" / "figure1_1_table.csv",
        out_dir / "tables" / "figure1_1_table.md",
        closest + note,
        basis,
        after,
    )
    stamp = {"synthetic": synthetic, "preset": preset, "stand_ins": stand_ins}
    plot_figure1(table, out_dir / "figures" / "figure1_1.png", **stamp)
    return table
