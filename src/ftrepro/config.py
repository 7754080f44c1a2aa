"""The configuration, resolved once through the chosen preset into one typed, frozen object.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes and fills defaults;
`check_references` checks what a schema cannot (every model name the matrix uses is declared,
of the right kind, and has a model in every preset); `resolve` applies the preset: the model
behind every name, the training recipes with the preset's overrides and the data caps. The
papers are a registry, config `papers` ({id: package}): each paper's section is validated,
checked and resolved by its package's settings module (`paper_settings`) and read as
`config.<id>`. Rules and scripts read the resulting `Config`. Cheap and torch-free: common.smk
builds it and every SLURM job re-parses the workflow.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = SCHEMA.parents[2] / "config" / "config.yaml"  # the workflow's config


class ConfigError(ValueError):
    """A configuration problem; the message names the key."""


SYNTHETIC = "synthetic"
# where raw data comes from when neither data.source nor the preset names a source: the real data
DEFAULT_SOURCE = "hub"


def data_source(config: Mapping) -> str:
    """The raw data source of a validated config dict: data.source when given, else the preset's
    data.source, else hub. Only an explicit choice (the tiny preset's, or the user's) gives
    synthetic data; a preset of real models never falls back to it."""
    preset = config["presets"][config["preset"]].get("data", {})
    return config["data"].get("source") or preset.get("source") or DEFAULT_SOURCE


@dataclass(frozen=True)
class Shape:
    """A model's paper-scale shape, which sizes activations and the KV cache in the plan."""

    layers: int  # per stack (encoder-decoders: each)
    hidden: int
    heads: int
    vocab: int
    context: int
    kv_heads: int | None = None  # grouped-query attention; None: heads


@dataclass(frozen=True)
class Model:
    name: str
    kind: str  # encoder | decoder | seq2seq | api
    params_b: float | None  # paper-scale size in billions; sizes the SLURM request of its jobs
    spec: dict  # what stands behind the name in the chosen preset (config/README.md)
    shape: Shape | None = None  # api models: None
    paper_repo: str | None = None  # the paper's model on the hub (models.<name>.hub.repo)

    @property
    def stand_in(self) -> str:
        """What the preset trains under the name, as tables name it beside the paper's model
        ("" where it is the paper's own model on the hub, or an API model)."""
        return stand_in_name(self.spec, self.paper_repo)

    @property
    def checkpoint(self) -> str:
        """What the preset loads under the name: a hub repository, an API model id, or how the
        tables name a stand-in (the deviation registries compare it with the paper's model)."""
        ((form, args),) = self.spec.items()
        if form == "hub":
            return args["repo"]
        if form == "api":
            return args
        return stand_in_name(self.spec)

    @property
    def identity(self) -> str:
        """The kind and spec behind the name as a string: names with equal identities are one
        model in the preset (the same weights), which ftrepro.papers trains once."""
        return json.dumps([self.kind, self.spec], sort_keys=True)


def stand_in_name(spec: dict, paper_repo: str | None = None) -> str:
    """A model spec as the tables name it: its `name` where given, else what it is made from."""
    ((form, args),) = spec.items()
    if form == "api" or (form == "hub" and args["repo"] == paper_repo):
        return ""
    if form == "warm_start":
        return f"encoder-decoder of {stand_in_name(args)}"
    if form == "random":
        return f"random {args['architecture']}"
    named = {"hub": "repo", "package": "module", "gguf": "module", "local": "path"}[form]
    return args.get("name") or args.get(named) or args.get("path", "")


