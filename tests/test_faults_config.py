"""`--config` overrides keep their types at any depth; a bad key is named with where it was given
and the closest valid keys, not with the whole schema (issue 17, finding 7). A value typed
beneath a preset's overrides wins over the preset (issue 28, item 3)."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO, snakemake

from ftrepro import config as cfg

pytestmark = pytest.mark.faults
CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def merged_as_snakemake_does(raw: dict, args: list[str]) -> dict:
    """The config snakemake builds from `--config args`: its own parser (nested values as strings)."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    config = copy.deepcopy(raw)
    update_config(config, parse_config(args))
    return config


ARGS = [
    "preset=tiny",
    "cluster={'gpus_per_node': 4, 'gpu_memory_gb': 40.5}",
    "data={'source': 'local', 'max_retries_unused': None}",
    "band2025={'annotation': {'json_mode': True, 'attempts': 5}}",
    "api={'max_retries': 2}",
    'zhao2025={"constrained_decoding": false}',
    "data2={x: 1, y: [1, two]}",
]


def test_nested_overrides_keep_numbers_booleans_and_lists(raw):
    config = merged_as_snakemake_does(raw, ARGS)
    assert config["cluster"]["gpus_per_node"] == "4"  # what snakemake alone makes of it
    cfg.apply_overrides(config, ARGS)
    assert config["cluster"]["gpus_per_node"] == 4 and config["cluster"]["gpu_memory_gb"] == 40.5
    assert config["band2025"]["annotation"]["json_mode"] is True
    assert config["band2025"]["annotation"]["attempts"] == 5
    assert config["zhao2025"]["constrained_decoding"] is False  # JSON's false, read as YAML
    assert config["data2"] == {"x": 1, "y": [1, "two"]}
    assert config["data"]["max_retries_unused"] is None
    assert config["band2025"]["annotation"]["max_chars"] == raw["band2025"]["annotation"]["max_chars"]
    assert cfg.override_value("tiny") == "tiny" and cfg.override_value("[1, 2.5]") == [1, 2.5]


def test_top_level_booleans_in_lower_case_are_booleans(raw):
    """snakemake types `partial=True` but leaves `partial=true` (as config/README.md writes it) a string."""
    args = ["preset=tiny", "keep_checkpoints=true", "partial=false"]
    config = merged_as_snakemake_does(raw, args)
    cfg.apply_overrides(config, args)
    cfg.validate_config(config, args)
    assert config["keep_checkpoints"] is True and config["partial"] is False and config["preset"] == "tiny"


def test_a_typed_override_validates_where_a_string_did_not(raw):
    args = ["cluster={'gpus_per_node': 4}", "api={'max_retries': 2, 'timeout_s': 30}"]
    config = merged_as_snakemake_does(raw, args)
    cfg.apply_overrides(config, args)
    cfg.validate_config(config, args)
    assert config["cluster"]["gpus_per_node"] == 4 and config["api"]["timeout_s"] == 30


def test_typed_overrides_reach_the_resolved_config(raw):
    """What rules and scripts read is the typed Config that config.resolve builds from them."""
    args = [
        "preset=tiny",
        "cluster={'gpus_per_node': 4}",
        "band2025={'annotation': {'attempts': 5, 'json_mode': True}}",
        "presets={'tiny': {'training': {'zhao2025-encoder': {'per_device_train_batch_size': 2}}}}",
    ]
    config = merged_as_snakemake_does(raw, args)
    cfg.apply_overrides(config, args)
    cfg.validate_config(config, args)
    resolved = cfg.resolve(config, REPO)
    assert resolved.cluster["gpus_per_node"] == 4
    assert resolved.band2025.annotation["attempts"] == 5 and resolved.band2025.annotation["json_mode"] is True
    assert resolved.training["zhao2025-encoder"]["per_device_train_batch_size"] == 2


def test_load_names_a_bad_key_of_its_overrides():
    with pytest.raises(
        cfg.ConfigError,
        match=r"config key data\.sourc \(given in the overrides\): .*did you mean data\.source\?",
    ):
        cfg.load(CONFIG, {"preset": "tiny", "data": {"sourc": "local"}})


