"""The papers: one package each, registered by config `papers` ({id: package}). A package holds
its runs (matrix, names), its job table, its config section, what it predicts and scores in its
own way, and its report; it registers them as its PAPER (ftrepro.jobs.Paper). Everything they
share lives below (data, models, train, infer, metrics, report) and never imports a paper.

This module is the matrix and the job table of every registered paper, read by common.smk, the
plan, the report and the console; it names no paper. Cheap and torch-free, since common.smk calls
it while every SLURM job re-parses the workflow.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ftrepro.config import Config, ConfigError
from ftrepro.jobs import METRICS, PREDICTIONS, Job, Paper, Rule, made_for, run_file, seed_run


def registered(config: Config) -> dict[str, Paper]:
    """{id: its registration} of every paper config `papers` names, in the config's order."""
    return registrations(config.papers)


def registrations(packages: Mapping[str, str]) -> dict[str, Paper]:
    """{id: its registration} of config `papers` as written ({id: package}): what the console
    reads before any config is resolved."""
    found = {}
    for paper, package in packages.items():
        registration = getattr(importlib.import_module(package), "PAPER", None)
        if not isinstance(registration, Paper) or registration.id != paper:
            raise ConfigError(f"config key papers.{paper}: {package} registers no PAPER with id {paper!r}")
        found[paper] = registration
    return found


def ids(config: Config) -> tuple[str, ...]:
    return tuple(config.papers)


def runs_by_family(config: Config) -> dict[str, list[str]]:
    """{"<paper>-<family>": run names} over the registered papers."""
    return {
        f"{paper.id}-{family}": names
        for paper in registered(config).values()
        for family, names in paper.runs_by_family(config).items()
    }


