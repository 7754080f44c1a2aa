"""Table 3 of zhao2025: the paper's number next to ours for every cell.

The targets CSV (config/targets/zhao2025_table3.csv) has one row per model / shots / finetuned
and eight value columns; each cell is one metric of one run. A run we have no metrics for is
reported as "not run", never filled in. The matrix may hold more than the paper: a model, shot
setting or task the paper has not gets its rows and columns, the paper's cell "not in paper".

Each cell of ours carries its 95% interval (ci_lo, ci_hi; the seeds' count and spread where a
cell aggregates several) and its verdict against the paper's number (ftrepro.report.Verdicts).

Decoder and API runs add, beside each cell, what the paper's generation numbers must not absorb:
``constrained`` (the label chosen by likelihood among the candidates, our addition) and the run's
``parse_failure_rate`` and ``too_long_rate``. The markdown shows them as separate tables.
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path

import pandas as pd

from ftrepro.data import WORD_SUBTASKS
from ftrepro.io import DataError, atomic_path
from ftrepro.papers.zhao2025.runs import BASELINE, ZhaoRun, baseline_run
from ftrepro.report import (
    NOT_IN_PAPER,
    NOT_RUN,
    Verdicts,
    compared,
    interval_columns,
    ours_text,
    verdict_mark,
    verdict_note,
)

# target column -> (dataset, setup, run task, metric key in metrics.json)
CELLS = {
    "ng20_dual_20class": ("20newsgroups", "dual", "20ng-20class", "20class_accuracy"),
    "ng20_dual_7class": ("20newsgroups", "dual", "20ng-7class", "7class_accuracy"),
    "ng20_consolidated_20class": ("20newsgroups", "consolidated", "20ng-joint", "20class_accuracy"),
    "ng20_consolidated_7class": ("20newsgroups", "consolidated", "20ng-joint", "7class_accuracy"),
    "massive_dual_intent": ("massive", "dual", "massive-intent", "intent_accuracy"),
    "massive_dual_slots": ("massive", "dual", "massive-slots", "slots_f1"),
    "massive_consolidated_intent": ("massive", "consolidated", "massive-joint", "intent_accuracy"),
    "massive_consolidated_slots": ("massive", "consolidated", "massive-joint", "slots_f1"),
}
# markdown headers in the paper's column order
HEADERS = {
    "ng20_dual_20class": "20NG dual 20-class",
    "ng20_dual_7class": "20NG dual 7-class",
    "ng20_consolidated_20class": "20NG consolidated 20-class",
    "ng20_consolidated_7class": "20NG consolidated 7-class",
    "massive_dual_intent": "MASSIVE dual intent",
    "massive_dual_slots": "MASSIVE dual slots F1",
    "massive_consolidated_intent": "MASSIVE consolidated intent",
    "massive_consolidated_slots": "MASSIVE consolidated slots F1",
}
KEY_COLUMNS = ["model", "shots", "finetuned"]
# run-level rates of generated predictions (percent of test records), ftrepro.metrics
RATES = {"parse_failure_rate": "parse failures", "too_long_rate": "too long"}
# and the count of test prompts over the model's context (each scored wrong)
TOO_LONG = "n_too_long"
SHOTS = {"": None, "zero": "zero-shot", "five": "five-shot"}
FINETUNED = {"yes": "ft", "no": "noft"}


def read_targets(path: str | PathLike) -> pd.DataFrame:
    """The targets CSV as a DataFrame: key columns as strings ("" = no shots), values as floats.

    Lines starting with '#' are comments. Errors name the file and the line.
    """
    path = Path(path)
    linenos, lines = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            linenos.append(lineno)
            lines.append(line)
    if not lines:
        raise DataError(f"{path}: no header line")
    table = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)
    expected = KEY_COLUMNS + list(CELLS)
    if list(table.columns) != expected:
        raise DataError(f"{path}: line {linenos[0]}: columns must be {','.join(expected)}")
    for i, row in table.iterrows():
        where = f"{path}: line {linenos[i + 1]}"
        if row["shots"] not in SHOTS:
            raise DataError(f"{where}: shots must be five, zero or empty, got {row['shots']!r}")
        if row["finetuned"] not in FINETUNED:
            raise DataError(f"{where}: finetuned must be yes or no, got {row['finetuned']!r}")
        for column in CELLS:
            try:
                ok = math.isfinite(float(row[column]))
            except ValueError:
                ok = False
            if not ok:
                raise DataError(f"{where}: {column} must be a number, got {row[column]!r}")
    if table.duplicated(KEY_COLUMNS).any():
        dup = table[table.duplicated(KEY_COLUMNS)].index[0]
        raise DataError(f"{path}: line {linenos[dup + 1]}: duplicate model/shots/finetuned row")
    return table.astype({column: float for column in CELLS})


def run_name(model: str, shots: str, finetuned: str, task: str) -> str:
    """The run behind a target row (names: ftrepro.papers.zhao2025.runs)."""
    if shots not in SHOTS or finetuned not in FINETUNED:
        raise ValueError(
            f"run_name: shots must be five/zero/'' and finetuned yes/no, got {shots!r}, {finetuned!r}"
        )
    if not shots:
        if finetuned != "yes":
            raise ValueError(f"run_name: a row without shots must be fine-tuned ({task}, {model})")
        return ZhaoRun(task, model).name
    return ZhaoRun(task, model, SHOTS[shots], FINETUNED[finetuned]).name


def parse_run_name(run: str) -> dict[str, str]:
    """Inverse of run_name: {"task", "model", "shots", "finetuned"} in the targets' spelling."""
    parsed = ZhaoRun.parse(run)
    shots = {v: k for k, v in SHOTS.items()}[parsed.shots]
    finetuned = {v: k for k, v in FINETUNED.items()}[parsed.mode]
    return {"task": parsed.task, "model": parsed.model, "shots": shots, "finetuned": finetuned}


