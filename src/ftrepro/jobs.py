"""A paper's registration and its job table, and where every file of a run lives.

Each paper package registers one `Paper` (its `PAPER`, named under config `papers`). Its job
table lists every job the DAG makes for it, each with its rule, run, model, mode, inputs and
outputs and the token counts the plan needs: common.smk builds targets, input functions,
wildcard constraints and resources from it, `ftrepro.plan` sizes it, the report and the console
read it. A paper's `Rule`s are patterns of their wildcards ("{task}.{encoder}.ft"): the rules
file reads its outputs, log and work directory from them, and the table formats them with each
job's values, so run names and paths are built here and in the papers' run classes only.

A rule whose runs may train once per seed (config `seeds`, ftrepro.papers.run_seeds) ends its run
pattern in the `{seed}` wildcard (SEED): empty for a run of one seed, so that its paths stay as
they are, and ".seed<N>" for each of several seeds (`seed_run`).

Torch-free and cheap: common.smk builds every table at parse time, and every SLURM job re-parses
the workflow.
"""

from __future__ import annotations

import os
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from ftrepro.config import Config
from ftrepro.io import TRAIN_LOG

PREDICTIONS = "predictions.jsonl"
METRICS = "metrics.json"
SEED = "{seed}"  # ends the run pattern of a rule whose runs take config seeds
SEEDED = re.compile(r"(?P<run>.+)\.seed(?P<seed>\d+)")


def seed_run(run: str, seed: int) -> str:
    """The run of one of a run's several seeds (config seeds): <run>.seed<N>."""
    return f"{run}.seed{seed}"


def unseeded(run: str) -> str:
    """The run whose seed `run` is (seed_run), or `run` itself: the cell its numbers go to."""
    found = SEEDED.fullmatch(run)
    return found["run"] if found else run


# ---------------------------------------------------------------- where files live

# Every file a preset's run writes lives under its preset's directory of results/, resources/ and
# logs/, so that one preset's run never overwrites another's. The paths below hold the preset as
# PRESET: a wildcard of every rule (common.smk constrains it to the run's preset) that the job table
# fills (Job.in_preset, ftrepro.papers.jobs); `in_preset` fills any path for one preset. Shared by
# all presets, as they key what they hold by content: the hub downloads (config
# data.download_dir, by checksum) and the tokenized-data cache (ftrepro.train.data, by fingerprint).
PRESET = "{preset}"
ROOTS = ("results", "resources", "logs")


def results_path(*parts: str) -> str:
    """results/<preset>/...: what a run reports (a run's predictions and metrics, tables, figures,
    the report, the plan, the data statistics)."""
    return "/".join(("results", PRESET, *parts))


def resources_path(*parts: str) -> str:
    """resources/<preset>/...: what a run makes on the way (raw and derived data, base and trained
    models, scratch)."""
    return "/".join(("resources", PRESET, *parts))


def logs_path(*parts: str) -> str:
    """logs/<preset>/...: every job's log, benchmark and provenance, TensorBoard events, and the
    console's files (run/)."""
    return "/".join(("logs", PRESET, *parts))


def in_preset(paths: str | list[str], preset: str) -> str | list[str]:
    """`paths` (one, or a list) with their PRESET filled: the files of `preset`'s run."""
    if isinstance(paths, str):
        return paths.replace(PRESET, preset)
    return [path.replace(PRESET, preset) for path in paths]


def made_for(config: Config, path: str, root: Path = Path(".")) -> bool:
    """Whether a job may take `path` as input: always, or with config `partial` (which makes
    only tables and reports from what exists) only once the preset's file is there."""
    return not config.partial or (root / in_preset(path, config.preset)).is_file()


def run_file(paper: str, run: str, name: str) -> str:
    """A file of a run: results/<preset>/<paper>/<run>/<name> (predictions.jsonl, metrics.json)."""
    return results_path(paper, run, name)


class RunAt(NamedTuple):
    paper: str
    run: str
    preset: str


