"""zhao2025's job table: its rules as patterns (workflow/rules/zhao2025.smk reads their outputs,
logs and work directories here) and a job per run, with its inputs, model and the token counts
of the plan (ftrepro.jobs). Cheap and torch-free: common.smk builds it at parse time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ftrepro.config import Config
from ftrepro.jobs import (
    METRICS,
    SEED,
    Job,
    Rule,
    base_model,
    derived,
    labels,
    logs_path,
    planned_rows,
    recipe_batch,
    run_file,
    table_file,
)
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.papers.zhao2025.runs import BASELINE, ZhaoRun, baseline_run

PAPER = "zhao2025"
TABLES = ("table3",)

# the fine-tunes train once per seed where config seeds gives their runs several
ENCODER = Rule(
    PAPER, "fit_zhao_encoder", "fit", ZhaoRun("{task}", "{encoder}").name + SEED, "encoder", trains=True
)
DECODER = Rule(
    PAPER,
    "fit_zhao_decoder",
    "fit",
    ZhaoRun("{task}", "{decoder}", "{shots}", "ft").name + SEED,
    "decoder",
    trains=True,
)
PROMPTED = Rule(
    PAPER,
    "predict_zhao_decoder",
    "predict",
    ZhaoRun("{task}", "{decoder}", "{shots}", "noft").name,
    "decoder",
)
API = Rule(
    PAPER, "predict_zhao_api", "predict", ZhaoRun("{task}", "{api_model}", "{shots}", "noft").name, "api"
)
BASELINES = {
    "tfidf-svm": Rule(PAPER, "fit_zhao_baseline", "fit", baseline_run("{dataset}", "tfidf-svm"), BASELINE),
    "frozen-encoder": Rule(
        PAPER, "fit_zhao_frozen_baseline", "fit", baseline_run("{dataset}", "frozen-encoder"), BASELINE
    ),
}
TABLE3 = Rule(
    PAPER,
    "zhao2025_table3",
    "report",
    "table3",
    outputs={"csv": table_file(PAPER, "table3", "csv"), "md": table_file(PAPER, "table3", "md")},
    log_file=logs_path(PAPER, "table3.log"),
)
RULES = (ENCODER, DECODER, PROMPTED, API, *BASELINES.values(), TABLE3)
TARGETS = "config/targets/zhao2025_table3.csv"
# the listings' prompts (ftrepro.papers.zhao2025.prompts): API answers to other prompts are not reused
PROMPTS = str(Path(__file__).with_name("prompts.yaml"))


def jobs(config: Config, runs: list[str]) -> Iterator[Job]:
    """The jobs of `runs` (names of the matrix) and of the preset's baselines."""
    z = config.zhao2025
    for name in runs:
        run = ZhaoRun.parse(name)
        if run.shots is None:
            yield encoder_job(config, run.task, run.model)
        elif run.model in z.api_models:
            wildcards = {"task": run.task, "api_model": run.model, "shots": run.shots}
            yield API.job(
                wildcards, inputs={**task_data(config, run.task), "prompts": PROMPTS}, model=run.model
            )
        else:
            yield decoder_job(config, run)
    datasets = dict.fromkeys(task.dataset for task in z.tasks.values())
    for method in z.baselines:
        for dataset in datasets:
            yield baseline_job(config, method, dataset)


def task_data(config: Config, task: str) -> dict[str, str]:
    """The train and test splits and labels of a task's dataset."""
    dataset = config.zhao2025.tasks[task].dataset
    return {"train": derived(dataset, "train"), "test": derived(dataset, "test"), "labels": labels(dataset)}


def encoder_job(config: Config, task: str, encoder: str) -> Job:
    """A task's encoder fine-tune; it reads the dev split where the recipe scores one each epoch."""
    dataset = config.zhao2025.tasks[task].dataset
    dev = {"dev": derived(dataset, "dev")} if zhao_runs.encoder_dev_split(config, task) else {}
    recipe = zhao_runs.encoder_hparams(config, task)
    length = min(config.plan.tokens[dataset]["text"], recipe["max_length"])
    return ENCODER.job(
        {"task": task, "encoder": encoder},
        inputs={**task_data(config, task), **dev, "base": base_model(encoder)},
        model=encoder,
        mode="full",
        train_tokens=planned_rows(config, dataset, "train") * recipe["num_train_epochs"] * length,
        infer_tokens=planned_rows(config, dataset, "test") * length,
        micro_tokens=recipe["per_device_train_batch_size"] * recipe["max_length"],
        logits=False,
        loop="encoder",
        **recipe_batch(recipe),
    )


def decoder_job(config: Config, run: ZhaoRun) -> Job:
    """A prompted open decoder: fine-tuned (mode ft) or as released (noft)."""
    decoder, tokens = config.training["zhao2025-decoder"], config.plan.tokens
    dataset = config.zhao2025.tasks[run.task].dataset
    longest = min(decoder["max_length"], config.models[run.model].shape.context)
    example = min(_prompt_tokens(tokens, dataset, run.shots), longest)
    test = planned_rows(config, dataset, "test") * (example + decoder["max_new_tokens"])
    wildcards = {"task": run.task, "decoder": run.model, "shots": run.shots}
    inputs = task_data(config, run.task)
    if run.mode == "noft":
        kv = decoder["predict_batch_size"] * longest
        inputs["model"] = base_model(run.model)
        return PROMPTED.job(wildcards, inputs=inputs, model=run.model, infer_tokens=test, kv_tokens=kv)
    steps = decoder["max_steps"][zhao_runs.decoder_size(config, run.model)]
    return DECODER.job(
        wildcards,
        inputs={**inputs, "base": base_model(run.model)},
        model=run.model,
        mode="full",
        train_tokens=steps * decoder["effective_batch_size"] * example,
        infer_tokens=test,
        micro_tokens=decoder["per_device_train_batch_size"] * longest,
        checkpointing=decoder["activation_checkpointing"],
        deepspeed=zhao_runs.decoder_deepspeed(config, run.model),
        loop="causal",
        **recipe_batch(decoder),
    )


def _prompt_tokens(tokens: dict, dataset: str, shots: str) -> int:
    """A prompt with its answer: instructions and label list, the query, and five demonstrations
    in the five-shot setting."""
    per_example = tokens[dataset]["text"] + tokens[dataset]["answer"]
    return tokens["zhao_prompt"][dataset] + per_example * (6 if shots == "five-shot" else 1)


def baseline_job(config: Config, method: str, dataset: str) -> Job:
    """A baseline (not in the paper) on a dataset's train and test splits; the frozen encoder
    loads the model behind zhao2025.baseline_encoder."""
    splits = {split: derived(dataset, split) for split in ("train", "test")}
    if method != "frozen-encoder":
        return BASELINES[method].job({"dataset": dataset}, inputs=splits)
    encoder = config.zhao2025.baseline_encoder
    return BASELINES[method].job(
        {"dataset": dataset}, inputs={**splits, "base": base_model(encoder)}, model=encoder
    )


def report(config: Config, tabled: list[str]) -> Job:
    """Table 3 over the tabled runs of the matrix, with the baselines' floor under them."""
    metrics = [run_file(PAPER, run, METRICS) for run in tabled if not run.endswith("." + BASELINE)]
    floors = [run_file(PAPER, run, METRICS) for run in tabled if run.endswith("." + BASELINE)]
    return TABLE3.job(inputs={"metrics": metrics, "baselines": floors, "targets": TARGETS})
