"""gupta2023 (the thesis): pooled STL scores, the no-training anchors, Tables 5.1/5.2, the
headline numbers and Figures 5.1-5.4, the thesis's value beside ours wherever it has one.

STL pooling: the thesis's STL number of a setting scores the predictions of all its task models
together (each model predicts its own task). We pool the per-task metrics of the STL runs, each
task mean weighted by its number of examples, which is the mean over all pooled examples. It
equals scoring the concatenated predictions up to the 4-decimal rounding of each task mean
(off by at most 0.0001 after the final rounding); the thesis reports 2 decimals. Pooling metrics
rather than predictions keeps the report on the runs' metrics.json files, with no rescoring.

Intervals: a pooled cell's interval combines its groups' (ftrepro.metrics.pooled_interval: each
task or category resampled within itself); a cell of one group keeps that group's bootstrap
interval. Every cell of ours gets a verdict against the thesis's number (ftrepro.report.Verdicts),
and the figures draw our intervals as error bars.

Categories: the thesis names six SuperNI categories and folds the other six into
"other_categories" (Table 4.3); a column is pooled over its examples like the whole.
A setting or column without our metrics reads "not run", never a made-up number; a setting the
thesis has no number for at all reads "not in thesis", one it has but not in this table "–".
The work is a thesis, and its tables and figures here call it that throughout ("thesis", never
"paper"); the CSVs keep the columns every paper's tables share (paper, in_paper, diff).
Tables 5.1/5.2 hold the baselines only; the Tk-Instruct category numbers the text of Chapter 5
gives (config/targets/gupta2023_tk_categories.csv) are listed under them and drawn in Figures
5.2/5.4. The two no-training anchors are the Tk-Instruct README's (gupta2023_anchors.csv), shown as
a reference beside ours, never as the thesis's; Tk-Instruct few-shot without fine-tuning is the
thesis's own (54.30, Figure 1.1), a headline row with its verdict. Figure 1.1 and the case study
are built from these tables and the runs (ftrepro.papers.gupta2023.figure1, .case_study).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ftrepro.data.superni import read_task, task_records
from ftrepro.io import DataError, atomic_path, read_json
from ftrepro.metrics import SUPERNI_METRICS, pooled_interval
from ftrepro.papers.gupta2023.runs import ANCHORS, GuptaRun, fewshot_model
from ftrepro.report import (
    COMPARED,
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

THESIS_CATEGORIES = (
    "answerability_classification",
    "coreference_resolution",
    "data_to_text",
    "question_rewriting",
    "textual_entailment",
    "title_generation",
)
OTHER_CATEGORIES = "other_categories"
COLUMNS = (*THESIS_CATEGORIES, OTHER_CATEGORIES)
HEADERS = dict(
    zip(
        COLUMNS,
        (
            "Answerability Classification",
            "Coreference Resolution",
            "Data to Text",
            "Question Rewriting",
            "Textual Entailment",
            "Title Generation",
            "Other Categories",
        ),
    )
)
PARADIGMS = ("stl", "mtl")
FEWSHOT = "fewshot"  # the results' setting of Tk-Instruct few-shot without fine-tuning (0 samples)
# samples_per_task of a Tk-Instruct category number of the thesis's text whose size it does not name
TEXT_SUMMARIES = ("best", "mean")
# x position of "all" samples per task: the thesis's mean training instances per task (Table 4.3)
ALL_SAMPLES_X = 374745 / 119
SAMPLE_TICKS = {"100": 100, "200": 200, "500": 500, "1000": 1000, "all": ALL_SAMPLES_X}
NO_NUMBER = "–"  # a setting of the thesis without a number in this table
THESIS = "thesis"  # the word for the work reproduced, in every table and figure (never "paper")
NOT_IN_THESIS = f"not in {THESIS}"


# --- pooling ----------------------------------------------------------------------------------


def pool(groups: Iterable[Mapping]) -> dict:
    """Example-weighted mean of group metrics {"rougeL", "exact_match", "n"}, rounded as compute_metrics.py;
    with the pooled "ci" and "se" where every group has intervals."""
    groups = list(groups)
    n = sum(g["n"] for g in groups)
    if not n:
        raise ValueError("pool: no examples")
    means = {metric: round(sum(g[metric] * g["n"] for g in groups) / n, 4) for metric in SUPERNI_METRICS}
    intervals = {metric: pooled_interval(groups, metric, means[metric]) for metric in SUPERNI_METRICS}
    if any(interval is None for interval in intervals.values()):
        return {**means, "n": n}
    ci = {metric: interval[0] for metric, interval in intervals.items()}
    return {**means, "n": n, "ci": ci, "se": {metric: interval[1] for metric, interval in intervals.items()}}


def pool_stl(runs: Iterable[Mapping]) -> dict:
    """One metrics dict (the shape of score_superni_predictions) for the STL runs of a setting."""
    per_task: dict[str, Mapping] = {}
    for run in runs:
        for task, metrics in run["per_task"].items():
            if task in per_task:
                raise DataError(f"STL pooling: task {task} is scored by more than one run")
            per_task[task] = metrics
    overall = pool(per_task.values())
    categories = sorted({m["category"] for m in per_task.values()})
    per_category = {c: pool(m for m in per_task.values() if m["category"] == c) for c in categories}
    intervals = {key: overall[key] for key in ("ci", "se") if key in overall}
    return {
        "rougeL": overall["rougeL"],
        "exact_match": overall["exact_match"],
        "n_examples": overall["n"],
        "per_task": per_task,
        "per_category": per_category,
        **intervals,
    }


def thesis_column(category: str) -> str:
    """The thesis's column of a normalised SuperNI category key."""
    return category if category in THESIS_CATEGORIES else OTHER_CATEGORIES


