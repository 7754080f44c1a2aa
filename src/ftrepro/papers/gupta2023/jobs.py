"""gupta2023's job table: its rules as patterns (workflow/rules/gupta2023.smk reads their outputs,
logs and work directories here) and a job per run, with its inputs, model and the token counts
of the plan (ftrepro.jobs). Cheap and torch-free: common.smk builds it at parse time.
"""

from __future__ import annotations

from collections.abc import Iterator

from ftrepro.config import Config
from ftrepro.jobs import (
    METRICS,
    SEED,
    Job,
    Rule,
    base_model,
    derived_data,
    figure_file,
    logs_path,
    made_for,
    model_dir,
    raw_data,
    recipe_batch,
    run_file,
    run_log,
    table_file,
)
from ftrepro.papers.gupta2023.runs import GuptaRun, fewshot_model

PAPER = "gupta2023"
# figure1_1_table holds Figure 1.1's numbers: a table and a figure of one name would share the
# HTML report's id (<paper>-<name>)
TABLES = ("headline", "table5_1", "table5_2", "figure1_1_table", "case_study")
FIGURES = ("figure1_1", *(f"figure5_{i}" for i in (1, 2, 3, 4)))

PREFINETUNE = Rule(
    PAPER,
    "prefinetune_t5",
    "fit",
    "prefinetuned",
    "pre-finetuning",
    {"model": model_dir(PAPER, "prefinetuned")},
)
# STL and MTL models train once per seed where config seeds gives their runs several
STL = Rule(
    PAPER,
    "fit_gupta_stl",
    "fit",
    GuptaRun("stl", "{setting}", "{superni_task}").name + SEED,
    "stl",
    trains=True,
)
MTL = Rule(PAPER, "fit_gupta_mtl", "fit", GuptaRun("mtl", "{setting}").name + SEED, "mtl", trains=True)
ANCHOR = Rule(PAPER, "predict_gupta_anchor", "predict", GuptaRun("anchor", "{method}").name, "anchor")
FEWSHOT = Rule(PAPER, "predict_gupta_fewshot", "predict", GuptaRun("fewshot", "{tk_model}").name, "fewshot")
ABLATION = Rule(  # STL fits too: once per seed where config seeds gives a run several
    PAPER,
    "fit_gupta_ablation",
    "fit",
    GuptaRun("ablation", "{setting}", "{superni_task}", "{prompt}").name + SEED,
    "ablation",
    trains=True,
)
# the case study's measured prompt lengths (§5.2.5 gives the thesis's), which the report tables
PROMPT_TOKENS = Rule(
    PAPER,
    "gupta2023_prompt_tokens",
    "report",
    "prompt_tokens",
    "case-study",
    {"tokens": table_file(PAPER, "case_study_tokens", "json")},
    run_log(PAPER, "report", "prompt_tokens"),
)
REPORT = Rule(
    PAPER,
    "gupta2023_report",
    "report",
    "report",
    outputs={
        "tables": [table_file(PAPER, table, ext) for table in TABLES for ext in ("csv", "md")],
        "figures": [figure_file(PAPER, figure) for figure in FIGURES],
    },
    log_file=logs_path(PAPER, "report.log"),
)
RULES = (PREFINETUNE, STL, MTL, ANCHOR, FEWSHOT, ABLATION, PROMPT_TOKENS, REPORT)
TARGETS = {
    "results": "config/targets/gupta2023_results.csv",
    "categories": "config/targets/gupta2023_categories.csv",
    # Tk-Instruct's category numbers in the thesis's text; the anchors' (README) references
    "tk_categories": "config/targets/gupta2023_tk_categories.csv",
    "anchors": "config/targets/gupta2023_anchors.csv",
    # §5.2.5's case study: its tasks, token lengths and scores
    "case_study": "config/targets/gupta2023_case_study.csv",
}
SUPERNI = {"data": derived_data("superni"), "raw": raw_data("superni")}
TRAINED = ("stl", "mtl", "ablation")  # the paradigms whose runs fine-tune a setting's model


def jobs(config: Config, runs: list[str]) -> Iterator[Job]:
    """The jobs of `runs` (names of the matrix), the pre-finetuning where a run starts from it, and
    the case study's prompt lengths."""
    settings = config.gupta2023.settings
    parsed = [GuptaRun.parse(name) for name in runs]
    trained = [run for run in parsed if run.paradigm in TRAINED]
    if any(settings[run.setting]["init"] == "prefinetuned" for run in trained):
        yield prefinetune_job(config)
    for run in parsed:
        if run.paradigm == "anchor":
            yield ANCHOR.job({"method": run.setting}, inputs=SUPERNI)
        elif run.paradigm == "fewshot":
            yield fewshot_job(config, run)
        else:
            yield fit_job(config, run)
    if made_for(config, PROMPT_TOKENS.output["tokens"]):  # partial: the data it needs is never made
        yield PROMPT_TOKENS.job(
            inputs={"data": SUPERNI["data"], "tokenizer": base_model(fewshot_model(settings))},
        )