def run_at(path: str | os.PathLike) -> RunAt:
    """(paper, run, preset) of a run's file: `run_file`'s inverse."""
    *_, preset, paper, run, _name = Path(path).parts
    return RunAt(paper, run, preset)


def run_log(paper: str, stage: str, run: str, ext: str = "log") -> str:
    """logs/<preset>/<paper>/<stage>/<run>.log, or its benchmark with ext="benchmark.tsv"."""
    return logs_path(paper, stage, f"{run}.{ext}")


def table_file(paper: str, name: str, ext: str) -> str:
    return results_path(paper, "tables", f"{name}.{ext}")


def figure_file(paper: str, name: str) -> str:
    return results_path(paper, "figures", f"{name}.png")


def report_file() -> str:
    """The HTML report of every paper: results/<preset>/report.html."""
    return results_path("report.html")


def tensorboard_dir(paper: str, run: str) -> str:
    """Where a run's TensorBoard events go: logs/<preset>/tensorboard/<paper>/<run>/, so that
    `tensorboard --logdir logs/<preset>/tensorboard` shows every run of a preset."""
    return logs_path("tensorboard", paper, run)


def work_dir(paper: str, run: str) -> str:
    """Where a job trains: not a declared output, so a killed job's checkpoints survive."""
    return resources_path("scratch", paper, run)


def model_dir(paper: str, run: str) -> str:
    """A model a paper trains and keeps: pre-finetuned models, and with keep_checkpoints every run's."""
    return resources_path("models", paper, run)


def base_model(name: str) -> str:
    return resources_path("models", "base", name)


def raw_data(dataset: str) -> str:
    """A dataset's raw files, in its release's format."""
    return resources_path("raw", dataset)


def derived_data(dataset: str) -> str:
    """A dataset's derived label files (one directory; SuperNI's is one output as a whole)."""
    return resources_path("derived", dataset)


def derived(dataset: str, split: str) -> str:
    return f"{derived_data(dataset)}/{split}.jsonl"


def labels(dataset: str) -> str:
    return f"{derived_data(dataset)}/labels.json"


def planned_rows(config: Config, dataset: str, split: str) -> int:
    """The rows of a split the plan assumes: the paper's full split (config plan.rows), capped by
    the preset."""
    full = config.plan.rows[dataset][split]
    cap = config.data.caps(dataset).get(split)
    return min(full, cap) if cap else full