def thesis_categories(metrics: Mapping) -> dict[str, dict]:
    """The run's per-category metrics pooled into the thesis's columns (only columns with examples)."""
    per_category = metrics["per_category"]
    columns = {
        column: [m for c, m in per_category.items() if thesis_column(c) == column] for column in COLUMNS
    }
    return {column: pool(groups) for column, groups in columns.items() if groups}


# --- anchors without training (Tk-Instruct src/run_heuristics.py) ------------------------------


def _tasks(derived_dir: Path, tasks: Iterable[str] | None) -> list[str]:
    return list(tasks) if tasks is not None else list(read_json(derived_dir / "manifest.json")["test_tasks"])


def _prediction(record: Mapping, prediction: str) -> dict:
    keys = ("task", "category", "id")
    return {**{k: record[k] for k in keys}, "prediction": prediction, "references": record["references"]}


def copy_input_predictions(derived_dir: str | PathLike, tasks: Iterable[str] | None = None) -> list[dict]:
    """Prediction records whose prediction is the instance input; tasks default to the manifest's."""
    derived_dir = Path(derived_dir)
    return [
        _prediction(r, r["input"])
        for task in _tasks(derived_dir, tasks)
        for r in task_records(derived_dir, [task], "test")
    ]


def _first_demo_output(raw_dir: Path, task: str) -> str:
    path = raw_dir / "tasks" / f"{task}.json"
    examples = read_task(path)["Positive Examples"]
    if not examples:
        raise DataError(f"{path}: field 'Positive Examples' is empty: no demonstration output to copy")
    return examples[0]["output"]


def copy_demo_predictions(
    raw_dir: str | PathLike, derived_dir: str | PathLike, tasks: Iterable[str] | None = None
) -> list[dict]:
    """Prediction records whose prediction is the task's first positive example output."""
    raw_dir, derived_dir = Path(raw_dir), Path(derived_dir)
    records = []
    for task in _tasks(derived_dir, tasks):
        demo = _first_demo_output(raw_dir, task)
        records += [_prediction(r, demo) for r in task_records(derived_dir, [task], "test")]
    return records


# --- runs and targets -------------------------------------------------------------------------


def group_runs(metrics_by_run: Mapping[str, Mapping]) -> tuple[dict, dict, dict]:
    """{run name: metrics} -> STL {setting: {task: m}}, MTL {setting: m}, anchors {method: m}.

    Run names: stl.<task>.<setting>, mtl.<setting>, anchor.<method>; the few-shot run
    (`fewshot_metrics`) and the ablation's (read by name) are none of these.
    """
    stl: dict[str, dict] = {}
    mtl: dict[str, Mapping] = {}
    anchors: dict[str, Mapping] = {}
    for name, metrics in metrics_by_run.items():
        run = GuptaRun.parse(name)
        if run.paradigm == "stl":
            stl.setdefault(run.setting, {})[run.task] = metrics
        elif run.paradigm in ("mtl", "anchor"):
            (mtl if run.paradigm == "mtl" else anchors)[run.setting] = metrics
    return stl, mtl, anchors


