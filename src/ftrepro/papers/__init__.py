"""The three papers, one package each: its runs (matrix, names, targets), what it predicts and
scores in its own way, and its report. Everything they share lives below (data, models, train,
infer, metrics, report) and never imports a paper.

This module is the matrix of all three: cheap and torch-free, since common.smk calls it while
every SLURM job re-parses the workflow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ftrepro.config import Config
from ftrepro.papers.band2025 import runs as band_runs
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.zhao2025 import runs as zhao_runs

RUNS = {"zhao2025": zhao_runs, "gupta2023": gupta_runs, "band2025": band_runs}
PAPERS = tuple(RUNS)
# Families answered by a paid API: planned only while its key is set (config api.key_env).
API_FAMILIES = frozenset({"zhao2025-api"})


def runs_by_family(config: Config) -> dict[str, list[str]]:
    """{"<paper>-<family>": run names} over the three papers."""
    return {
        f"{paper}-{family}": names
        for paper, module in RUNS.items()
        for family, names in module.runs_by_family(config).items()
    }


def api_key_set(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the API key's environment variable (config api.key_env) is set and not empty."""
    return bool((os.environ if environ is None else environ).get(config.api["key_env"]))


def runs(config: Config, paper: str, with_api: bool = True) -> list[str]:
    """Every run of a paper; without the API families when ``with_api`` is false (no key:
    their cells read "not run", not failed)."""
    return [
        run
        for family, names in runs_by_family(config).items()
        if family.startswith(paper + "-") and (family not in API_FAMILIES or with_api)
        for run in names
    ]


def shared_runs(config: Config, paper: str) -> dict[str, str]:
    """{run: the run whose model it shares} of a paper. Names that resolve to the same weights,
    data and recipe in the preset are one model: one job trains it (the first run of the matrix
    that names it) and its predictions and metrics serve every run that names it; the tables say
    which rows share a model. At paper scale every name is its own model and nothing is shared."""
    return RUNS[paper].shared_runs(config)


def trained_runs(config: Config, paper: str, with_api: bool = True) -> list[str]:
    """The runs a paper's DAG makes: `runs` without those that share another run's model."""
    shared = shared_runs(config, paper)
    return [run for run in runs(config, paper, with_api) if run not in shared]


def tabled_runs(config: Config, paper: str, with_api: bool = True, root: Path = Path(".")) -> list[str]:
    """The trained runs a paper's tables take: all of them, or with config `partial` only those
    whose results/<paper>/<run>/metrics.json exists now (the tables then mark the rest "not run")."""
    return finished_runs(config, paper, trained_runs(config, paper, with_api), root)


def finished_runs(config: Config, paper: str, runs: list[str], root: Path = Path(".")) -> list[str]:
    """`runs`, or with config `partial` those of them whose metrics.json exists now."""
    if not config.partial:
        return runs
    return [run for run in runs if (root / "results" / paper / run / "metrics.json").is_file()]


def stand_ins(config: Config, paper: str) -> dict[str, str]:
    """{paper's model name: what the preset trains under it} for the models of `paper` that the
    preset replaces (config.Model.stand_in); the tables and the report name them."""
    models = (config.models[name] for name in RUNS[paper].model_names(config))
    return {model.name: model.stand_in for model in models if model.stand_in}


def verdict_basis(config: Config, paper: str) -> str:
    """What a verdict against the paper's numbers means in the preset (ftrepro.report.BASIS_WORDS):
    "meaningless" on synthetic data or with a randomly initialised model, "stand-ins" where the
    preset trains other models under the paper's names, else "paper"."""
    models = [config.models[name] for name in RUNS[paper].model_names(config)]
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