def _ours(run: str, metric: str, metrics: Mapping[str, Mapping]) -> float | None:
    """Our value of one cell, or None when the run was not run."""
    run_metrics = metrics.get(run)
    if run_metrics is None or run_metrics.get("status") == NOT_RUN:
        return None
    value = run_metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise DataError(f"metrics of run {run}: {metric!r} must be a finite number, got {value!r}")
    return float(value)


def _optional(run: str, key: str, metrics: Mapping[str, Mapping]) -> float:
    """A metric of a run that was run, which only some runs have (constrained decoding,
    generation rates); NaN where absent."""
    return _ours(run, key, metrics) if key in metrics[run] else math.nan


def table_cells(tasks: Mapping[str, Mapping] | None = None) -> dict[str, tuple[str, str, str, str]]:
    """The paper's cells (CELLS), then one per subtask of each task in ``tasks`` (config
    zhao2025.tasks) that the paper has not: column -> (dataset, setup, task, metric)."""
    paper_tasks = {task for _, _, task, _ in CELLS.values()}
    extra = {
        f"{task}_{subtask}": (
            spec["dataset"],
            "dual" if len(spec["subtasks"]) == 1 else "consolidated",
            task,
            f"{subtask}_f1" if subtask in WORD_SUBTASKS else f"{subtask}_accuracy",
        )
        for task, spec in (tasks or {}).items()
        if task not in paper_tasks
        for subtask in spec["subtasks"]
    }
    return {**CELLS, **extra}


def _row_keys(targets: pd.DataFrame, runs: Iterable[str]) -> list[tuple[str, str, str]]:
    """(model, shots, finetuned) of every target row, then of the runs the targets have not."""
    keys = [tuple(row) for row in targets[KEY_COLUMNS].itertuples(index=False)]
    for run in runs:
        parsed = parse_run_name(run)
        keys.append((parsed["model"], parsed["shots"], parsed["finetuned"]))
    return list(dict.fromkeys(keys))