def fewshot_metrics(metrics_by_run: Mapping[str, Mapping]) -> Mapping | None:
    """The metrics of the few-shot run (fewshot.<model>) among `metrics_by_run`; None: not run."""
    found = [m for name, m in metrics_by_run.items() if GuptaRun.parse(name).paradigm == FEWSHOT]
    return found[0] if found else None


def read_targets(
    path: str | PathLike, value_columns: Sequence[str], settings: Sequence[str] = PARADIGMS
) -> pd.DataFrame:
    """A targets CSV ('#' lines are comments): setting (one of `settings`: stl|mtl), system, the key
    columns, values."""
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in ("setting", "system", *value_columns) if c not in table.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (has {list(table.columns)})")
    bad = table[~table["setting"].isin(settings)]
    if len(bad):
        raise DataError(
            f"{path}: setting must be {' or '.join(settings)}, got {bad['setting'].iloc[0]!r} "
            f"({bad['system'].iloc[0]})"
        )
    try:
        table = table.astype({c: float for c in value_columns})
    except ValueError as e:
        raise DataError(f"{path}: a value is not a number: {e}") from e
    keys = [c for c in table.columns if c not in value_columns]
    if table.duplicated(keys).any():
        raise DataError(f"{path}: duplicate row {dict(table[table.duplicated(keys)].iloc[0][keys])}")
    table.attrs["source"] = str(path)
    return table


def target_system(name: str, setting: Mapping) -> str:
    """The targets' spelling of a setting's system: the model itself for the instruction-tuned
    settings (tk-instruct-3b), "<name>-<model>[-prefinetuned]" for a baseline."""
    if setting["instructions"]:
        return setting["model"]
    return f"{name}-{setting['model']}" + ("-prefinetuned" if setting.get("init") == "prefinetuned" else "")


def _ours(metrics: Mapping | None) -> Mapping | None:
    return None if metrics is None or metrics.get("status") == NOT_RUN else metrics