@pytest.mark.parametrize(
    "args, named",
    [
        (
            ["data={'source': 'local', 'local_dri': 'x'}"],
            "config key data.local_dri (given in --config data={'source': 'local', 'local_dri': 'x'}): "
            "unknown key ('local_dri' was unexpected); did you mean data.local_dir?",
        ),
        (["trainig={}"], "config key trainig (given in --config trainig={}): unknown key"),
        (
            ["cluster={'gpus_per_node': 'four'}"],
            "config key cluster.gpus_per_node (given in --config cluster={'gpus_per_node': 'four'}): "
            "'four' is not of type 'integer'",
        ),
    ],
)
def test_a_bad_key_names_key_source_and_closest_keys(raw, args, named):
    config = merged_as_snakemake_does(raw, args)
    cfg.apply_overrides(config, args)
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate_config(config, args)
    assert str(error.value).startswith(named)
    assert len(str(error.value)) < 400


def test_a_bad_key_in_a_configfile_names_the_file(raw, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("presets:\n  tiny:\n    data:\n      max_row: {}\n")
    config = copy.deepcopy(raw)
    cfg.deep_update(config, yaml.safe_load(extra.read_text()))
    with pytest.raises(
        cfg.ConfigError, match=rf"presets\.tiny\.data\.max_row \(given in --configfile {extra}\)"
    ):
        cfg.validate_config(config, [], [extra])
    raw["presets"]["tiny"]["data"]["max_row"] = {}
    with pytest.raises(
        cfg.ConfigError, match=r"given in config/config\.yaml.*did you mean presets\.tiny\.data\.max_rows"
    ):
        cfg.validate_config(raw)


@pytest.mark.slow
def test_the_workflow_takes_nested_numbers_and_names_a_typo_briefly(workdir):
    target = ["results/tiny/data/stats.md", "-n", "--profile", "profiles/local"]
    typed = snakemake([*target, "--config", "preset=tiny", "cluster={'gpus_per_node': 4}"], workdir)
    assert typed.returncode == 0, typed.stderr[-3000:]
    typo = snakemake([*target, "--config", "preset=tiny", "data={'sourc': 'local'}"], workdir)
    out = typo.stdout + typo.stderr
    assert typo.returncode != 0 and "Job stats" not in out
    assert "config key data.sourc (given in --config data={'sourc': 'local'})" in out
    assert "did you mean data.source?" in out
    assert "additionalProperties" not in out and len(out.splitlines()) < 40  # no schema dump


# --- a --config value beneath a preset (issue 28, item 3) ---------------------------------------


def resolved_as_common_smk_does(raw: dict, args: list[str]) -> cfg.Config:
    """What workflow/rules/common.smk builds from `--config args`."""
    config = merged_as_snakemake_does(raw, args)
    cfg.apply_overrides(config, args)
    cfg.validate_config(config, args)
    cfg.over_preset(config, cfg.override_pairs(args))
    return cfg.resolve(config, REPO)


@pytest.mark.parametrize(
    "override, expected",
    [
        ({"learning_rate": 1e6}, {"learning_rate": 1e6}),  # a recipe field the preset sets
        (  # one level deeper: one dataset's value of a per-dataset field the preset sets whole
            {"num_train_epochs": {"massive": 1}},
            {"num_train_epochs": {"20newsgroups": 5, "massive": 1}},
        ),
    ],
    ids=["field", "per-dataset-value"],
)
def test_a_training_override_beneath_the_preset_wins_over_it(raw, override, expected):
    """`--config "training={'zhao2025-encoder': {'learning_rate': 1e6}}"` left presets.mini's
    1.5e-4 in force, with no word."""
    assert raw["presets"]["mini"]["training"]["zhao2025-encoder"]["learning_rate"] == 1.5e-4
    args = ["preset=mini", f"training={{'zhao2025-encoder': {override!r}}}"]
    recipe = resolved_as_common_smk_does(raw, args).training["zhao2025-encoder"]
    assert {key: recipe[key] for key in expected} == expected
    assert recipe["max_length"] == {"20newsgroups": 128, "massive": 32}  # the rest of the preset stays
    loaded = cfg.load(CONFIG, {"preset": "mini", "training": {"zhao2025-encoder": override}})
    assert {key: loaded.training["zhao2025-encoder"][key] for key in expected} == expected


def test_the_last_override_typed_wins_between_the_preset_and_the_section(raw):
    section = "training={'zhao2025-encoder': {'learning_rate': 0.5}}"
    preset = "presets={'mini': {'training': {'zhao2025-encoder': {'learning_rate': 0.25}}}}"
    for args, rate in (([section, preset], 0.25), ([preset, section], 0.5)):
        resolved = resolved_as_common_smk_does(raw, ["preset=mini", *args])
        assert resolved.training["zhao2025-encoder"]["learning_rate"] == rate