def api_key_set(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the API key's environment variable (config api.key_env) is set and not empty."""
    return bool((os.environ if environ is None else environ).get(config.api["key_env"]))


def runs(config: Config, paper: str, with_api: bool = True) -> list[str]:
    """Every run of a paper; without its API families when ``with_api`` is false (no key:
    their cells read "not run", not failed)."""
    registration = registered(config)[paper]
    return [
        run
        for family, names in registration.runs_by_family(config).items()
        if family not in registration.api_families or with_api
        for run in names
    ]


def shared_runs(config: Config, paper: str) -> dict[str, str]:
    """{run: the run whose model it shares} of a paper. Names that resolve to the same weights,
    data and recipe in the preset are one model: one job trains it (the first run of the matrix
    that names it) and its predictions and metrics serve every run that names it; the tables say
    which rows share a model. At paper scale every name is its own model and nothing is shared.
    Runs share only with runs of the same seeds (`run_seeds`): of the runs that name one model,
    the first of each set of seeds trains it for the others."""
    shared = registered(config)[paper].shared_runs(config)
    seeds = run_seeds(config, paper)
    if not seeds:
        return shared
    groups: dict[str, list[str]] = {}
    for run, owner in shared.items():
        groups.setdefault(owner, [owner]).append(run)
    regrouped = {}
    for group in groups.values():
        first: dict[tuple, str] = {}
        for run in group:  # the owner first: it keeps the runs of its own seeds
            owner = first.setdefault(seeds.get(run, ()), run)
            if owner != run:
                regrouped[run] = owner
    return regrouped


def run_seeds(config: Config, paper: str) -> dict[str, tuple[int, ...]]:
    """{run: its seeds} of a paper's runs that the preset trains with seeds of their own (config
    presets.<preset>.seeds.<paper>.<family>): one model per seed, in a run per seed where there
    are several (ftrepro.jobs.seed_run) and in the run's own paths where there is one. Runs of the
    family that train nothing (their jobs' rules take no seed: prompted models, anchors) keep
    their one job; a family that trains nothing, an unknown family and a glob that selects no
    run are errors naming the key."""
    registration = registered(config)[paper]
    given = config.seeds.get(paper, {})
    if not given:
        return {}
    families = registration.runs_by_family(config)
    seeded_rules = {rule.name for rule in registration.rules if rule.seeded}
    found = {}
    for family, spec in given.items():
        key = f"config key presets.{config.preset}.seeds.{paper}.{family}"
        if family not in families:
            close = difflib.get_close_matches(family, list(families), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else f"its families: {', '.join(families)}"
            raise ConfigError(f"{key}: {paper} has no run family {family!r}; {hint}")
        selected = {}
        for pattern in spec.runs:
            matched = fnmatch.filter(families[family], pattern)
            if not matched:
                raise ConfigError(
                    f"{key}.runs: {pattern!r} selects no run of the family in preset {config.preset}"
                )
            selected.update(dict.fromkeys(matched, spec.seeds))
        trained = {job.name for job in registration.jobs(config, list(selected)) if job.rule in seeded_rules}
        if not trained:
            raise ConfigError(
                f"{key}: its runs train no model (prompted or heuristic), so seeds do not apply"
            )
        found.update({run: seeds for run, seeds in selected.items() if run in trained})
    return found


def seed_runs(config: Config, paper: str) -> dict[str, list[str]]:
    """{run: the run of each of its seeds} of a paper's runs with several seeds (`run_seeds`)."""
    return {
        run: [seed_run(run, seed) for seed in seeds]
        for run, seeds in run_seeds(config, paper).items()
        if len(seeds) > 1
    }


def each_seed(config: Config, paper: str, runs: Iterable[str]) -> list[str]:
    """`runs` as their jobs name them: a run of several seeds once per seed (`seed_runs`)."""
    seeds = seed_runs(config, paper)
    return [named for run in runs for named in seeds.get(run, [run])]


def shared_by_seed(config: Config, paper: str) -> dict[str, str]:
    """`shared_runs` as the jobs name the runs: each seed of a run shares its owner's model of
    that seed."""
    seeds = seed_runs(config, paper)
    return {
        named: owned
        for run, owner in shared_runs(config, paper).items()
        for named, owned in zip(seeds.get(run, [run]), seeds.get(owner, [owner]), strict=True)
    }


def trained_runs(config: Config, paper: str, with_api: bool = True) -> list[str]:
    """The runs a paper's DAG makes: `runs` without those that share another run's model."""
    shared = shared_runs(config, paper)
    return [run for run in runs(config, paper, with_api) if run not in shared]


def tabled_runs(config: Config, paper: str, with_api: bool = True, root: Path = Path(".")) -> list[str]:
    """The trained runs a paper's tables take: all of them, or with config `partial` only those
    whose results/<preset>/<paper>/<run>/metrics.json exists now (the tables then mark the rest
    "not run")."""
    return finished_runs(config, paper, trained_runs(config, paper, with_api), root)


def finished_runs(config: Config, paper: str, runs: list[str], root: Path = Path(".")) -> list[str]:
    """`runs`, or with config `partial` those of them whose metrics.json exists now."""
    return [run for run in runs if made_for(config, run_file(paper, run, METRICS), root)]


def train_logs(
    config: Config, table: Iterable[Job], root: Path = Path(".")
) -> dict[str, dict[str, dict[str, str]]]:
    """{paper: {family: {run: its train_log.jsonl}}} of the training jobs of a job table (`jobs`)
    whose runs the report takes (`finished_runs`): the loss curves of the HTML report."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for job in table:
        if "train_log" in job.outputs:
            found.setdefault(job.paper, {}).setdefault(job.family, {})[job.name] = job.outputs["train_log"]
    return {
        paper: {
            family: {run: logs[run] for run in finished_runs(config, paper, list(logs), root)}
            for family, logs in families.items()
        }
        for paper, families in found.items()
    }


def stand_ins(config: Config, paper: str) -> dict[str, str]:
    """{paper's model name: what the preset trains under it} for the models of `paper` that the
    preset replaces (config.Model.stand_in); the tables and the report name them."""
    models = (config.models[name] for name in registered(config)[paper].model_names(config))
    return {model.name: model.stand_in for model in models if model.stand_in}


def verdict_basis(config: Config, paper: str) -> str:
    """What a verdict against the paper's numbers means in the preset (ftrepro.report.BASIS_WORDS):
    "meaningless" on synthetic data or with a randomly initialised model, "stand-ins" where the
    preset trains other models under the paper's names, else "paper"."""
    models = [config.models[name] for name in registered(config)[paper].model_names(config)]
    if config.data.synthetic or any("random" in model.spec for model in models):
        return "meaningless"
    return "stand-ins" if any(model.stand_in for model in models) else "paper"


def with_shared(metrics: Mapping[str, dict], shared: Mapping[str, str]) -> dict[str, dict]:
    """Metrics of the trained runs, plus every run of `shared` ({run: the run whose model it
    shares}, `shared_runs`) whose model's run has them, with "shared_with" set to that run."""
    out = dict(metrics)
    for run, owner in shared.items():
        if owner in metrics:
            out[run] = {**metrics[owner], "shared_with": owner}
    return out


# ---------------------------------------------------------------- the job table

# The shared rule that scores every run's predictions (workflow/rules/evaluate.smk).
SCORE = "score"


def jobs(config: Config, with_api: bool = True, every: bool = False, root: Path = Path(".")) -> list[Job]:
    """The job table of every registered paper: the jobs of the runs the DAG makes (`trained_runs`),
    a score job per run, and each paper's report job over the runs it tables (`finished_runs`).
    With `every`, the jobs of every run of the matrix instead (runs that share a model or need the
    API key included): what a rule can make when its output is named. Their paths are the preset's
    (Job.in_preset)."""
    table = []
    for paper in registered(config).values():
        made = list(_each_seed(config, paper, trained_runs(config, paper.id, with_api)))
        scored = [job.name for job in made if _predicts(job)]
        report = paper.report(config, finished_runs(config, paper.id, scored, root))
        if every:
            made = list(_each_seed(config, paper, runs(config, paper.id)))
        table += [*made, *(_score_job(job) for job in made if _predicts(job)), report]
    return [job.in_preset(config.preset) for job in table]


def _each_seed(config: Config, paper: Paper, runs: list[str]) -> Iterator[Job]:
    """The paper's jobs of `runs`, the job of a run with seeds (`run_seeds`) once per seed."""
    seeds = run_seeds(config, paper.id)
    rules = {rule.name: rule for rule in paper.rules}
    for job in paper.jobs(config, runs):
        rule = rules.get(job.rule)
        if job.name not in seeds or rule is None or not rule.seeded:
            yield job
            continue
        for seed in seeds[job.name]:
            yield rule.with_seed(job, seed, named=len(seeds[job.name]) > 1)


def _predicts(job: Job) -> bool:
    """Whether a job writes a run's predictions, which a score job then scores."""
    return job.output == run_file(job.paper, job.name, PREDICTIONS)


def _score_job(job: Job) -> Job:
    return Job(
        paper=job.paper,
        rule=SCORE,
        stage="score",
        name=job.name,
        outputs={"metrics": run_file(job.paper, job.name, METRICS)},
        family=job.family,
        inputs={"predictions": job.output},
    )


def table_sources(config: Config) -> list[str]:
    """What the job tables are built from beside the config files: the files the papers' sections
    name, and the source of every module the tables import (the registry, the papers' packages,
    their settings and schemas), so that results/plan.tsv follows a change to any of them."""
    files = [path for paper in registered(config).values() for path in paper.config_files(config)]
    packages = (__name__, "ftrepro.jobs", "ftrepro.config", *config.papers.values())
    modules = [m for name, m in sorted(sys.modules.items()) if name.startswith(packages)]
    files += [m.__file__ for m in modules if getattr(m, "__file__", None)]
    return files + [str(m.SCHEMA) for m in modules if hasattr(m, "SCHEMA")]


def rules(config: Config) -> dict[str, Rule]:
    """{rule name: its Rule} of every registered paper: what each rule makes, for which paper, in
    which stage and family (the console's lines and times per stage and family read it)."""
    return {rule.name: rule for paper in registered(config).values() for rule in paper.rules}


def wildcard_values(table: Iterable[Job]) -> dict[str, list[str]]:
    """{wildcard: every value it takes} over the jobs of a table: the papers' rules' constraints."""
    values: dict[str, dict[str, None]] = {}
    for job in table:
        for name, value in job.wildcards.items():
            values.setdefault(name, {})[value] = None
    return {name: list(found) for name, found in values.items()}


def job_counts(table: Iterable[Job]) -> dict[str, int]:
    """{rule: jobs} of a job table, as Snakemake's "Job stats" counts them."""
    return dict(Counter(job.rule for job in table))