def build_table3(
    targets: pd.DataFrame,
    metrics: Mapping[str, Mapping],
    runs: Iterable[str] = (),
    tasks: Mapping[str, Mapping] | None = None,
    baselines: Iterable[str] = (),
    stand_ins: Mapping[str, str] | None = None,
    verdicts: Verdicts | None = None,
) -> pd.DataFrame:
    """Long table, one row per cell: keys, dataset, setup, task, metric, run, in_paper, paper, ours,
    diff, status, ci_lo, ci_hi, seeds, seed_sd, verdict (by `verdicts`), then constrained (and its
    interval), parse_failure_rate, too_long_rate and n_too_long (NaN unless the run has them).
    `metrics` maps run name -> metrics.json dict; an absent run or {"status": "not run"} gives status
    "not run" with empty ours and diff. `runs` (the matrix's run names) and `tasks` (config
    zhao2025.tasks) add the rows and columns the paper has not, with in_paper false and no paper value.
    A run whose metrics carry "shared_with" (its model is that run's, ftrepro.papers.with_shared)
    names it in the shared_with column. `baselines` (methods, ftrepro.papers.zhao2025.baselines) add
    a row each, finetuned "baseline", whose cells read the method's run on the cell's dataset.
    `stand_ins` ({model name: what the preset stands behind it}) fill the stand_in column."""
    paper_values = {tuple(row[KEY_COLUMNS]): row for _, row in targets.iterrows()}
    verdicts = verdicts or Verdicts()
    keys = _row_keys(targets, runs) + [(method, "", BASELINE) for method in baselines]
    rows = []
    for key in keys:
        target = paper_values.get(key)
        for column, (dataset, setup, task, metric) in table_cells(tasks).items():
            run = baseline_run(dataset, key[0]) if key[2] == BASELINE else run_name(*key, task)
            in_paper = target is not None and column in CELLS
            rows.append(
                {
                    **dict(zip(KEY_COLUMNS, key)),
                    "stand_in": (stand_ins or {}).get(key[0], ""),
                    "column": column,
                    "dataset": dataset,
                    "setup": setup,
                    "task": task,
                    "metric": metric,
                    "run": run,
                    "in_paper": in_paper,
                    "paper": float(target[column]) if in_paper else math.nan,
                    **_compared(
                        run, metric, float(target[column]) if in_paper else math.nan, metrics, verdicts
                    ),
                }
            )
    return pd.DataFrame(rows)


def _compared(
    run: str, metric: str, paper: float, metrics: Mapping[str, Mapping], verdicts: Verdicts
) -> dict:
    """Our value of a cell with its interval, its difference to the paper's and verdict, and the
    run's side numbers."""
    ours = _ours(run, metric, metrics)
    interval = interval_columns(metrics.get(run) if ours is not None else None, metric)
    verdict = verdicts(
        metric, paper, math.nan if ours is None else ours, interval["ci_lo"], interval["ci_hi"]
    )
    if ours is None:
        side = dict.fromkeys(
            ["constrained", "constrained_ci_lo", "constrained_ci_hi", *RATES, TOO_LONG], math.nan
        )
        return {
            "ours": math.nan,
            "diff": math.nan,
            "status": NOT_RUN,
            **interval,
            "verdict": verdict,
            **side,
            "shared_with": "",
        }
    constrained = interval_columns(metrics[run], f"constrained_{metric}")
    return {
        "ours": ours,
        "diff": ours - paper,
        "status": "ok",
        **interval,
        "verdict": verdict,
        "constrained": _optional(run, f"constrained_{metric}", metrics),
        "constrained_ci_lo": constrained["ci_lo"],
        "constrained_ci_hi": constrained["ci_hi"],
        **{rate: _optional(run, rate, metrics) for rate in [*RATES, TOO_LONG]},
        "shared_with": metrics[run].get("shared_with", ""),
    }


def table3_runs(targets: pd.DataFrame) -> list[str]:
    """Every run name Table 3 needs, in table order without repeats."""
    rows = build_table3(targets, {})
    return list(dict.fromkeys(rows["run"]))


def _cell_text(cell: pd.Series) -> str:
    paper = f"{cell['paper']:.1f}" if cell["in_paper"] else NOT_IN_PAPER
    if cell["status"] != "ok":
        return f"{paper} / {NOT_RUN}"
    diff = f" ({cell['diff']:+.1f})" if cell["in_paper"] else ""
    ours = ours_text(cell["ours"], ".1f", cell["ci_lo"], cell["ci_hi"], cell["seeds"], cell["seed_sd"])
    return f"{paper} / {ours}{diff}{verdict_mark(cell['verdict'])}"


def _header(column: str) -> str:
    return HEADERS.get(column, column.replace("_", " "))