@dataclass(frozen=True)
class Data:
    source: str  # synthetic | local | hub, resolved through the preset (data_source)
    local_dir: str | None
    download_dir: str
    hub: dict
    seed: int
    newsgroups_remove: list[str]
    arena_splits: dict[str, float]  # {dev, test}: fractions of the arena rows held out
    stats_tokenizers: dict[str, str]
    stats_sample: int
    max_rows: dict[str, int]  # the preset's cap per split; absent: every row
    # the preset's caps of one dataset over max_rows ("all": every row of that split)
    dataset_max_rows: dict[str, dict[str, int | str]] = field(default_factory=dict)
    # train rows held out as a dev split, for datasets whose release has none (20 Newsgroups)
    held_out_dev: dict[str, int] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Generated data, not the papers' datasets: every table, figure and the report say so."""
        return self.source == SYNTHETIC

    def caps(self, dataset: str) -> dict[str, int]:
        """{split: rows} a dataset is capped to in the preset: max_rows, then its own caps."""
        merged = {**self.max_rows, **self.dataset_max_rows.get(dataset, {})}
        return {split: rows for split, rows in merged.items() if rows != "all"}


@dataclass(frozen=True)
class Plan:
    """The assumptions of `ftrepro plan` (config.yaml `plan` explains them)."""

    gpu_kind: str  # the cluster's GPUs, one of gpu_kinds
    gpu_kinds: dict[str, dict]  # name -> {peak_tflops, mfu: {inference}}
    throughput: str  # the measured table (ftrepro.costs.Measurements)
    layout_model: dict  # what ranks training layouts (ftrepro.layout)
    rows: dict[str, dict[str, int]]  # dataset -> split -> rows of the full split
    tokens: dict[str, dict[str, int]]  # assumed tokens per example

    @property
    def gpu(self) -> dict:
        """The throughput of the cluster's GPU kind."""
        return self.gpu_kinds[self.gpu_kind]

    @property
    def layout_ranking(self) -> dict:
        """layout_model with the cluster's GPU kind's peak_tflops."""
        return {**self.layout_model, "peak_tflops": self.gpu["peak_tflops"]}


@dataclass(frozen=True)
class Launch:
    """How a CPU preset's jobs start (GPU presets: one process per GPU of the job, and the
    recipe's DeepSpeed config; ftrepro.train.launch)."""

    cpu_processes: int  # above 1: torchrun with gloo, as a multi-GPU job does
    cpu_deepspeed: bool  # the recipes' DeepSpeed configs on DeepSpeed's CPU accelerator


@dataclass(frozen=True)
class Stats:
    """Our numbers' intervals and their verdicts against the papers' (config.yaml `stats`)."""

    resamples: int  # bootstrap resamples per interval (ftrepro.metrics.Bootstrap)
    seed: int
    tolerance: dict[str, float]  # metric -> how far outside our interval still reads "reproduced"


@dataclass(frozen=True)
class Seeds:
    """The seeds of a paper's run family in the preset (presets.<preset>.seeds.<paper>.<family>):
    one model per seed for each run of the family that one of `runs` (globs over its run names)
    selects (ftrepro.papers.run_seeds)."""

    seeds: tuple[int, ...]
    runs: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class Config:
    preset: str
    gpu: bool  # the preset's accelerator: sized GPU jobs, else small CPU jobs
    keep_checkpoints: bool
    partial: bool  # tables from the runs that have finished (papers.finished_runs)
    data: Data
    models: dict[str, Model]
    training: dict[str, dict]  # recipe -> paper-scale hyperparameters with the preset's overrides
    cluster: dict
    api: dict
    launch: Launch
    plan: Plan
    stats: Stats
    papers: dict[str, str]  # the paper registry: id -> its package (config `papers`)
    sections: dict[str, Any]  # id -> its config section, resolved by its package's settings module
    seeds: dict[str, dict[str, Seeds]] = field(default_factory=dict)  # the preset's: paper -> family -> Seeds

    def __getattr__(self, name: str) -> Any:
        """`config.<paper id>`: that paper's resolved section."""
        sections = self.__dict__.get("sections", {})  # absent while unpickling
        if name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or paper section {name!r}")

    def processes(self, gpus: int) -> int:
        """Processes of a job with `gpus` GPUs: one per GPU; on CPU presets launch.cpu_processes."""
        return gpus or self.launch.cpu_processes

    def deepspeed(self, path: str) -> str | None:
        """A recipe's DeepSpeed config where it applies: GPU presets, or CPU ones with
        launch.cpu_deepspeed; else None (plain PyTorch)."""
        return path if self.gpu or self.launch.cpu_deepspeed else None


