"""band2025's job table: its rules as patterns (workflow/rules/band2025.smk reads their outputs,
logs and work directories here) and a job per run, with its inputs, model and the token counts
of the plan (ftrepro.jobs). Cheap and torch-free: common.smk builds it at parse time.
"""

from __future__ import annotations

from collections.abc import Iterator

from ftrepro.config import Config
from ftrepro.jobs import (
    METRICS,
    PREDICTIONS,
    SEED,
    Job,
    Rule,
    base_model,
    derived,
    figure_file,
    logs_path,
    model_dir,
    planned_rows,
    recipe_batch,
    resources_path,
    results_path,
    run_file,
    table_file,
    unseeded,
)
from ftrepro.papers.band2025.runs import BandRun

PAPER = "band2025"
TABLES = ("log_loss",)
FIGURES = ("figure10", "figure11")
LLM_AUGMENTED = "llm-augmented"  # the variant that starts from the encoder pre-finetuned on the annotations

ANNOTATE = Rule(
    PAPER,
    "annotate_arena",
    "fit",
    "annotations",
    "annotation",
    {"annotations": resources_path("annotations", PAPER, "properties.jsonl")},
    log_file=logs_path(PAPER, "annotate_arena.log"),
)
PREFINETUNE = Rule(
    PAPER,
    "prefinetune_band_encoder",
    "fit",
    "{band_encoder}.prefinetuned",
    "pre-finetuning",
    {"model": model_dir(PAPER, "{band_encoder}.prefinetuned")},
)
COMPETITION = "competition_predictions.jsonl"  # a run's predictions of the competition's test rows


def fit_rule(name: str, run: str, family: str) -> Rule:
    """A fit rule: its run's predictions of the test split, and of the competition's test rows
    (and its training log); once per seed where config seeds gives a run several."""
    run += SEED
    outputs = {
        "predictions": run_file(PAPER, run, PREDICTIONS),
        "competition": run_file(PAPER, run, COMPETITION),
    }
    return Rule(PAPER, name, "fit", run, family, outputs, trains=True)


ENCODER = fit_rule(
    "fit_band_encoder", BandRun("{band_encoder}", "{architecture}", "{variant}").name, "encoder"
)
LORA = fit_rule("fit_band_lora", BandRun("{llm}").name, "llm")
REPORT = Rule(
    PAPER,
    "band2025_report",
    "report",
    "report",
    outputs={
        "tables": [table_file(PAPER, table, ext) for table in TABLES for ext in ("csv", "md")],
        "figures": [figure_file(PAPER, figure) for figure in FIGURES],
    },
    log_file=logs_path(PAPER, "report.log"),
)
RULES = (ANNOTATE, PREFINETUNE, ENCODER, LORA, REPORT)
TARGETS = {
    "targets": "config/targets/band2025_results.csv",
    "parameters": "config/targets/band2025_parameters.csv",
}
# train; dev, which chooses the checkpoint; test, which the tables report; and the competition's
# unlabelled test rows, predicted for a Kaggle submission (empty without the raw data's test.csv)
ARENA = {split: derived("arena", split) for split in ("train", "dev", "test", "competition_test")}


def jobs(config: Config, runs: list[str]) -> Iterator[Job]:
    """The jobs of `runs` (names of the matrix); the llm-augmented ones also need their encoder
    pre-finetuned on the annotations, which need the annotation job."""
    parsed = [BandRun.parse(name) for name in runs]
    augmented = list(dict.fromkeys(run.model for run in parsed if run.variant == LLM_AUGMENTED))
    if augmented:
        yield annotate_job(config)
    for encoder in augmented:
        yield prefinetune_job(config, encoder)
    for run in parsed:
        yield lora_job(config, run.model) if run.is_lora else encoder_job(config, run)


def annotate_job(config: Config) -> Job:
    """20 properties per (prompt, response) of a seeded sample of train rows: from a local annotator
    (which loads its model), an API one, or a supplied file."""
    b, tokens = config.band2025, config.plan.tokens["arena"]
    supplied = b.annotation["file"]
    local = not supplied and config.models[b.annotator].kind != "api"
    inputs = {
        "model": [base_model(b.annotator)] if local else [],
        "supplied": [supplied] if supplied else [],
        "train": ARENA["train"],
    }
    if not local:
        return ANNOTATE.job(inputs=inputs, model=None if supplied else b.annotator)
    prompt = tokens["annotation_prompt"] + tokens["annotation_answer"]
    return ANNOTATE.job(
        inputs=inputs, model=b.annotator, infer_tokens=b.annotation_rows * prompt, kv_tokens=prompt
    )