def _check_names(kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise DataError(f"gupta2023 report: unknown {kind} {unknown}; known: {sorted(known)}")


def ours_by_paradigm(
    stl_metrics: Mapping[str, Mapping[str, Mapping]],
    mtl_metrics: Mapping[str, Mapping],
    settings: Mapping[str, Mapping],
) -> dict[str, dict[str, Mapping | None]]:
    """{paradigm: {setting: metrics or None (not run)}}; a setting's STL runs pooled over the tasks
    run (the headline's n_tasks shows how many)."""
    _check_names("STL settings", stl_metrics, settings)
    _check_names("MTL settings", mtl_metrics, settings)
    stl = {name: [m for m in stl_metrics.get(name, {}).values() if _ours(m)] for name in settings}
    return {
        "stl": {name: pool_stl(runs) if runs else None for name, runs in stl.items()},
        "mtl": {name: _ours(mtl_metrics.get(name)) for name in settings},
    }


# --- tables -----------------------------------------------------------------------------------


def _keys(paradigm: str, name: str, setting: Mapping, thesis: set[tuple[str, str]]) -> dict:
    """A setting's row keys; `thesis` holds the (system, samples) the thesis has numbers for."""
    system, samples = target_system(name, setting), str(setting["samples"])
    return {
        "paradigm": paradigm,
        "setting": name,
        "system": system,
        "samples_per_task": samples,
        "instructions": bool(setting["instructions"]),
        "in_paper": (system, samples) in thesis,
    }


def thesis_settings(results: pd.DataFrame) -> set[tuple[str, str]]:
    """(system, samples per task) of every setting the thesis reports (its overall numbers)."""
    return {(r["system"], r["samples_per_task"]) for _, r in results.iterrows()}


def _compare(paper: float, metrics: Mapping | None, verdicts: Verdicts) -> dict:
    """A cell's ROUGE-L: the thesis's, ours with its interval, the difference and the verdict."""
    ours = float("nan") if metrics is None else metrics["rougeL"]
    interval = interval_columns(metrics, "rougeL")
    return {
        "paper": paper,
        "ours": ours,
        "diff": ours - paper,
        "status": NOT_RUN if metrics is None else "ok",
        **interval,
        "verdict": verdicts("rougeL", paper, ours, interval["ci_lo"], interval["ci_hi"]),
    }


def _sizes(metrics: Mapping | None) -> dict:
    if metrics is None:
        return {"exact_match": float("nan"), "n_tasks": 0, "n_examples": 0}
    return {
        "exact_match": metrics["exact_match"],
        "n_tasks": len(metrics["per_task"]),
        "n_examples": metrics["n_examples"],
    }


def _check_covered(targets: pd.DataFrame, keys: set, columns: list[str]) -> None:
    """Every targets row must belong to a configured setting, or its number would silently vanish."""
    for _, row in targets.iterrows():
        if tuple(row[c] for c in columns) not in keys:
            raise DataError(
                f"{targets.attrs.get('source', 'targets')}: row {dict(row[columns])} "
                "matches no gupta2023 setting of the config"
            )


def read_anchor_references(path: str | PathLike | None) -> dict[str, tuple[float, str]]:
    """{method: (ROUGE-L, source)} of gupta2023_anchors.csv (the Tk-Instruct README's numbers);
    {} without a file ('#' lines are comments)."""
    if path is None:
        return {}
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in ("method", "rougeL", "source") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (has {list(table.columns)})")
    _check_names("anchors", table["method"], ANCHORS)
    try:
        return {r["method"]: (float(r["rougeL"]), r["source"]) for _, r in table.iterrows()}
    except ValueError as e:
        raise DataError(f"{path}: a rougeL is not a number: {e}") from e


def headline_table(
    ours: Mapping,
    anchors: Mapping[str, Mapping],
    settings: Mapping[str, Mapping],
    results: pd.DataFrame,
    verdicts: Verdicts | None = None,
    references: Mapping[str, tuple[float, str]] | None = None,
    fewshot: Mapping | None = None,
) -> pd.DataFrame:
    """Overall ROUGE-L per paradigm and setting (paper, ours, diff, status, our interval and the
    verdict by `verdicts`), Tk-Instruct few-shot without fine-tuning (`fewshot`, its metrics),
    then the two anchors, which the thesis has not: ours beside their `references` {method:
    (ROUGE-L, source)}, diff to it, no verdict."""
    verdicts = verdicts or Verdicts()
    key_columns = ["setting", "system", "samples_per_task"]
    paper = {tuple(r[key_columns]): r["rougeL_overall"] for _, r in results.iterrows()}
    thesis = thesis_settings(results)
    rows = []
    for paradigm in PARADIGMS:
        for name, setting in settings.items():
            keys, metrics = _keys(paradigm, name, setting, thesis), ours[paradigm][name]
            target = paper.get((paradigm, keys["system"], keys["samples_per_task"]), float("nan"))
            rows.append({**keys, **_compare(target, metrics, verdicts), **_sizes(metrics)})
    rows.append(_fewshot_row(fewshot_model(settings), _ours(fewshot), paper, verdicts))
    _check_covered(results, {(r["paradigm"], r["system"], r["samples_per_task"]) for r in rows}, key_columns)
    _check_names("anchors", anchors, ANCHORS)
    for method in ANCHORS:
        metrics = _ours(anchors.get(method))
        reference, source = (references or {}).get(method, (float("nan"), ""))
        compared = _compare(float("nan"), metrics, verdicts)  # the thesis has no number: no verdict
        rows.append(
            {
                "paradigm": "no training",
                "setting": method,
                "system": "heuristic",
                "samples_per_task": "",
                "instructions": False,
                "in_paper": False,
                **compared,
                "diff": compared["ours"] - reference,
                "reference": reference,
                "reference_source": source,
                **_sizes(metrics),
            }
        )
    return pd.DataFrame(rows)


def _fewshot_row(model: str, metrics: Mapping | None, paper: Mapping, verdicts: Verdicts) -> dict:
    """The headline row of the released Tk-Instruct prompted with def-pos (no training samples)."""
    target = paper.get((FEWSHOT, model, "0"), float("nan"))
    keys = {"paradigm": FEWSHOT, "setting": model, "system": model, "samples_per_task": "0"}
    in_paper = not pd.isna(target)
    return {
        **keys,
        "instructions": True,
        "in_paper": in_paper,
        **_compare(target, metrics, verdicts),
        **_sizes(metrics),
    }


def category_table(
    ours: Mapping,
    settings: Mapping[str, Mapping],
    categories: pd.DataFrame,
    paradigm: str,
    thesis: set[tuple[str, str]],
    verdicts: Verdicts | None = None,
) -> pd.DataFrame:
    """Category-wise ROUGE-L of one paradigm: one row per setting and thesis column, with our
    interval and the verdict (`verdicts`)."""
    verdicts = verdicts or Verdicts()
    paper = {(r["setting"], r["system"]): r for _, r in categories.iterrows()}
    rows = []
    for name, setting in settings.items():
        keys, metrics = _keys(paradigm, name, setting, thesis), ours[paradigm][name]
        target = paper.get((paradigm, f"{keys['system']}-{keys['samples_per_task']}"))
        columns = thesis_categories(metrics) if metrics else {}
        for column in COLUMNS:
            value = target[column] if target is not None else float("nan")
            group = columns.get(column)
            rows.append(
                {
                    **keys,
                    "column": column,
                    **_compare(value, group, verdicts),
                    "n_examples": group["n"] if group else 0,
                }
            )
    systems = {(paradigm, f"{r['system']}-{r['samples_per_task']}") for r in rows}
    _check_covered(categories[categories["setting"] == paradigm], systems, ["setting", "system"])
    return pd.DataFrame(rows)


def read_text_values(path: str | PathLike) -> pd.DataFrame:
    """Tk-Instruct's category numbers in the thesis's text (gupta2023_tk_categories.csv): setting,
    samples_per_task (a size, or "best" / "mean" over the Tk-Instruct settings), column, rougeL,
    source. '#' lines are comments."""
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [
        c for c in ("setting", "samples_per_task", "column", "rougeL", "source") if c not in table.columns
    ]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (has {list(table.columns)})")
    for i, row in table.iterrows():
        where = f"{path}: row {i + 1} ({dict(row)})"
        if row["setting"] not in PARADIGMS or row["column"] not in COLUMNS:
            raise DataError(f"{where}: setting must be one of {PARADIGMS}, column one of {COLUMNS}")
        if row["samples_per_task"] not in (*SAMPLE_TICKS, *TEXT_SUMMARIES):
            raise DataError(f"{where}: samples_per_task must be one of {[*SAMPLE_TICKS, *TEXT_SUMMARIES]}")
    try:
        return table.astype({"rougeL": float})
    except ValueError as e:
        raise DataError(f"{path}: a rougeL is not a number: {e}") from e


def text_values_table(
    text: pd.DataFrame, ours: Mapping, settings: Mapping[str, Mapping], paradigm: str
) -> pd.DataFrame:
    """The thesis's text numbers of one paradigm beside ours: at a named size, our Tk-Instruct
    setting of that size; "best" and "mean", the best and the mean of our Tk-Instruct settings run."""
    tuned = {str(s["samples"]): name for name, s in settings.items() if s["instructions"]}
    rows = []
    for _, row in text[text["setting"] == paradigm].iterrows():
        names = (
            list(tuned.values())
            if row["samples_per_task"] in TEXT_SUMMARIES
            else [tuned.get(row["samples_per_task"])]
        )
        values = [
            thesis_categories(ours[paradigm][name])[row["column"]]["rougeL"]
            for name in names
            if name and ours[paradigm].get(name) and row["column"] in thesis_categories(ours[paradigm][name])
        ]
        summary = {"best": max, "mean": lambda v: sum(v) / len(v)}.get(
            row["samples_per_task"], lambda v: v[0]
        )
        rows.append({**row, "ours": summary(values) if values else float("nan")})
    return pd.DataFrame(rows, columns=[*text.columns, "ours"])


def text_values_markdown(values: pd.DataFrame) -> str:
    """The section under a category table listing the thesis's Tk-Instruct numbers from its text."""
    if values.empty:
        return ""
    layout = pd.DataFrame(
        {
            "samples/task": values["samples_per_task"],
            "category": values["column"].map(HEADERS),
            "thesis (text)": values["rougeL"].map(lambda v: f"{v:.2f}"),
            "ours": values["ours"].map(lambda v: _number(v, NOT_RUN)),
            "where": values["source"],
        }
    )
    return (
        "\n## Tk-Instruct in the thesis's text\n\nThe thesis has no table of Tk-Instruct's category "
        "scores; these are the numbers its text gives (best / mean: over the Tk-Instruct settings, the "
        "size unnamed), also drawn in the figure.\n\n"
        + layout.to_markdown(index=False, disable_numparse=True)
        + "\n"
    )


def _number(value: float, missing: str) -> str:
    return missing if pd.isna(value) else f"{value:.2f}"


def _paper(row: Mapping) -> str:
    return _number(row["paper"], NO_NUMBER if row["in_paper"] else NOT_IN_THESIS)


def _ours_text(row: Mapping) -> str:
    """Our number with the half-width of its interval, or "not run"."""
    if pd.isna(row["ours"]):
        return NOT_RUN
    return ours_text(row["ours"], ".2f", row["ci_lo"], row["ci_hi"], row["seeds"], row["seed_sd"])


def _cell(row: Mapping) -> str:
    """ "thesis / ours ±half-width (ours - thesis) verdict"; "–" or "not in thesis" where the thesis has
    no number."""
    text = f"{_paper(row)} / {_ours_text(row)}"
    return text + (f" ({row['diff']:+.2f}){verdict_mark(row['verdict'])}" if pd.notna(row["diff"]) else "")


def category_layout(table: pd.DataFrame) -> pd.DataFrame:
    """The thesis's layout: one row per setting, one "thesis / ours (diff)" cell per column."""
    rows = []
    for (setting, samples), cells in table.groupby(["setting", "samples_per_task"], sort=False):
        rows.append(
            {
                "setting": setting,
                "samples/task": samples,
                **{HEADERS[cell["column"]]: _cell(cell) for _, cell in cells.iterrows()},
            }
        )
    return pd.DataFrame(rows)


def _reference(row: Mapping) -> str:
    value = row.get("reference", float("nan"))
    return "" if pd.isna(value) else f"{value:.2f} ({row['reference_source']})"


def headline_layout(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paradigm": table["paradigm"],
            "setting": table["setting"],
            "samples/task": table["samples_per_task"],
            THESIS: [_paper(row) for _, row in table.iterrows()],
            "ours": [_ours_text(row) for _, row in table.iterrows()],
            f"ours - {THESIS} (or reference)": table["diff"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}"),
            "verdict": table["verdict"].map(lambda v: v if v in COMPARED else ""),
            "reference (not the thesis)": [_reference(row) for _, row in table.iterrows()],
            "EM (ours)": table["exact_match"].map(lambda v: _number(v, "")),
            "tasks": table["n_tasks"],
            "examples": table["n_examples"],
        }
    )