def load(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read, override, validate (filling defaults), cross-check and resolve a config file.
    Its relative paths are relative to the workflow directory, the parent of config/. A bad key
    raises ConfigError naming it and whether `overrides` or the file gave it (validate_config)."""
    with open(path) as f:
        config = yaml.safe_load(f)
    deep_update(config, overrides or {})
    validate_config(config, overrides=overrides, base=str(path))
    over_preset(config, (overrides or {}).items())
    return resolve(config, Path(path).resolve().parents[1])


# --------------------------------------------------------------------------- --config overrides


def override_value(text: str) -> Any:
    """A `--config key=value` value with the types a config file would give it, at any depth: a
    Python literal ({'a': 1}, as the README writes them), else YAML (true, null, {a: 1}), else
    the text. Snakemake types top-level values only and keeps nested ones as strings."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def typed_overrides(config_args: Sequence[str] | None) -> dict[str, Any]:
    """{key: typed value} of the `--config` entries (snakemake's `config_settings.config_args`)."""
    return dict(override_pairs(config_args))


def apply_overrides(config: dict, config_args: Sequence[str] | None) -> dict:
    """Put the `--config` values back with their types (numbers, booleans, lists) in `config`,
    where snakemake merged them as strings: nested ones, and top-level ones it left as text
    (it types `keep_checkpoints=True` but not `=true`)."""
    typed = {
        key: value
        for key, value in typed_overrides(config_args).items()
        if isinstance(value, dict | list) or (isinstance(config.get(key), str) and not isinstance(value, str))
    }
    return deep_update(config, typed)


# The sections a preset overrides key by key (presets.<name>.<section>), after the top level.
PRESET_SECTIONS = ("training",)


def over_preset(config: dict, overrides: Iterable[tuple[str, Any]]) -> dict:
    """Put override values of the sections a preset overrides (PRESET_SECTIONS) into the chosen
    preset's too, in the order given: `resolve` lays the preset over the top level, where its
    value would silently beat the one typed (`--config "training={'<recipe>': {'learning_rate':
    1e6}}"` under presets.mini.training). A later `presets` entry is applied
    again after an earlier section entry, so the last one typed wins. Call after validation
    (errors name the key as given); `overrides` are (key, typed value) pairs (override_pairs)."""
    preset = config.get("presets", {}).get(config.get("preset"))
    if not isinstance(preset, dict):
        return config
    for key, value in overrides:
        if key in PRESET_SECTIONS and isinstance(value, Mapping):
            deep_update(preset.setdefault(key, {}), value)
        elif key == "presets" and isinstance(value, Mapping):
            deep_update(config["presets"], value)
    return config


def override_pairs(config_args: Sequence[str] | None) -> list[tuple[str, Any]]:
    """(key, typed value) of each `--config` entry, in the order typed."""
    entries = (entry.partition("=") for entry in config_args or [])
    return [(key, override_value(value)) for key, sep, value in entries if sep]


# --------------------------------------------------------------------------- validation


def validate_config(
    config: dict,
    config_args: Sequence[str] | None = None,
    configfiles: Sequence[str | Path] = (),
    base: str = "config/config.yaml",
    schema: str | Path = SCHEMA,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Validate `config` against `schema`, and each registered paper's section against its
    package's schema, filling defaults, as snakemake's validate does; a mistake raises
    ConfigError naming the key, where it was given (`--config` entry, `--configfile`, the
    `overrides` of `load`, or `base`) and, for an unknown key, the closest valid ones, instead of
    jsonschema's message with the whole schema in it."""

    def where(path: Sequence) -> str:
        return given_in(path, config_args, configfiles, base, overrides)

    _refuse_unknown_sections(config, schema, where)
    _validate(config, schema, [], where)
    for paper, settings in paper_settings(config).items():
        if paper not in config:
            raise ConfigError(f"config key {paper}: the paper registered under papers.{paper} has no section")
        _validate(config[paper], settings.SCHEMA, [paper], where)


def _validate(node: dict, schema: str | Path, prefix: list, where) -> None:
    from snakemake.utils import validate
    from snakemake_interface_common.exceptions import WorkflowError

    try:
        validate(node, str(schema))
    except WorkflowError:
        error = schema_error(node, schema, prefix)
        if error is None:
            raise
        path, message = error
        raise ConfigError(
            f"config key {'.'.join(map(str, path))} (given in {where(path)}): {message}"
        ) from None


def _refuse_unknown_sections(config: dict, schema: str | Path, where) -> None:
    """Top-level keys are the schema's and the registered papers' sections."""
    valid = list(_top_level_keys(str(schema)))
    papers = config.get("papers")
    valid += list(papers) if isinstance(papers, dict) else []
    for key in config:
        if key not in valid:
            raise ConfigError(
                f"config key {key} (given in {where([key])}): {_unknown_key_message(key, valid, [])}"
            )


@functools.cache
def _top_level_keys(schema: str) -> tuple[str, ...]:
    with open(schema, encoding="utf-8") as f:
        return tuple(yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["properties"])


def schema_error(
    config: dict, schema_path: str | Path = SCHEMA, prefix: Sequence = ()
) -> tuple[list, str] | None:
    """(key path, short message) of the schema's most relevant complaint about `config`, the
    section found at `prefix` of the whole config (a paper's, validated by its own schema)."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(config)
    )
    if error is None:
        return None
    path = [*prefix, *error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        valid = list(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in valid]
        if unknown:
            return [*path, unknown[0]], _unknown_key_message(unknown[0], valid, path)
    return path, _brief(error.message)


def _unknown_key_message(key: str, valid: list[str], parent: list) -> str:
    close = difflib.get_close_matches(str(key), valid, n=3, cutoff=0.6)
    named = [".".join(map(str, [*parent, name])) for name in close or sorted(valid)]
    hint = f"did you mean {' or '.join(named)}?" if close else f"valid keys here: {', '.join(named)}"
    return f"unknown key ({key!r} was unexpected); {hint}"


def _brief(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + " [...]"


def given_in(
    path: Sequence,
    config_args: Sequence[str] | None,
    configfiles: Sequence[str | Path],
    base: str,
    overrides: Mapping[str, Any] | None = None,
) -> str:
    """Where the value at `path` came from: the last `--config` entry or `--configfile` that sets
    it, else the `overrides` given to `load`, else `base`."""
    for entry in reversed(list(config_args or [])):
        key, _, value = entry.partition("=")
        if path and key == path[0] and _reaches(override_value(value), path[1:]):
            return f"--config {_brief(entry, 120)}"
    for configfile in reversed(list(configfiles)):
        with open(configfile) as f:
            if _reaches(yaml.safe_load(f), path):
                return f"--configfile {configfile}"
    if overrides and _reaches(overrides, path):
        return "the overrides"
    return base


def _reaches(node: Any, path: Sequence) -> bool:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def deep_update(base: dict, overrides: Mapping[str, Any]) -> dict:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def resolve(config: dict, root: Path = Path()) -> Config:
    """The validated config dict through its preset, once; checks the model references first.
    Relative paths in it are relative to `root`, the workflow directory."""
    check_references(config)
    preset = config["presets"][config["preset"]]
    caps = preset.get("data", {})
    return Config(
        preset=config["preset"],
        gpu=preset["accelerator"] == "gpu",
        keep_checkpoints=config["keep_checkpoints"],
        partial=config["partial"],
        data=Data(
            **{**config["data"], "source": data_source(config)},
            max_rows=caps.get("max_rows", {}),
            dataset_max_rows=caps.get("dataset_max_rows", {}),
            held_out_dev=caps.get("held_out_dev", {}),
        ),
        models={
            name: Model(
                name,
                m["kind"],
                m.get("params_b"),
                _spec(preset, name, m),
                Shape(**m["shape"]) if "shape" in m else None,
                m.get("hub", {}).get("repo"),
            )
            for name, m in config["models"].items()
        },
        training={
            recipe: deep_update(copy.deepcopy(fields), preset.get("training", {}).get(recipe, {}))
            for recipe, fields in config["training"].items()
        },
        cluster=config["cluster"],
        api=config["api"],
        launch=Launch(**config["launch"]),
        plan=Plan(**{**config["plan"], "throughput": str(root / config["plan"]["throughput"])}),
        stats=Stats(**config["stats"]),
        papers=dict(config["papers"]),
        sections={
            paper: settings.resolve(config[paper], preset, root)
            for paper, settings in paper_settings(config).items()
        },
        seeds=_seeds(config),
    )


def _seeds(config: dict) -> dict[str, dict[str, Seeds]]:
    """The preset's seeds per paper and run family: a list of seeds (every run of the family), or
    {seeds, runs}. A paper must be registered; its families are checked by ftrepro.papers."""
    given = config["presets"][config["preset"]].get("seeds", {})
    key = f"presets.{config['preset']}.seeds"
    for paper in given:
        if paper not in config["papers"]:
            close = difflib.get_close_matches(paper, list(config["papers"]), n=3, cutoff=0.6)
            raise ConfigError(
                f"config key {key}.{paper}: no paper is registered under that id (config papers: "
                f"{', '.join(config['papers'])})" + (f"; did you mean {' or '.join(close)}?" if close else "")
            )
    return {
        paper: {
            family: Seeds(tuple(spec), ("*",))
            if isinstance(spec, list)
            else Seeds(tuple(spec["seeds"]), tuple(spec.get("runs", ["*"])))
            for family, spec in families.items()
        }
        for paper, families in given.items()
    }


# --------------------------------------------------------------------------- the paper registry


def paper_settings(config: Mapping) -> dict[str, ModuleType]:
    """{paper id: its package's settings module} for every paper that config `papers` registers
    ({id: package}). A paper's settings module types its config section: SCHEMA (the section's
    JSON schema, which fills its defaults), `resolve(section, preset, root)` (the section through
    the preset) and `model_references(section)` ((key, model name, kind) of every model it names).
    It is torch-free and imports only this layer: the config layer reaches a paper here only."""
    papers = config.get("papers")
    settings = {}
    for paper, package in (papers if isinstance(papers, dict) else {}).items():
        try:
            settings[paper] = importlib.import_module(f"{package}.settings")
        except ImportError as e:
            raise ConfigError(f"config key papers.{paper}: cannot import {package}.settings ({e})") from None
    return settings


def _spec(preset: dict, name: str, declared: dict) -> dict | None:
    """The model behind a name: the preset's entry for it, else the preset's default for its
    kind, else the paper's model it is declared with."""
    paper = {"hub": declared["hub"]} if "hub" in declared else None
    return preset["models"].get(name) or preset["defaults"].get(declared["kind"]) or paper


def _model_references(config: dict) -> Iterator[tuple[str, str, str | None]]:
    """(config key, model name, required kind) for every model the config names; kind None:
    any, "local": any but api."""
    for paper, settings in paper_settings(config).items():
        for key, name, kind in settings.model_references(config[paper]):
            yield f"{paper}.{key}", name, kind
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
            model = _spec(spec, name, declared)
            if model is None:
                raise ConfigError(
                    f"config key presets.{preset}.models: no model for '{name}' "
                    f"(no default for {declared['kind']} models, no hub model in its declaration)"
                )
            if ("api" in model) != (declared["kind"] == "api"):
                raise ConfigError(
                    f"config key presets.{preset}.models.{name}: an 'api' spec is for api models only"
                )
        for name in spec["models"]:
            if name not in models:
                raise ConfigError(f"config key presets.{preset}.models.{name}: unknown model name")
