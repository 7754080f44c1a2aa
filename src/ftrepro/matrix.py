"""The experiment matrix: which runs exist, and what each run name means.

A run is one evaluated model, written to results/<paper>/<run>/. Run names are built here and
nowhere else, so the DAG, the tables and the tests agree on them:

    zhao2025   <task>.<encoder>.ft                     20ng-joint.roberta-base.ft
               <task>.<decoder>.<shots>.<ft|noft>      massive-intent.llama3-8b.five-shot.ft
               <task>.<api model>.<shots>.noft         massive-slots.gpt-4o.zero-shot.noft
    gupta2023  stl.<superni task>.<setting>            stl.task1356_xlsum_title_generation.baseline1
               mtl.<setting>                           mtl.tk-instruct-100
    band2025   <encoder>.<architecture>.<variant>      distilbert.parallel.llm-augmented
               <llm>.lora                              llama3.1-8b.lora

Cheap and torch-free: common.smk calls it while every SLURM job re-parses the workflow.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

from ftrepro import config as cfg

PAPERS = ("zhao2025", "gupta2023", "band2025")

# Families whose train/predict code exists. Tables wait only for these; the other families'
# rules are in the DAG (dry-runs plan them) and their cells read "not run" until they land.
IMPLEMENTED_FAMILIES = frozenset(
    {
        "zhao2025-encoder",
        "zhao2025-decoder",
        "zhao2025-api",
        "gupta2023-stl",
        "gupta2023-mtl",
        "gupta2023-anchor",
        "band2025-encoder",
        "band2025-llm",
    }
)


def zhao_run(task: str, model: str, shots: str | None = None, mode: str = "ft") -> str:
    """A zhao2025 run name; encoders have no prompt, hence no shots."""
    if shots is None:
        return f"{task}.{model}.{mode}"
    return f"{task}.{model}.{shots}.{mode}"


def zhao_encoder_runs(config: dict) -> list[str]:
    z = config["zhao2025"]
    return [zhao_run(task, model) for model in z["encoders"] for task in z["tasks"]]


def zhao_decoder_runs(config: dict, mode: str) -> list[str]:
    """Runs of the open decoders, fine-tuned (mode 'ft') or prompted as released ('noft')."""
    z = config["zhao2025"]
    return [
        zhao_run(task, model, shots, mode)
        for model in z["decoders"]
        for shots in z["shots"]
        for task in z["tasks"]
    ]


def zhao_api_runs(config: dict) -> list[str]:
    z = config["zhao2025"]
    return [
        zhao_run(task, model, shots, "noft")
        for model in z["api_models"]
        for shots in z["shots"]
        for task in z["tasks"]
    ]


@functools.lru_cache(maxsize=8)
def _read_task_list(path: str) -> tuple[str, ...]:
    names = [line.strip() for line in Path(path).read_text().splitlines()]
    return tuple(name for name in names if name)


def superni_test_tasks(config: dict) -> list[str]:
    """The SuperNI test tasks of the run, capped by the preset (tiny and mini use a few)."""
    tasks = list(_read_task_list(config["gupta2023"]["test_tasks_file"]))
    cap = cfg.preset(config)["data"].get("superni_tasks")
    return tasks[:cap] if cap else tasks


def gupta_stl_runs(config: dict) -> list[str]:
    settings = config["gupta2023"]["settings"]
    return [f"stl.{task}.{s}" for task in superni_test_tasks(config) for s in settings]


def gupta_mtl_runs(config: dict) -> list[str]:
    return [f"mtl.{s}" for s in config["gupta2023"]["settings"]]


# Tk-Instruct's two no-training heuristics on the test split (protocols.md 1.5)
GUPTA_ANCHORS = ("copy_input", "copy_demo")


def gupta_anchor_runs(config: dict) -> list[str]:
    return [f"anchor.{method}" for method in GUPTA_ANCHORS]


def band_encoder_runs(config: dict) -> list[str]:
    b = config["band2025"]
    return [
        f"{enc}.{arch}.{variant}"
        for enc in b["encoders"]
        for arch in b["architectures"]
        for variant in b["variants"]
    ]


def band_llm_runs(config: dict) -> list[str]:
    return [f"{config['band2025']['llm']}.lora"]


def band_run_model(run: str) -> str:
    """The model behind a band2025 run: "distilbert.parallel.plain" -> "distilbert",
    "llama3.1-8b.lora" -> "llama3.1-8b"."""
    return run.removesuffix(".lora") if run.endswith(".lora") else run.split(".")[0]


def runs_by_family(config: dict) -> dict[str, list[str]]:
    return {
        "zhao2025-encoder": zhao_encoder_runs(config),
        "zhao2025-decoder": zhao_decoder_runs(config, "ft") + zhao_decoder_runs(config, "noft"),
        "zhao2025-api": zhao_api_runs(config),
        "gupta2023-stl": gupta_stl_runs(config),
        "gupta2023-mtl": gupta_mtl_runs(config),
        "gupta2023-anchor": gupta_anchor_runs(config),
        "band2025-encoder": band_encoder_runs(config),
        "band2025-llm": band_llm_runs(config),
    }


# Families answered by a paid API: planned only while its key is set (config api.key_env).
API_FAMILIES = frozenset({"zhao2025-api"})


def api_key_set(config: dict, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the API key's environment variable (config api.key_env) is set and not empty."""
    return bool((os.environ if environ is None else environ).get(config["api"]["key_env"]))


def runs(config: dict, paper: str, implemented_only: bool = False, with_api: bool = True) -> list[str]:
    """Every run of a paper, optionally only those whose family's code exists, and without the
    API families when ``with_api`` is false (no key: their cells read "not run", not failed)."""
    return [
        run
        for family, names in runs_by_family(config).items()
        if family.startswith(paper + "-")
        and (family in IMPLEMENTED_FAMILIES or not implemented_only)
        and (family not in API_FAMILIES or with_api)
        for run in names
    ]