def table_note(
    synthetic: bool, stand_ins: Mapping[str, str] | None, shared_settings: Mapping[str, str] | None
) -> str:
    """What every gupta2023 table says above it: synthetic data, stand-ins, shared models."""
    return data_note(synthetic, THESIS) + stand_in_note(stand_ins or {}) + shared_note(shared_settings or {})


def html_layout(name: str, table: pd.DataFrame) -> pd.DataFrame | None:
    """How the HTML report lays out a table's CSV (ftrepro.jobs.Paper.layout): the headline and
    Tables 5.1/5.2 with the thesis's number, ours and the difference in columns of their own;
    None (its markdown) for any other."""
    keys = {"setting": "setting", "samples_per_task": "samples/task"}
    if name == "headline":
        extra = headline_layout(table)[["reference (not the thesis)", "EM (ours)", "tasks", "examples"]]
        return compared(
            table,
            {"paradigm": "paradigm", **keys},
            headers={None: "ROUGE-L"},
            spec=".2f",
            source=THESIS,
            extra=extra.astype(str),
        )
    if name in ("table5_1", "table5_2"):
        return compared(table, keys, group="column", headers=HEADERS, spec=".2f", source=THESIS)
    return None


def shared_note(shared_settings: Mapping[str, str]) -> str:
    """One sentence per setting whose numbers are another setting's model ("" when none are)."""
    owners: dict[str, list[str]] = {}
    for setting, owner in shared_settings.items():
        owners.setdefault(owner, []).append(setting)
    return "".join(
        f"Shared model: {', '.join(settings)} train the same models from the same rows as {owner} in "
        "this preset (the train cap makes their samples per task equal); they were trained once and "
        "repeat its numbers.\n\n"
        for owner, settings in owners.items()
    )


