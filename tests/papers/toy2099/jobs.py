"""toy2099's job table: one run per encoder (<encoder>.majority), scored, then one table."""

from collections.abc import Iterator
from pathlib import Path

from ftrepro.config import Config
from ftrepro.jobs import (
    METRICS,
    Job,
    Rule,
    base_model,
    derived,
    labels,
    logs_path,
    planned_rows,
    run_file,
    table_file,
)

PAPER = "toy2099"
TABLES = ("summary",)
FIT = Rule(PAPER, "fit_toy2099", "fit", "{toy_encoder}.majority", "majority")
REPORT = Rule(
    PAPER,
    "toy2099_report",
    "report",
    "summary",
    outputs={"md": table_file(PAPER, "summary", "md"), "csv": table_file(PAPER, "summary", "csv")},
    log_file=logs_path(PAPER, "report.log"),
)
RULES = (FIT, REPORT)
TARGETS = str(Path(__file__).with_name("targets.csv"))


def runs_by_family(config: Config) -> dict[str, list[str]]:
    return {"majority": [FIT.run.format(toy_encoder=encoder) for encoder in config.toy2099.encoders]}


def jobs(config: Config, runs: list[str]) -> Iterator[Job]:
    dataset = config.toy2099.dataset
    for run in runs:
        encoder = run.removesuffix(".majority")
        yield FIT.job(
            {"toy_encoder": encoder},
            inputs={
                "train": derived(dataset, "train"),
                "test": derived(dataset, "test"),
                "labels": labels(dataset),
                "base": base_model(encoder),
            },
            model=encoder,
            infer_tokens=planned_rows(config, dataset, "test") * config.plan.tokens[dataset]["text"],
            kv_tokens=config.plan.tokens[dataset]["text"],
        )


def report(config: Config, tabled: list[str]) -> Job:
    return REPORT.job(
        inputs={"metrics": [run_file(PAPER, run, METRICS) for run in tabled], "targets": TARGETS}
    )