def _sizes(config: Config) -> tuple[dict, int, int]:
    """The seq2seq recipe, and the training rows of "all" and the test rows per task the plan assumes."""
    rows, caps = config.plan.rows["superni"], config.data.caps("superni")
    per_task = min(rows["train_per_task"], caps.get("train", rows["train_per_task"]))
    test = min(rows["test_per_task"], caps.get("test", rows["test_per_task"]))
    return config.training["gupta2023-seq2seq"], per_task, test


def _example_tokens(config: Config, instructions: bool) -> int:
    """The plan's tokens of one source and target, as the seq2seq recipe cuts them."""
    tokens, (recipe, _, _) = config.plan.tokens["superni"], _sizes(config)
    source = min(tokens["def_pos" if instructions else "input_only"], recipe["max_source_length"])
    return source + min(tokens["target"], recipe["max_target_length"])


def _seq2seq_tokens(config: Config, samples: float, instructions: bool, tested: int = 0) -> dict:
    """The plan's token counts of a seq2seq job on `samples` training and `tested` test instances."""
    recipe, _, _ = _sizes(config)
    example = _example_tokens(config, instructions)
    batch = recipe["per_device_train_batch_size"]
    return {
        "mode": "full",
        "train_tokens": samples * recipe["num_train_epochs"] * example,
        "infer_tokens": tested * example,
        "micro_tokens": batch * (recipe["max_source_length"] + recipe["max_target_length"]),
        "target_tokens": batch * recipe["max_target_length"],
        "deepspeed": config.deepspeed(recipe["deepspeed"]) if recipe.get("deepspeed") else None,
        "loop": "seq2seq",
        **recipe_batch(recipe),
    }


def prefinetune_job(config: Config) -> Job:
    """T5 on every SuperNI train task x samples_per_task instances, without instructions."""
    g, (_, per_task, _) = config.gupta2023, _sizes(config)
    pre = g.prefinetune
    train_tasks = g.train_tasks or config.plan.rows["superni"]["train_tasks"]
    samples = train_tasks * min(pre["samples_per_task"], per_task)
    return PREFINETUNE.job(
        inputs={"base": base_model(pre["model"]), "data": SUPERNI["data"]},
        model=pre["model"],
        **_seq2seq_tokens(config, samples, pre["instructions"]),
    )


def fit_job(config: Config, run: GuptaRun) -> Job:
    """A setting's model on one test task (STL) or on all of them (MTL); baselines that start from
    the pre-finetuned T5 take it, the rest the base model."""
    setting, (_, per_task, test) = config.gupta2023.settings[run.setting], _sizes(config)
    start = (
        model_dir(PAPER, "prefinetuned")
        if setting["init"] == "prefinetuned"
        else base_model(setting["model"])
    )
    samples = per_task if setting["samples"] == "all" else min(setting["samples"], per_task)
    tasks = 1 if run.task else len(config.gupta2023.test_tasks)
    rule, wildcards = {
        "stl": (STL, {"setting": run.setting, "superni_task": run.task}),
        "ablation": (ABLATION, {"setting": run.setting, "superni_task": run.task, "prompt": run.prompt}),
        "mtl": (MTL, {"setting": run.setting}),
    }[run.paradigm]
    return rule.job(
        wildcards,
        inputs={"base": start, **SUPERNI},
        model=setting["model"],
        **_seq2seq_tokens(config, tasks * samples, setting["instructions"], tested=tasks * test),
    )


def fewshot_job(config: Config, run: GuptaRun) -> Job:
    """Tk-Instruct as released on every test task's test instances, prompted with def-pos."""
    recipe, _, test = _sizes(config)
    example = _example_tokens(config, instructions=True)
    return FEWSHOT.job(
        {"tk_model": run.setting},
        inputs={"base": base_model(run.setting), **SUPERNI},
        model=run.setting,
        infer_tokens=len(config.gupta2023.test_tasks) * test * example,
        kv_tokens=recipe["predict_batch_size"] * (recipe["max_source_length"] + recipe["max_target_length"]),
    )


def report(config: Config, tabled: list[str]) -> Job:
    """Tables 5.1 and 5.2, the headline numbers, Figure 1.1 and the case study, and Figures 5.1-5.4
    over the tabled runs (the case study's prompt lengths where measured)."""
    tokens = PROMPT_TOKENS.output["tokens"]
    tokens = {"prompt_tokens": tokens} if made_for(config, tokens) else {}
    return REPORT.job(
        inputs={
            "metrics": [run_file(PAPER, run, METRICS) for run in tabled],
            **tokens,
            **TARGETS,
        }
    )