def paper_layout(table: pd.DataFrame) -> pd.DataFrame:
    """The long table back in the paper's layout, one text cell "paper / ours (diff)" each, and
    beside the model the stand-in the preset trained under its name, where it has one."""
    stand_in = "stand_in" in table and (table["stand_in"].fillna("") != "").any()
    rows = []
    for (model, shots, finetuned), cells in table.groupby(KEY_COLUMNS, sort=False):
        named = {"stand-in": cells["stand_in"].fillna("").iloc[0]} if stand_in else {}
        row = {"model": model, **named, "shots": shots, "finetuned": finetuned}
        for _, cell in cells.iterrows():
            row[_header(cell["column"])] = _cell_text(cell)
        rows.append(row)
    return pd.DataFrame(rows)


def html_layout(name: str, table: pd.DataFrame) -> pd.DataFrame | None:
    """How the HTML report lays out Table 3's CSV (ftrepro.jobs.Paper.layout): a row per model,
    shots and fine-tuning, and per cell the paper's number, ours and the difference in columns of
    their own (the report names the stand-ins above the paper's tables); None (its markdown) for
    any other table."""
    if name != "table3":
        return None
    keys = {"model": "model", "shots": "shots", "finetuned": "finetuned"}
    headers = {column: _header(column) for column in table["column"].unique()}
    return compared(table, keys, group="column", headers=headers, spec=".1f")


def constrained_layout(table: pd.DataFrame) -> pd.DataFrame:
    """Our constrained-decoding accuracy per cell, for the rows whose runs have one."""
    cells = table.dropna(subset=["constrained"])
    headers = [_header(c) for c in dict.fromkeys(table["column"]) if c in set(cells["column"])]
    rows = []
    for keys, group in cells.groupby(KEY_COLUMNS, sort=False):
        rows.append(
            {
                **dict(zip(KEY_COLUMNS, keys)),
                **dict.fromkeys(headers, ""),
                **{
                    _header(c["column"]): ours_text(
                        c["constrained"], ".1f", c["constrained_ci_lo"], c["constrained_ci_hi"]
                    )
                    for _, c in group.iterrows()
                },
            }
        )
    return pd.DataFrame(rows, columns=KEY_COLUMNS + headers)


def failure_layout(table: pd.DataFrame) -> pd.DataFrame:
    """ "parse failures / too long" (percent of test records) per run, for the generated ones."""
    runs = table.dropna(subset=list(RATES), how="all").drop_duplicates("run")
    tasks = list(dict.fromkeys(table["task"]))
    rows = []
    for keys, group in runs.groupby(KEY_COLUMNS, sort=False):
        row = {**dict(zip(KEY_COLUMNS, keys)), **dict.fromkeys(tasks, "")}
        for _, run in group.iterrows():
            row[run["task"]] = " / ".join(
                "-" if math.isnan(run[rate]) else f"{run[rate]:.1f}" for rate in RATES
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=KEY_COLUMNS + tasks)


def too_long_note(table: pd.DataFrame) -> str:
    """A line naming the runs with test prompts over their model's context ("" when none has)."""
    runs = table[table[TOO_LONG].fillna(0) > 0].drop_duplicates("run")
    if runs.empty:
        return ""
    counts = "; ".join(f"{row['run']}: {int(row[TOO_LONG])}" for _, row in runs.iterrows())
    return f"**Prompts over the context, scored wrong:** {counts}.\n\n"


def shared_note(table: pd.DataFrame) -> str:
    """One sentence per model whose rows repeat another model's numbers ("" when none do)."""
    shared = table[table["shared_with"].fillna("") != ""]
    owners: dict[str, set[str]] = {}
    for _, row in shared.iterrows():
        owners.setdefault(ZhaoRun.parse(row["shared_with"]).model, set()).add(row["model"])
    return "".join(
        f"Shared model: {', '.join(sorted(models))} resolve to the same weights, data and recipe as "
        f"{owner} in this preset; one model was trained and their rows repeat its numbers.\n\n"
        for owner, models in owners.items()
    )


def _section(title: str, layout: pd.DataFrame) -> str:
    return (
        f"\n## {title}\n\n{layout.to_markdown(index=False, disable_numparse=True)}\n" if len(layout) else ""
    )