def write_table(
    table: pd.DataFrame,
    layout: pd.DataFrame,
    title: str,
    csv_path: Path,
    md_path: Path,
    note: str = "",
    basis: str = "paper",
    after: str = "",
) -> None:
    """The long table as CSV, the layout as a markdown table under `title` and `note`, ending on
    the count per verdict (`basis`: Verdicts.basis), then `after`; both atomic."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    n_run = int((table["status"] == "ok").sum())
    text = (
        f"# {title}\n\n{n_run} of {len(table)} cells run.\n\n{note}"
        f"{layout.to_markdown(index=False, disable_numparse=True)}\n"
        + verdict_note(table["verdict"], basis, THESIS)
        + after
    )
    with atomic_path(md_path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# --- figures ----------------------------------------------------------------------------------


def _plot_series(ax, rows: pd.DataFrame) -> None:
    """Tk-Instruct as lines and baselines as points; the thesis dashed / hollow, ours solid / filled
    with our 95% intervals as error bars."""
    rows = rows.assign(x=rows["samples_per_task"].map(SAMPLE_TICKS)).sort_values("x")
    tuned = rows[rows["instructions"]]
    thesis = tuned[tuned["paper"].notna()]
    if len(thesis):
        ax.plot(thesis["x"], thesis["paper"], "--", marker="o", color="C0", label="Tk-Instruct (thesis)")
    ours = tuned[tuned["ours"].notna()]
    if len(ours):
        ax.errorbar(
            ours["x"],
            ours["ours"],
            yerr=error_bars(ours["ours"], ours["ci_lo"], ours["ci_hi"]),
            fmt="-o",
            color="C0",
            capsize=3,
            label="Tk-Instruct (ours, 95% interval)",
        )
    for i, (_, row) in enumerate(rows[~rows["instructions"]].iterrows(), start=1):
        if pd.notna(row["paper"]):
            ax.scatter(
                row["x"],
                row["paper"],
                marker="s",
                s=50,
                edgecolors=f"C{i}",
                facecolors="none",
                label=f"{row['setting']} (thesis)",
            )
        if pd.notna(row["ours"]):
            ax.errorbar(
                [row["x"]],
                [row["ours"]],
                yerr=error_bars([row["ours"]], [row["ci_lo"]], [row["ci_hi"]]),
                fmt="s",
                markersize=7,
                color=f"C{i}",
                capsize=3,
                label=f"{row['setting']} (ours)",
            )
    if rows["ours"].isna().all():
        ax.text(0.5, 0.04, f"ours: {NOT_RUN}", transform=ax.transAxes, ha="center", color="grey")
    ax.set_xscale("log")
    ax.set_xticks(list(SAMPLE_TICKS.values()), list(SAMPLE_TICKS))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(alpha=0.3)


def _plot_text_values(ax, values: pd.DataFrame) -> None:
    """The thesis's Tk-Instruct numbers from its text: hollow circles at a named size, a dotted
    line for its best and a dash-dot line for its mean over the settings (size unnamed)."""
    sized = values[~values["samples_per_task"].isin(TEXT_SUMMARIES)]
    if len(sized):
        ax.scatter(
            sized["samples_per_task"].map(SAMPLE_TICKS),
            sized["rougeL"],
            marker="o",
            s=60,
            facecolors="none",
            edgecolors="C0",
            zorder=3,
            label="Tk-Instruct (thesis text)",
        )
    for summary, style in (("best", ":"), ("mean", "-.")):
        for value in values[values["samples_per_task"] == summary]["rougeL"]:
            ax.axhline(
                value, linestyle=style, color="C0", alpha=0.7, label=f"Tk-Instruct {summary} (thesis text)"
            )


def plot_overall(headline: pd.DataFrame, paradigm: str, path: Path, **stamp) -> Figure:
    """Figures 5.1 / 5.3: overall ROUGE-L against samples per task (log x), the legend outside the
    axes; saved stamped (`stamp`: ftrepro.report.save_figure's synthetic, preset, stand_ins)."""
    fig = Figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.subplots()
    _plot_series(ax, headline[headline["paradigm"] == paradigm])
    ax.set(xlabel="training samples per task", ylabel="ROUGE-L", title=f"{paradigm.upper()}: overall ROUGE-L")
    outside_legend(fig, fontsize="small")
    save_figure(fig, path, **stamp)
    return fig


def plot_categories(
    table: pd.DataFrame,
    paradigm: str,
    path: Path,
    text: pd.DataFrame | None = None,
    **stamp,
) -> Figure:
    """Figures 5.2 / 5.4: ROUGE-L against samples per task, one panel per thesis column, with the
    Tk-Instruct numbers of the thesis's `text` (read_text_values) where it gives them; the legend
    in the eighth panel, which draws nothing else. Saved stamped as plot_overall."""
    fig = Figure(figsize=(16, 8), layout="constrained")
    axes = fig.subplots(2, 4, sharex=True)
    for ax, column in zip(axes.flat, COLUMNS):
        _plot_series(ax, table[table["column"] == column])
        if text is not None:
            _plot_text_values(ax, text[(text["setting"] == paradigm) & (text["column"] == column)])
        ax.set_title(HEADERS[column])
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles.values(), handles.keys(), loc="center")
    fig.suptitle(f"{paradigm.upper()}: category-wise ROUGE-L against training samples per task")
    for ax in axes[-1, :-1]:  # not fig.supxlabel: the stamp has the bottom margin
        ax.set_xlabel("training samples per task")
    fig.supylabel("ROUGE-L")
    save_figure(fig, path, **stamp)
    return fig


