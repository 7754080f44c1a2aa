"""band2025's results: the log-loss table (paper beside ours), Figure 10 (log loss per model), Figure 11 (gain
over single DistilBERT), the parameter-efficiency score and Kaggle submission CSVs per run (the test
split's ids, and the competition's test rows where the raw data has them).

The paper prints only Llama's test log loss (0.98); its encoder losses exist only as bars, so their paper cells
read "–"; a model the paper has not (absent from its Table 1) reads "not in paper". Its efficiency score is
1 / (log loss x parameters in millions) with Table 1's counts; ours uses the parameters of the model we
trained, counted from its base weights (a classifier has no LM head). Our losses are on our test split, which no
run saw (each chose its checkpoint on the dev split); the paper's are on Kaggle's hidden test set.

Our log loss and accuracy carry their 95% intervals (metrics.json), the log loss its verdict against the
paper's number (ftrepro.report.Verdicts). The gain over single DistilBERT takes its interval from the two
losses' standard errors as if they were independent: conservative, since both runs score the same rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from safetensors import safe_open

from ftrepro.data.arena import WINNER_COLUMNS
from ftrepro.io import DataError, atomic_path, iter_jsonl
from ftrepro.metrics import NORMAL_QUANTILE
from ftrepro.papers.band2025.runs import BandRun
from ftrepro.report import (
    NOT_IN_PAPER,
    NOT_RUN,
    Verdicts,
    compared,
    data_note,
    error_bars,
    interval_columns,
    ours_text,
    outside_legend,
    save_figure,
    stand_in_note,
    verdict_mark,
    verdict_note,
)

NO_NUMBER = "–"  # in the paper, but only as a bar
BASELINE = "distilbert.single.plain"  # Figure 11's reference: the single DistilBERT
DISPLAY = {"distilbert": "DistilBERT", "bert-base": "BERT-base", "llama3.1-8b": "Llama 3.1 8B"}


def run_label(run: str) -> str:
    """Figure labels in the paper's words: "DistilBERT parallel + LLM data", "Llama 3.1 8B LoRA"."""
    parsed = BandRun.parse(run)
    model = DISPLAY.get(parsed.model, parsed.model)
    if parsed.is_lora:
        return f"{model} LoRA"
    return f"{model} {parsed.architecture}" + (" + LLM data" if parsed.variant == "llm-augmented" else "")


def read_numbers(path: str | PathLike, value: str) -> dict[str, float]:
    """{model: value} from a targets CSV ('#' lines are comments) with columns model and `value`."""
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    if not {"model", value} <= set(table.columns):
        raise DataError(f"{path}: columns model and {value} needed (has {list(table.columns)})")
    if table["model"].duplicated().any():
        raise DataError(
            f"{path}: model {table['model'][table['model'].duplicated()].iloc[0]!r} appears twice"
        )
    try:
        return {row["model"]: float(row[value]) for _, row in table.iterrows()}
    except ValueError as e:
        raise DataError(f"{path}: a {value} is not a number: {e}") from e


def parameter_count(model_dir: str | PathLike) -> int:
    """Parameters in a model directory's safetensors files (headers only), without an LM head."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise DataError(f"{model_dir}: no safetensors weights to count")
    total = 0
    for file in files:
        with safe_open(file, framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
                if not name.startswith("lm_head."):
                    total += math.prod(weights.get_slice(name).get_shape())
    return total


def efficiency(log_loss: float | None, params_millions: float | None) -> float | None:
    """The paper's heuristic 1 / (log loss x parameters in millions); higher is better."""
    if log_loss is None or params_millions is None or pd.isna(log_loss) or pd.isna(params_millions):
        return None
    return 1.0 / (log_loss * params_millions)