def recipe_batch(recipe: Mapping[str, Any]) -> dict[str, int]:
    """The Job fields of a training recipe's batch that its layout keeps: the per-device batch, and
    the effective batch where the recipe states one (the layout's GPUs then set the accumulation),
    else its gradient accumulation steps."""
    micro = recipe["per_device_train_batch_size"]
    if "effective_batch_size" in recipe:
        return {"micro_batch": micro, "effective_batch": recipe["effective_batch_size"]}
    return {"micro_batch": micro, "accumulation": recipe.get("gradient_accumulation_steps", 1)}


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Job:
    """One job of the DAG: what its rule makes for one set of wildcard values."""

    paper: str
    rule: str
    stage: str  # fit | predict | score | report
    name: str  # its run (results/<preset>/<paper>/<name>/), or what it makes (its log's name)
    outputs: Mapping[str, str | list[str]]  # named, as the rule declares them
    family: str = ""  # the family of its run (Paper.runs_by_family), or what the job is
    wildcards: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, str | list[str]] = field(default_factory=dict)
    model: str | None = None  # the config.models name it loads or asks (None: no model)
    mode: str = "inference"  # full | lora | inference (ftrepro.resources)
    # what ftrepro.plan sizes it by, and a training job's layout (ftrepro.layout.Training) from
    train_tokens: float = 0
    infer_tokens: float = 0
    micro_tokens: int = 0  # tokens of one training micro-batch (batch x longest sequence)
    target_tokens: int = 0  # seq2seq: the decoder's share of micro_tokens
    logits: bool = True
    checkpointing: bool = False
    kv_tokens: int = 0  # inference: tokens whose keys and values are held at once
    deepspeed: str | None = None  # the recipe's DeepSpeed config where it applies (Config.deepspeed)
    loop: str = ""  # training: causal | seq2seq | lora | encoder, the measured throughput table's family
    micro_batch: int = 1  # training: the recipe's per-device batch (micro_tokens is this many examples)
    effective_batch: int = 0  # training: examples per optimizer step; 0: micro_batch x accumulation
    accumulation: int | None = None  # the recipe's gradient_accumulation_steps; None: effective_batch
    seed: int | None = None  # training: the recipe's seed where config seeds sets one (None: the recipe's)

    @property
    def files(self) -> tuple[str, ...]:
        """Every output path, in order."""
        return tuple(
            p for value in self.outputs.values() for p in ([value] if isinstance(value, str) else value)
        )

    @property
    def output(self) -> str:
        """The path that names the job (its first output)."""
        return self.files[0]

    def in_preset(self, preset: str) -> Job:
        """The job with its outputs' and inputs' PRESET filled: the job of `preset`'s run."""
        return replace(
            self,
            outputs={key: in_preset(paths, preset) for key, paths in self.outputs.items()},
            inputs={key: in_preset(paths, preset) for key, paths in self.inputs.items()},
        )

    def recipe(self, recipe: Mapping[str, Any]) -> dict[str, Any]:
        """A training recipe with the job's seed, where config seeds sets one: the Trainer's data
        order, dropout and the initialisation of what the job adds to its base model follow it."""
        return dict(recipe) if self.seed is None else {**recipe, "seed": self.seed}


@dataclass(frozen=True)
class Rule:
    """A rule of a paper as patterns of its wildcards (and PRESET's): the run (or model) each job
    makes, its outputs (the run's predictions unless given) and its log
    (logs/<preset>/<paper>/<stage>/<run>.log unless given). A run pattern ending in SEED trains
    once per seed where config seeds gives its run several."""

    paper: str
    name: str
    stage: str  # fit | predict | report
    run: str
    family: str = ""
    outputs: Mapping[str, str | list[str]] | None = None
    log_file: str | None = None
    trains: bool = False  # its jobs train a run's model with the Trainer, which keeps its train_log

    def __post_init__(self):
        if SEED in self.run.removesuffix(SEED):
            raise ValueError(f"rule {self.name}: {SEED} may only end its run pattern ({self.run})")

    @property
    def seeded(self) -> bool:
        """Whether its runs take config seeds (its run pattern ends in SEED)."""
        return self.run.endswith(SEED)

    @property
    def output(self) -> dict[str, str | list[str]]:
        """The named output patterns (`output: **rule.output` in the rules file); a rule that
        `trains` adds its run's training log, "train_log" (ftrepro.fit.train_log_path)."""
        outputs = (
            {"predictions": run_file(self.paper, self.run, PREDICTIONS)}
            if self.outputs is None
            else dict(self.outputs)
        )
        if self.trains:
            outputs["train_log"] = run_file(self.paper, self.run, TRAIN_LOG)
        return outputs

    @property
    def log(self) -> str:
        return self.log_file or run_log(self.paper, self.stage, self.run)

    @property
    def benchmark(self) -> str:
        return run_log(self.paper, self.stage, self.run, "benchmark.tsv")

    @property
    def work_dir(self) -> str:
        return work_dir(self.paper, self.run)

    @property
    def model_dir(self) -> str:
        return model_dir(self.paper, self.run)

    def output_at(self, wildcards: Mapping[str, str]) -> str:
        """The first output of the job with these wildcard values (the preset's among them): the key
        of its row in the table (a seeded rule's run's own where they give no seed, as `job`)."""
        first = next(iter(self.output.values()))
        return (first if isinstance(first, str) else first[0]).format(**_with_preset(self._values(wildcards)))

    def _values(self, wildcards: Mapping[str, str] | None) -> dict[str, str]:
        return ({"seed": ""} if self.seeded else {}) | dict(wildcards or {})

    def job(
        self, wildcards: Mapping[str, str] | None = None, more_outputs: Mapping | None = None, **fields: Any
    ) -> Job:
        """The job of this rule for `wildcards`, with `more_outputs` than its patterns (those that
        depend on the config, such as a file per run) and the `fields` of Job the rule does not set.
        A seeded rule's job is its run's own (the seed wildcard empty) unless `wildcards` give one."""
        values = self._values(wildcards)
        return Job(
            paper=self.paper,
            rule=self.name,
            stage=self.stage,
            name=self.run.format(**values),
            outputs={**self._outputs(values), **(more_outputs or {})},
            family=self.family,
            wildcards=values,
            **fields,
        )

    def with_seed(self, job: Job, seed: int, named: bool) -> Job:
        """`job` (this seeded rule's) training with `seed`: in the run of that seed (seed_run) where
        `named` (its run has several seeds), else in its run's own paths."""
        values = {**job.wildcards, "seed": seed_run("", seed) if named else ""}  # ".seed<N>"
        return replace(
            job,
            name=self.run.format(**values),
            outputs={**job.outputs, **self._outputs(values)},
            wildcards=values,
            seed=seed,
        )

    def _outputs(self, values: Mapping[str, str]) -> dict[str, str | list[str]]:
        filled = _with_preset(values)  # the preset stays PRESET, for the table to fill
        return {
            key: pattern.format(**filled)
            if isinstance(pattern, str)
            else [p.format(**filled) for p in pattern]
            for key, pattern in self.output.items()
        }


