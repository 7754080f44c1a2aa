"""gupta2023's §5.2.5 case study ("Case Study on Negative results"): its five tasks, the numbers its
text gives (config/targets/gupta2023_case_study.csv) and ours beside them, with the task-242
ablation and the prompt lengths we measure (ftrepro.data.stats.superni_prompt_tokens).

What the thesis gives, read precisely: for tasks 602, 1356 and 1540 (title generation) and 233
(answerability) a token length (1192, 1256, 781, 648) "exceeding the model's limit (512 tokens)"
and a pair "X vs Y"; for task 242 (answerability) "instruction bias ... (0.63 vs 0.99)" and 1.00
"with negative example". The pairs name no paradigm, sample size or baseline. We read X as
Tk-Instruct and Y as a baseline without instructions (the section explains the categories where
instruction tuning fell below the baselines, §5.1.1 and §5.2.1), on its 0-1 scale, and show the
thesis's X beside our Tk-Instruct in STL and in MTL, its Y beside our baseline in both: the
setting and baseline of config gupta2023.case_study. The ablation pair (runs.ablation_pair) sets
0.63 beside our def-pos model and 1.00 beside the one whose prompt has a negative example.

Ours is each run's per-task ROUGE-L (metrics.json `per_task`) over 100, its interval likewise;
the verdict holds the thesis's number against it with the config's ROUGE-L tolerance, which on
this scale is half the last digit the thesis prints. A task or run the preset does not make reads
"not run".
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import pandas as pd

from ftrepro.data.superni import DEF_POS
from ftrepro.io import DataError, read_json
from ftrepro.papers.gupta2023.report import write_table
from ftrepro.papers.gupta2023.runs import ABLATION_PROMPTS, GuptaRun
from ftrepro.report import COMPARED, NOT_RUN, Verdicts, interval_columns, ours_text

COLUMNS = ("task", "category", "tokens", "tk_instruct", "baseline", "with_negative")
SCALE = 100  # our ROUGE-L is in percent, the case study's on 0-1
NOT_GIVEN = "–"  # no number of the thesis for this cell
TITLE = "gupta2023 §5.2.5 case study: five tasks' ROUGE-L (0-1), thesis / ours"


def read_case_study(path: str | PathLike) -> pd.DataFrame:
    """The case study's targets ('#' lines are comments): one row per task, numbers or empty."""
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (has {list(table.columns)})")
    if table["task"].duplicated().any():
        raise DataError(f"{path}: task {table['task'][table['task'].duplicated()].iloc[0]} repeats")
    try:
        numbers = {c: pd.to_numeric(table[c].replace("", None)) for c in COLUMNS[2:]}
    except ValueError as e:
        raise DataError(f"{path}: a value is not a number: {e}") from e
    table = table.assign(**numbers)
    table.attrs["source"] = str(path)
    return table