def log_loss_table(
    runs: Iterable[str],
    metrics: Mapping[str, Mapping],
    paper_loss: Mapping[str, float],
    paper_params: Mapping[str, float],
    our_params: Mapping[str, int],
    verdicts: Verdicts | None = None,
) -> pd.DataFrame:
    """One row per run: paper and our log loss (with its interval and verdict, `verdicts`), accuracy,
    gain over single DistilBERT, parameters, efficiency."""
    unknown = sorted(set(metrics) - set(runs))
    if unknown:
        raise DataError(f"metrics for runs outside the band2025 matrix: {unknown}")
    verdicts = verdicts or Verdicts()
    rows = []
    for run in runs:
        parsed, ours = BandRun.parse(run), metrics.get(run)
        model = parsed.model
        # a run sharing another run's model (ftrepro.papers.with_shared) has that model's parameters
        trained = BandRun.parse(ours["shared_with"]).model if ours and ours.get("shared_with") else model
        loss = ours["log_loss"] if ours else None
        params = our_params.get(trained) / 1e6 if ours and trained in our_params else None
        paper = paper_loss.get(model) if parsed.is_lora else None
        interval = interval_columns(ours, "log_loss")
        accuracy = interval_columns(ours, "accuracy")
        rows.append(
            {
                "run": run,
                "model": run_label(run),
                "status": "ok" if ours else NOT_RUN,
                "in_paper": model in paper_params,  # Table 1 lists every model of the paper
                "shared_with": (ours or {}).get("shared_with", ""),
                "paper_log_loss": paper,
                "log_loss": loss,
                "log_loss_ci_lo": interval["ci_lo"],
                "log_loss_ci_hi": interval["ci_hi"],
                "seeds": interval["seeds"],
                "seed_sd": interval["seed_sd"],
                "verdict": verdicts(
                    "log_loss",
                    math.nan if paper is None else paper,
                    math.nan if loss is None else loss,
                    interval["ci_lo"],
                    interval["ci_hi"],
                ),
                "accuracy": ours["accuracy"] if ours else None,
                "accuracy_ci_lo": accuracy["ci_lo"],
                "accuracy_ci_hi": accuracy["ci_hi"],
                "n_examples": ours["n_examples"] if ours else None,
                **_improvement(ours, metrics.get(BASELINE)),
                "paper_params_millions": paper_params.get(model),
                "params_millions": params,
                "paper_efficiency": efficiency(paper_loss.get(model), paper_params.get(model))
                if parsed.is_lora
                else None,
                "efficiency": efficiency(loss, params),
            }
        )
    return pd.DataFrame(rows)


def _improvement(ours: Mapping | None, base: Mapping | None) -> dict:
    """improvement_pct, 100 x (base - ours) / base of the log losses, and its interval (improvement_ci_lo,
    _hi) from the two losses' standard errors as if independent (delta method; conservative, as the runs
    share their rows); NaN where a run or a standard error is missing."""
    nan = math.nan
    if not ours or not base:
        return {"improvement_pct": None, "improvement_ci_lo": nan, "improvement_ci_hi": nan}
    loss, reference = ours["log_loss"], base["log_loss"]
    gain = 100 * (reference - loss) / reference
    se = ours.get("se", {}).get("log_loss", nan), base.get("se", {}).get("log_loss", nan)
    half = NORMAL_QUANTILE * 100 * math.hypot(se[0] / reference, loss * se[1] / reference**2)
    if ours is base or ours.get("shared_with") == BASELINE:
        half = 0.0  # the reference against itself
    return {"improvement_pct": gain, "improvement_ci_lo": gain - half, "improvement_ci_hi": gain + half}


def _fmt(value, spec: str, missing: str = "") -> str:
    return missing if value is None or pd.isna(value) else format(value, spec)


def _paper(values: pd.Series, spec: str, in_paper: pd.Series) -> list[str]:
    return [_fmt(v, spec, NO_NUMBER if known else NOT_IN_PAPER) for v, known in zip(values, in_paper)]


def _ours_loss(row: Mapping) -> str:
    """Our log loss with the half-width of its interval and the verdict, or "not run"."""
    if row["log_loss"] is None or pd.isna(row["log_loss"]):
        return NOT_RUN
    loss = ours_text(
        row["log_loss"], ".4f", row["log_loss_ci_lo"], row["log_loss_ci_hi"], row["seeds"], row["seed_sd"]
    )
    return loss + verdict_mark(row["verdict"])