def _with_preset(wildcards: Mapping[str, str]) -> dict[str, str]:
    """Wildcard values to format a rule's patterns with: PRESET stays as it is unless given."""
    return {"preset": PRESET, **wildcards}


@dataclass(frozen=True)
class Paper:
    """What a paper package registers as its PAPER; ftrepro.papers reads it for every paper that
    config `papers` names (config.Config.papers), and its settings module resolves its section."""

    id: str
    title: str  # the report's heading of its section
    rules_file: str  # its Snakemake rules: relative to the workflow directory, or absolute
    scorer: str  # "module:function" of (prediction records, source) -> the metrics.json dict
    rules: tuple[Rule, ...]  # every rule of its rules file whose jobs its table lists
    runs_by_family: Callable[[Config], dict[str, list[str]]]  # config -> the matrix, by family
    shared_runs: Callable[[Config], dict[str, str]]  # config -> {run: the run whose model it shares}
    model_names: Callable[[Config], list[str]]  # config -> the config.models names it uses
    jobs: Callable[[Config, list[str]], Iterable[Job]]  # (config, runs to make) -> their jobs
    # (config, scored runs it tables, a run of several seeds once per seed) -> its report job
    report: Callable[[Config, list[str]], Job]
    tables: tuple[str, ...] = ()  # results/<id>/tables/<name>.md (and .csv)
    figures: tuple[str, ...] = ()  # results/<id>/figures/<name>.png
    api_families: frozenset[str] = frozenset()  # answered by a paid API: planned only with its key
    # config -> files beside the config that its section names and its table reads
    config_files: Callable[[Config], list[str]] = lambda config: []
    # the module of its deviation registry: REGISTRY (its deviations.yaml) and our_settings(config)
    # (ftrepro.papers.deviations); None: none, and no deviations section under its tables
    deviations: str | None = None
    # "module:function" of (table name, its CSV as a DataFrame) -> how the HTML report lays the
    # table out (ftrepro.report.compared), or None for a table it shows as its markdown; None: all
    layout: str | None = None

    def scoring(self) -> Callable[..., dict]:
        """The function its `scorer` names (ftrepro.evaluate.score_run), imported only when a run
        is scored: scorers need numpy and the like."""
        return pkgutil.resolve_name(self.scorer)