def preset_note(
    preset: str,
    caps: Mapping[str, Mapping[str, int]],
    full_rows: Mapping[str, Mapping[str, int]],
    held_out_dev: Mapping[str, int],
    max_length: Mapping[str, int],
    baselines: Mapping[str, str],
    decoder_rows: int | None = None,
) -> str:
    """What a preset changed under the paper's names, for the reader of its table: the rows of
    each dataset's splits where capped (`caps` of `full_rows`), the train rows held out as a dev
    split, the encoders' max length per dataset, the test rows the decoders predict (a seeded
    sample, where `decoder_rows` is set) and what each baseline row is ({method: text})."""
    capped = [
        f"{dataset} {split} {rows:,} of {full_rows[dataset][split]:,} rows"
        for dataset, splits in caps.items()
        for split, rows in splits.items()
        if split in full_rows.get(dataset, {}) and rows < full_rows[dataset][split]
    ]
    capped += [f"{dataset} dev {rows:,} rows held out of train" for dataset, rows in held_out_dev.items()]
    lines = [
        f"Preset {preset}: {'; '.join(capped) or 'every row of every split'}; encoders read at most "
        f"{', '.join(f'{n} tokens of {d}' for d, n in max_length.items())}."
    ]
    if decoder_rows is not None:
        lines.append(
            "Our decoder runs (fine-tuned and prompted; not the API models) predict a seeded sample "
            f"of at most {decoder_rows:,} rows of each test split; encoders and baselines predict "
            "every row of it."
        )
    lines += [f"Baseline {method} (not in the paper): {text}." for method, text in baselines.items()]
    return "".join(line + "\n\n" for line in lines)


def below_baselines(table: pd.DataFrame, encoders: Iterable[str]) -> pd.DataFrame:
    """The cells of fine-tuned `encoders` below the best baseline of their column, with that
    `floor`: a fine-tuned encoder under TF-IDF or a frozen encoder is a bug in its recipe."""
    scored = table[table["status"] == "ok"]
    floor = scored[scored["finetuned"] == BASELINE].groupby("column")["ours"].max()
    cells = scored[scored["model"].isin(list(encoders)) & (scored["finetuned"] != BASELINE)]
    # a float column even where no baseline ran (mapping by an empty Series keeps the str dtype)
    cells = cells.assign(floor=cells["column"].map(floor).astype(float))
    return cells[cells["ours"] < cells["floor"]]


def floor_note(below: pd.DataFrame) -> str:
    """A line for the table naming the cells `below_baselines` found ("" when none)."""
    if below.empty:
        return ""
    cells = "; ".join(
        f"{cell['model']} {_header(cell['column'])} {cell['ours']:.1f} < {cell['floor']:.1f}"
        for _, cell in below.iterrows()
    )
    return f"**Below the baselines (a bug in the encoder recipe):** {cells}.\n\n"


def write_table3(
    table: pd.DataFrame,
    csv_path: str | PathLike,
    md_path: str | PathLike,
    note: str = "",
    basis: str = "paper",
    *,
    deviations: str = "",
) -> None:
    """CSV of the long table and markdown (both atomic): the paper's layout ending on the count
    per verdict (`basis`: Verdicts.basis), then our constrained-decoding numbers and the
    generation failure rates, each a table of its own. `note` (preset_note) goes above the
    tables, the paper's `deviations` section under them."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    n_run = int((table["status"] == "ok").sum())
    text = (
        "# zhao2025 Table 3: paper / ours (ours - paper)\n\n"
        "Percent: accuracy for 20NG and MASSIVE intent, seqeval micro F1 for MASSIVE slots. "
        f"{n_run} of {len(table)} cells run.\n\n"
        + note
        + shared_note(table)
        + too_long_note(table)
        + paper_layout(table).to_markdown(index=False)
        + "\n"
        + verdict_note(table["verdict"], basis)
        + _section(
            "Constrained decoding (ours, not in the paper): the candidate label of highest likelihood",
            constrained_layout(table),
        )
        + _section(
            "Generated outputs: parse failures / prompts too long for the context (% of test records)",
            failure_layout(table),
        )
        + (f"\n{deviations}" if deviations else "")
    )
    with atomic_path(md_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