def side_columns(table: pd.DataFrame) -> dict[str, list[str]]:
    """The columns beside the log loss, as text: our accuracy, the gain over single DistilBERT (with
    their intervals), and the parameters and efficiency score, the paper's beside ours."""
    known = table["in_paper"]
    return {
        "accuracy": [
            ""
            if pd.isna(row["accuracy"])
            else ours_text(row["accuracy"], ".3f", row["accuracy_ci_lo"], row["accuracy_ci_hi"])
            for _, row in table.iterrows()
        ],
        "vs single DistilBERT": [
            ""
            if pd.isna(row["improvement_pct"])
            else ours_text(
                row["improvement_pct"],
                "+.1f",
                row["improvement_ci_lo"],
                row["improvement_ci_hi"],
                unit="%",
            )
            for _, row in table.iterrows()
        ],
        "params (M, paper / ours)": [
            f"{p} / {_fmt(o, '.2f', NO_NUMBER)}"
            for p, o in zip(_paper(table["paper_params_millions"], ".0f", known), table["params_millions"])
        ],
        "1/(loss x M params) (paper / ours)": [
            f"{p} / {_fmt(o, '.3g', NO_NUMBER)}"
            for p, o in zip(_paper(table["paper_efficiency"], ".3g", known), table["efficiency"])
        ],
    }


def html_layout(name: str, table: pd.DataFrame) -> pd.DataFrame | None:
    """How the HTML report lays out a table's CSV (ftrepro.jobs.Paper.layout): the log-loss table
    with the paper's number, ours and the difference in columns of their own, then side_columns;
    None (its markdown) for any other."""
    if name != "log_loss":
        return None
    return compared(
        table,
        {"model": "model"},
        headers={None: "log loss (test)"},
        spec=".4f",
        paper_spec=".2f",
        columns={
            "paper": "paper_log_loss",
            "ours": "log_loss",
            "ci_lo": "log_loss_ci_lo",
            "ci_hi": "log_loss_ci_hi",
        },
        extra=pd.DataFrame(side_columns(table)),
    )


def table_markdown(
    table: pd.DataFrame,
    stand_ins: Mapping[str, str] | None = None,
    basis: str = "paper",
    *,
    synthetic: bool = False,
    deviations: str = "",
) -> str:
    """The log-loss table under its title, naming the preset's `stand_ins` and shared models and
    whether its data is `synthetic`, ending on the count per verdict (`basis`: Verdicts.basis)
    and the paper's `deviations` section."""
    known = table["in_paper"]
    layout = pd.DataFrame(
        {
            "model": table["model"],
            "log loss (paper, test)": _paper(table["paper_log_loss"], ".2f", known),
            "log loss (ours, test)": [_ours_loss(row) for _, row in table.iterrows()],
            **side_columns(table),
        }
    )
    n_run = int((table["status"] == "ok").sum())
    shared = table[table["shared_with"].fillna("") != ""] if "shared_with" in table else table.iloc[:0]
    note = (
        data_note(synthetic)
        + stand_in_note(stand_ins or {})
        + "".join(
            f"Shared model: {row['model']} is the model of {run_label(row['shared_with'])} in this preset "
            "(the same weights and data); it was trained once.\n\n"
            for _, row in shared.iterrows()
        )
    )
    return (
        f"# band2025: log loss per model\n\n{n_run} of {len(table)} runs scored. The paper's losses are on "
        "Kaggle's hidden test set and only Llama's is printed (the encoders' are bars in Figure 10); ours are "
        "on our test split, held out of train.csv and seen by no run (each chose its checkpoint on the dev "
        "split).\n\n"
        + note
        + layout.to_markdown(index=False, disable_numparse=True)
        + "\n"
        + verdict_note(table["verdict"], basis)
        + (f"\n{deviations}" if deviations else "")
    )