def prefinetune_job(config: Config, encoder: str) -> Job:
    """20 heads (one per property) on the annotations."""
    pre = config.training["band2025-prefinetune"]
    return PREFINETUNE.job(
        {"band_encoder": encoder},
        inputs={
            "base": base_model(encoder),
            "annotations": ANNOTATE.output["annotations"],
            "train": ARENA["train"],  # the texts of the annotated rows
        },
        model=encoder,
        mode="full",
        # two responses a row
        train_tokens=2 * config.band2025.annotation_rows * pre["num_train_epochs"] * pre["max_length"],
        micro_tokens=pre["per_device_train_batch_size"] * pre["max_length"],
        logits=False,
        loop="encoder",
        **recipe_batch(pre),
    )


def encoder_job(config: Config, run: BandRun) -> Job:
    """Single or parallel BERT; llm-augmented runs start from the pre-finetuned encoder."""
    recipe = config.training["band2025-encoder"]
    train, dev, test = (planned_rows(config, "arena", split) for split in ("train", "dev", "test"))
    pairs = 2 if run.architecture == "parallel" else 1  # parallel: (prompt, response) x 2 per row
    example = pairs * recipe["max_length"]
    batch = recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"]
    evaluations = train * recipe["num_train_epochs"] / batch / recipe["eval_steps"] + 1
    start = PREFINETUNE.output_at({"band_encoder": run.model})
    return ENCODER.job(
        {"band_encoder": run.model, "architecture": run.architecture, "variant": run.variant},
        inputs={"base": start if run.variant == LLM_AUGMENTED else base_model(run.model), **ARENA},
        model=run.model,
        mode="full",
        train_tokens=train * recipe["num_train_epochs"] * example,
        infer_tokens=(dev * evaluations + test) * example,  # dev at each evaluation, then test
        micro_tokens=recipe["per_device_train_batch_size"] * example,
        logits=False,
        loop="encoder",
        **recipe_batch(recipe),
    )


def lora_job(config: Config, llm: str) -> Job:
    """The LLM as a LoRA sequence classifier (a 3-way head, not the vocabulary)."""
    lora = config.training["band2025-lora"]
    train, dev, test = (planned_rows(config, "arena", split) for split in ("train", "dev", "test"))
    length = min(config.plan.tokens["arena"]["text"], lora["max_length"])
    batch = lora["per_device_train_batch_size"] * lora["gradient_accumulation_steps"]
    evaluations = train * lora["num_train_epochs"] / batch / lora["save_steps"] + 1
    return LORA.job(
        {"llm": llm},
        inputs={"base": base_model(llm), **ARENA},
        model=llm,
        mode="lora",
        train_tokens=train * lora["num_train_epochs"] * length,
        infer_tokens=(dev * evaluations + test) * length,  # dev at each checkpoint, then test
        micro_tokens=lora["per_device_train_batch_size"] * lora["max_length"],
        checkpointing=lora["activation_checkpointing"],
        logits=False,  # a 3-way head, not the vocabulary
        loop="lora",
        **recipe_batch(lora),
    )


def submission(run: str, competition: bool = False) -> str:
    """A run's Kaggle submission CSV: of the test split's rows, or of the competition's test rows."""
    return results_path(PAPER, "submissions", f"{run}{'.competition' if competition else ''}.csv")


def report(config: Config, tabled: list[str]) -> Job:
    """The log-loss table, Figures 10 and 11 and two Kaggle submissions per tabled run (the test
    split's rows; the competition's test rows, header only where the raw data has none); the
    efficiency score counts the parameters of the models behind the runs."""
    return REPORT.job(
        more_outputs={
            "submissions": [submission(run) for run in tabled],
            "competition": [submission(run, competition=True) for run in tabled],
        },
        inputs={
            "metrics": [run_file(PAPER, run, METRICS) for run in tabled],
            "predictions": [run_file(PAPER, run, PREDICTIONS) for run in tabled],
            "competition": [run_file(PAPER, run, COMPETITION) for run in tabled],
            **TARGETS,
            "bases": sorted({base_model(BandRun.parse(unseeded(run)).model) for run in tabled}),
        },
    )