# --- the report -------------------------------------------------------------------------------


def write_gupta_report(
    stl_metrics: Mapping[str, Mapping[str, Mapping]],
    mtl_metrics: Mapping[str, Mapping],
    anchors: Mapping[str, Mapping],
    targets_results_csv: str | PathLike,
    targets_categories_csv: str | PathLike,
    out_dir: str | PathLike,
    *,
    settings: Mapping[str, Mapping],
    shared_settings: Mapping[str, str] | None = None,
    stand_ins: Mapping[str, str] | None = None,
    verdicts: Verdicts | None = None,
    anchors_csv: str | PathLike | None = None,
    text_csv: str | PathLike | None = None,
    synthetic: bool = False,
    deviations: str = "",
    fewshot: Mapping | None = None,
    preset: str | None = None,
) -> pd.DataFrame:
    """tables/{table5_1,table5_2,headline}.{csv,md} and figures/figure5_{1..4}.png under out_dir.

    `stl_metrics` {setting: {task: metrics}}, `mtl_metrics` {setting: metrics}, `anchors`
    {"copy_input"|"copy_demo": metrics}, `fewshot` the few-shot run's metrics (None: not run);
    `settings` is config gupta2023.settings;
    `shared_settings` {setting: the setting whose models it shares} (runs.shared_settings), named
    under each table, as are `stand_ins` {model: what the preset trains under it} and whether the
    data is `synthetic` (also in each figure's corner); `verdicts` judge each cell against the
    thesis; the figures are stamped with the `preset` and the stand-ins. `anchors_csv` holds the anchors' reference numbers (the Tk-Instruct README's),
    `text_csv` the Tk-Instruct category numbers of the thesis's text (under Tables 5.1/5.2 and in
    Figures 5.2/5.4); `deviations` goes under every table. Returns the headline table.
    """
    verdicts = verdicts or Verdicts()
    note = table_note(synthetic, stand_ins, shared_settings)
    after = f"\n{deviations}" if deviations else ""
    out_dir = Path(out_dir)
    ours = ours_by_paradigm(stl_metrics, mtl_metrics, settings)
    results = read_targets(targets_results_csv, ["rougeL_overall"], (*PARADIGMS, FEWSHOT))
    categories = read_targets(targets_categories_csv, list(COLUMNS))
    text = read_text_values(text_csv) if text_csv is not None else None
    references = read_anchor_references(anchors_csv)
    headline = headline_table(ours, anchors, settings, results, verdicts, references, fewshot)
    write_table(
        headline,
        headline_layout(headline),
        f"gupta2023 headline ROUGE-L: {THESIS} / ours",
        out_dir / "tables" / "headline.csv",
        out_dir / "tables" / "headline.md",
        note,
        verdicts.basis,
        after,
    )
    # paradigm -> (table, overall figure, category figure) numbers of the thesis
    for paradigm, (table_no, overall_no, category_no) in {"stl": (1, 1, 2), "mtl": (2, 3, 4)}.items():
        table = category_table(ours, settings, categories, paradigm, thesis_settings(results), verdicts)
        values = text_values_table(text, ours, settings, paradigm) if text is not None else pd.DataFrame()
        write_table(
            table,
            category_layout(table),
            f"gupta2023 Table 5.{table_no}: {paradigm.upper()} category-wise ROUGE-L, {THESIS} / ours",
            out_dir / "tables" / f"table5_{table_no}.csv",
            out_dir / "tables" / f"table5_{table_no}.md",
            note,
            verdicts.basis,
            text_values_markdown(values) + after,
        )
        figures = out_dir / "figures"
        stamp = {"synthetic": synthetic, "preset": preset, "stand_ins": stand_ins}
        plot_overall(headline, paradigm, figures / f"figure5_{overall_no}.png", **stamp)
        plot_categories(table, paradigm, figures / f"figure5_{category_no}.png", text, **stamp)
    return headline