def _cells(task: str, case_study: Mapping, ablation: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(our column, its run, the prompt, the thesis's column) of one task's cells."""
    setting, baseline = case_study["setting"], case_study["baseline"]
    cells = [
        (f"Tk-Instruct STL ({setting})", GuptaRun("stl", setting, task).name, DEF_POS, "tk_instruct"),
        (f"Tk-Instruct MTL ({setting})", GuptaRun("mtl", setting).name, DEF_POS, "tk_instruct"),
        (f"baseline STL ({baseline})", GuptaRun("stl", baseline, task).name, "input only", "baseline"),
        (f"baseline MTL ({baseline})", GuptaRun("mtl", baseline).name, "input only", "baseline"),
    ]
    if task == case_study["ablation_task"]:
        thesis = ("tk_instruct", "with_negative")
        cells += [
            (f"ablation: {prompt}", run, prompt, column)
            for prompt, run, column in zip(ABLATION_PROMPTS, ablation, thesis, strict=True)
        ]
    return cells


def _task_metrics(metrics: Mapping | None, task: str) -> Mapping | None:
    """A run's metrics of one task on the 0-1 scale (its interval too); None: not run."""
    group = None if metrics is None else metrics.get("per_task", {}).get(task)
    if group is None:
        return None
    scaled = {"rougeL": group["rougeL"] / SCALE, "n": group["n"]}
    if "rougeL" in group.get("ci", {}):
        scaled["ci"] = {"rougeL": [bound / SCALE for bound in group["ci"]["rougeL"]]}
    return scaled


def case_study_table(
    targets: pd.DataFrame,
    metrics_by_run: Mapping[str, Mapping],
    *,
    case_study: Mapping,
    ablation: tuple[str, ...],
    verdicts: Verdicts | None = None,
) -> pd.DataFrame:
    """One row per task and cell of ours: the thesis's number, ours with its interval, the
    difference and the verdict (`verdicts`); `metrics_by_run` {run: metrics.json} (shared runs
    resolved), `ablation` the pair's run names (runs.ablation_pair)."""
    verdicts = verdicts or Verdicts()
    rows = []
    for _, target in targets.iterrows():
        for column, run, prompt, thesis in _cells(target["task"], case_study, ablation):
            ours = _task_metrics(metrics_by_run.get(run), target["task"])
            value = float("nan") if ours is None else ours["rougeL"]
            interval = interval_columns(ours, "rougeL")
            rows.append(
                {
                    "task": target["task"],
                    "category": target["category"],
                    "column": column,
                    "run": run,
                    "prompt": prompt,
                    "thesis_column": thesis,
                    "paper": target[thesis],
                    "ours": value,
                    "diff": value - target[thesis],
                    "status": NOT_RUN if ours is None else "ok",
                    **interval,
                    "verdict": verdicts(
                        "rougeL", target[thesis], value, interval["ci_lo"], interval["ci_hi"]
                    ),
                    "n_examples": 0 if ours is None else ours["n"],
                }
            )
    return pd.DataFrame(rows)


def _cell(row: Mapping) -> str:
    """ "thesis / ours ±half-width (diff) verdict" on the 0-1 scale; "–" where the thesis has none."""
    paper = NOT_GIVEN if pd.isna(row["paper"]) else f"{row['paper']:.2f}"
    if pd.isna(row["ours"]):
        return f"{paper} / {NOT_RUN}"
    ours = ours_text(row["ours"], ".2f", row["ci_lo"], row["ci_hi"], row["seeds"], row["seed_sd"])
    diff = "" if pd.isna(row["diff"]) else f" ({row['diff']:+.2f})"
    return f"{paper} / {ours}{diff}" + (f" {row['verdict']}" if row["verdict"] in COMPARED else "")


def _tokens(measured: Mapping | None, limit: int) -> str:
    if measured is None:
        return NOT_RUN
    return f"{measured['median']:.0f} / {measured['max']} ({measured['over_limit']} of {measured['n']} over {limit})"


def case_study_layout(table: pd.DataFrame, targets: pd.DataFrame, tokens: Mapping) -> pd.DataFrame:
    """One row per task: the thesis's tokens and ours, then one "thesis / ours" cell per column."""
    limit, measured = tokens["max_source_length"], tokens["tasks"]
    columns = list(dict.fromkeys(table["column"]))
    rows = []
    for _, target in targets.iterrows():
        cells = table[table["task"] == target["task"]].set_index("column")
        rows.append(
            {
                "task": target["task"],
                "tokens (thesis)": NOT_GIVEN if pd.isna(target["tokens"]) else f"{target['tokens']:.0f}",
                "tokens (ours: median / max)": _tokens(measured.get(target["task"]), limit),
                **{c: _cell(cells.loc[c]) if c in cells.index else NOT_GIVEN for c in columns},
            }
        )
    return pd.DataFrame(rows)


def reading_note(case_study: Mapping, tokenizer_model: str, limit: int | None) -> str:
    """`limit` None: our prompt lengths were not measured (a partial report without the data)."""
    setting, baseline, task = case_study["setting"], case_study["baseline"], case_study["ablation_task"]
    ours = (
        "ours are not measured in this report (a partial one, made without the derived data)"
        if limit is None
        else f"ours count the def-pos prompt of each test instance (the definition, two positive "
        f"examples and the input, uncut) in {tokenizer_model}'s tokenizer in this preset, and how many "
        f"exceed our source limit of {limit} tokens"
    )
    return (
        'The thesis gives each task\'s pair as "X vs Y" without naming the paradigm, the sample size '
        "or the baseline: we read X as Tk-Instruct and Y as a baseline without instructions (§5.1.1, "
        "§5.2.1) and set them beside our Tk-Instruct and our baseline in STL and in MTL, "
        f"{setting} and {baseline} (our choice: docs/deviations.md). Its token lengths are against "
        f'"the model\'s limit (512 tokens)"; {ours}. The ablation on {task}: '
        f"STL models of {setting} with the thesis's prompt (def-pos) and with the task's first "
        "negative example substituted for the second positive one (def-pos1-neg1), in training and "
        "prediction (0.63 and 1.00 in the thesis).\n\n"
    )


def write_case_study(
    targets_csv: str | PathLike,
    tokens_json: str | PathLike | None,
    metrics_by_run: Mapping[str, Mapping],
    out_dir: str | PathLike,
    *,
    case_study: Mapping,
    ablation: tuple[str, ...],
    tokenizer_model: str,
    verdicts: Verdicts | None = None,
    note: str = "",
    after: str = "",
) -> pd.DataFrame:
    """tables/case_study.{csv,md} under out_dir; `note` and `after` as write_table takes them.
    Without `tokens_json` (a partial report on a fresh checkout) our prompt lengths read "not run"."""
    verdicts = verdicts or Verdicts()
    targets = read_case_study(targets_csv)
    tokens = read_json(tokens_json) if tokens_json else {"max_source_length": None, "tasks": {}}
    table = case_study_table(
        targets, metrics_by_run, case_study=case_study, ablation=ablation, verdicts=verdicts
    )
    out_dir = Path(out_dir)
    write_table(
        table,
        case_study_layout(table, targets, tokens),
        TITLE,
        out_dir / "tables" / "case_study.csv",
        out_dir / "tables" / "case_study.md",
        reading_note(case_study, tokenizer_model, tokens["max_source_length"]) + note,
        verdicts.basis,
        after,
    )
    return table
