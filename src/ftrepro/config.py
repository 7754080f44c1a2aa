"""The validated configuration seen through the chosen preset.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes and fills defaults; this
module checks what a schema cannot (every model name used by the matrix is declared and has a
model in every preset) and applies the preset. Cheap and torch-free: common.smk imports it and
every SLURM job re-parses the workflow.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message names the key."""


def load(path: str | Path, overrides: Mapping[str, Any] | None = None) -> dict:
    """Read, override, validate (filling defaults) and cross-check a config file."""
    from snakemake.utils import validate  # the same validator the workflow uses

    with open(path) as f:
        config = yaml.safe_load(f)
    deep_update(config, overrides or {})
    validate(config, str(SCHEMA))
    check_references(config)
    return config


def deep_update(base: dict, overrides: Mapping[str, Any]) -> dict:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _model_references(config: dict) -> Iterator[tuple[str, str, str | None]]:
    """(config key, model name, required kind) for every model the config names; kind None:
    any, "local": any but api."""
    z, g, b = config["zhao2025"], config["gupta2023"], config["band2025"]
    for group, kind in (("encoders", "encoder"), ("decoders", "decoder"), ("api_models", "api")):
        for name in z[group]:
            yield f"zhao2025.{group}", name, kind
    for setting, spec in g["settings"].items():
        yield f"gupta2023.settings.{setting}.model", spec["model"], "seq2seq"
    yield "gupta2023.prefinetune.model", g["prefinetune"]["model"], "seq2seq"
    for name in b["encoders"]:
        yield "band2025.encoders", name, "encoder"
    yield "band2025.llm", b["llm"], "decoder"
    yield "band2025.annotator", b["annotator"], None
    for dataset, name in config["data"]["stats_tokenizers"].items():
        yield f"data.stats_tokenizers.{dataset}", name, "local"


def check_references(config: dict) -> None:
    """Every model the matrix names is declared, of the right kind, and in every preset."""
    models = config["models"]
    for key, name, kind in _model_references(config):
        if name not in models:
            raise ConfigError(f"config key {key}: model '{name}' is not declared under 'models'")
        if kind == "local":
            if models[name]["kind"] == "api":
                raise ConfigError(
                    f"config key {key}: model '{name}' is an api model; a local model is needed"
                )
        elif kind and models[name]["kind"] != kind:
            raise ConfigError(
                f"config key {key}: model '{name}' is a {models[name]['kind']} model, expected {kind}"
            )
    for preset, spec in config["presets"].items():
        for name, declared in models.items():
            if name not in spec["models"]:
                raise ConfigError(f"config key presets.{preset}.models: no model for '{name}'")
            is_api = "api" in spec["models"][name]
            if is_api != (declared["kind"] == "api"):
                raise ConfigError(
                    f"config key presets.{preset}.models.{name}: an 'api' spec is for api models only"
                )
        for name in spec["models"]:
            if name not in models:
                raise ConfigError(f"config key presets.{preset}.models.{name}: unknown model name")


def preset(config: dict) -> dict:
    return config["presets"][config["preset"]]


def model_spec(config: dict, name: str) -> dict:
    """What stands behind a model name in the chosen preset."""
    return preset(config)["models"][name]


def training_recipe(config: dict, recipe: str) -> dict:
    """Paper-scale hyperparameters of a recipe with the preset's overrides applied."""
    recipe_cfg = copy.deepcopy(config["training"][recipe])
    return deep_update(recipe_cfg, preset(config)["training"].get(recipe, {}))


def max_rows(config: dict) -> dict:
    return preset(config)["data"].get("max_rows", {})


def uses_gpu(config: dict) -> bool:
    return preset(config)["accelerator"] == "gpu"