def plot_log_loss(table: pd.DataFrame, path: Path, **stamp) -> Figure:
    """Figure 10: log loss per model (ours as bars; the paper's printed number as a marker), the
    legend outside the axes; saved stamped (`stamp`: ftrepro.report.save_figure's synthetic,
    preset, stand_ins)."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.subplots()
    x = range(len(table))
    ax.bar(
        x,
        table["log_loss"].fillna(0),
        yerr=error_bars(table["log_loss"], table["log_loss_ci_lo"], table["log_loss_ci_hi"]),
        capsize=3,
        color=["C0" if s == "ok" else "none" for s in table["status"]],
        edgecolor="C0",
        label="ours (test split, 95% interval)",
    )
    paper = table["paper_log_loss"].notna()
    ax.scatter(
        [i for i, p in zip(x, paper) if p],
        table["paper_log_loss"][paper],
        marker="D",
        color="C3",
        zorder=3,
        label="paper (Kaggle test)",
    )
    for i, status in zip(x, table["status"]):
        if status != "ok":
            ax.text(i, 0.02, NOT_RUN, rotation=90, ha="center", va="bottom", color="grey")
    ax.axhline(1.0986, linestyle=":", color="grey", label="uniform (ln 3)")
    ax.set_xticks(list(x), table["model"], rotation=30, ha="right")
    ax.set(ylabel="log loss (ours: test split)", title="Figure 10: model loss comparison")
    outside_legend(fig, fontsize="small")
    save_figure(fig, path, **stamp)
    return fig


def plot_improvement(table: pd.DataFrame, path: Path, **stamp) -> Figure:
    """Figure 11: percentage improvement in log loss over the single DistilBERT, the legend outside
    the axes; saved stamped as plot_log_loss."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.subplots()
    x = range(len(table))
    gain = table["improvement_pct"]
    ax.bar(
        x,
        gain.fillna(0),
        yerr=error_bars(gain, table["improvement_ci_lo"], table["improvement_ci_hi"]),
        capsize=3,
        color="C0",
        label="ours, 95% interval\n(the two losses' errors\ntaken as independent)",
    )
    if table["improvement_pct"].isna().all():
        ax.text(0.5, 0.5, f"single DistilBERT: {NOT_RUN}", transform=ax.transAxes, ha="center", color="grey")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(list(x), table["model"], rotation=30, ha="right")
    ax.set(
        ylabel="test log loss gain over\nsingle DistilBERT (%)",
        title="Figure 11: percentage improvement over baseline",
    )
    outside_legend(fig, fontsize="small")
    save_figure(fig, path, **stamp)
    return fig


def write_submission(predictions_path: str | PathLike, out_path: str | PathLike) -> int:
    """A Kaggle submission (id, winner_model_a, winner_model_b, winner_tie) from a run's predictions; row count."""
    n = 0
    with atomic_path(out_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *WINNER_COLUMNS])
        for n, record in enumerate(iter_jsonl(predictions_path), start=1):
            try:
                writer.writerow(
                    [record["id"], *(float(record["probs"][label]) for label in WINNER_COLUMNS.values())]
                )
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(
                    f"{predictions_path}: record {n}: no id or probabilities for A, B, tie ({e})"
                ) from e
    return n


def write_band_report(
    runs: list[str],
    metrics: Mapping[str, Mapping],
    targets: str | PathLike,
    parameters: str | PathLike,
    our_params: Mapping[str, int],
    out_dir: str | PathLike,
    stand_ins: Mapping[str, str] | None = None,
    verdicts: Verdicts | None = None,
    *,
    synthetic: bool = False,
    deviations: str = "",
    preset: str | None = None,
) -> pd.DataFrame:
    """tables/log_loss.{csv,md} and figures/figure{10,11}.png under `out_dir`; returns the table.
    `stand_ins` {model: what the preset trains under it} are named above the table and with the
    `preset` on the figures, `synthetic` data in the table and the figures, the paper's
    `deviations` section under the table; `verdicts` judge our log losses against the paper's."""
    verdicts = verdicts or Verdicts()
    out_dir = Path(out_dir)
    table = log_loss_table(
        runs,
        metrics,
        read_numbers(targets, "log_loss"),
        read_numbers(parameters, "params_millions"),
        our_params,
        verdicts,
    )
    with atomic_path(out_dir / "tables" / "log_loss.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_dir / "tables" / "log_loss.md") as tmp:
        tmp.write_text(
            table_markdown(table, stand_ins, verdicts.basis, synthetic=synthetic, deviations=deviations),
            encoding="utf-8",
        )
    stamp = {"synthetic": synthetic, "preset": preset, "stand_ins": stand_ins}
    plot_log_loss(table, out_dir / "figures" / "figure10.png", **stamp)
    plot_improvement(table, out_dir / "figures" / "figure11.png", **stamp)
    return table
