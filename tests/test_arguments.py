"""One recipe -> TrainingArguments function for every family: keys map 1:1 onto the Trainer's
fields, the project's own keys are named, anything else is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftrepro import config as cfg
from ftrepro.train.arguments import (
    PROJECT_KEYS,
    REPORTERS,
    TRAINER_FIELDS,
    accumulation_steps,
    check_reporting,
    optimizer,
    training_arguments,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = {"learning_rate": 1e-3, "per_device_train_batch_size": 4, "num_train_epochs": 2, "seed": 7}


def test_every_recipe_key_of_every_preset_is_a_trainer_field_or_a_named_project_key():
    for preset in ("tiny", "mini", "paper"):
        config = cfg.load(REPO / "config" / "config.yaml", {"preset": preset})
        for name, recipe in config.training.items():
            unknown = set(recipe) - TRAINER_FIELDS - set(PROJECT_KEYS)
            assert not unknown, (preset, name, unknown)
    assert not set(PROJECT_KEYS) - {"deepspeed"} & TRAINER_FIELDS  # a project key never shadows a field


def test_the_paper_recipes_become_the_papers_trainer_settings(tmp_path):
    config = cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})
    decoder = config.training["zhao2025-decoder"]
    decoder = {**decoder, "max_steps": decoder["max_steps"]["small"]}
    args = training_arguments(decoder, tmp_path, family="causal", save_strategy="steps")
    assert (args.learning_rate, args.lr_scheduler_type.value, args.warmup_steps) == (1e-6, "constant", 0)
    assert (args.max_steps, args.per_device_train_batch_size, args.gradient_accumulation_steps) == (
        4000,
        1,
        8,
    )
    assert (args.save_strategy.value, args.save_steps, args.save_total_limit, args.seed) == (
        "steps",
        250,
        1,
        42,
    )
    assert args.deepspeed is None  # the rule passes the file, on GPU presets only
    lora = training_arguments(
        config.training["band2025-lora"], tmp_path, family="LoRA", lr_scheduler_type="linear"
    )
    assert lora.warmup_steps == pytest.approx(0.03) and lora.get_warmup_steps(1000) == 30
    assert (lora.per_device_train_batch_size, lora.gradient_accumulation_steps, lora.weight_decay) == (
        4,
        4,
        0.01,
    )
    assert lora.lr_scheduler_type.value == "linear" and lora.num_train_epochs == 1


def test_a_recipe_key_wins_over_the_familys_default(tmp_path):
    args = training_arguments({**RECIPE, "weight_decay": 0.1}, tmp_path, family="x", weight_decay=0.0)
    assert args.weight_decay == 0.1
    assert training_arguments(RECIPE, tmp_path, family="x", weight_decay=0.0).weight_decay == 0.0


def test_bf16_and_fp16_apply_on_gpus_only(tmp_path):
    args = training_arguments({**RECIPE, "bf16": True, "fp16": True}, tmp_path, family="x")
    assert not args.bf16 and not args.fp16 and args.use_cpu


def test_unknown_and_missing_keys_are_named(tmp_path):
    with pytest.raises(ValueError, match="x hparams: unknown key.* batch_size, epochs"):
        training_arguments({**RECIPE, "batch_size": 4, "epochs": 1}, tmp_path, family="x")
    with pytest.raises(ValueError, match="lack seed, max_length, save_steps, max_steps or num_train_epochs"):
        training_arguments(
            {k: v for k, v in RECIPE.items() if k not in ("seed", "num_train_epochs")},
            tmp_path,
            family="x",
            needs=("max_length",),
            save_strategy="steps",
        )
    with pytest.raises(ValueError, match="lack eval_steps"):
        training_arguments(RECIPE, tmp_path, family="x", eval_strategy="steps")


def test_effective_batch_sets_accumulation_for_the_process_count(tmp_path, monkeypatch):
    recipe = {**RECIPE, "per_device_train_batch_size": 2, "effective_batch_size": 8}
    assert training_arguments(recipe, tmp_path, family="x").gradient_accumulation_steps == 4
    assert accumulation_steps(recipe, world_size=2) == 2
    with pytest.raises(ValueError, match="not a multiple"):
        accumulation_steps(recipe, world_size=3)


def test_fused_adamw_on_gpus_unless_deepspeed_keeps_the_optimizer_on_the_host(tmp_path):
    offload, on_gpu = REPO / "config/deepspeed/zero2_offload.json", REPO / "config/deepspeed/zero3.json"
    assert optimizer(gpu=True, deepspeed=None) == "adamw_torch_fused"
    assert optimizer(gpu=True, deepspeed=on_gpu) == "adamw_torch_fused"
    assert optimizer(gpu=True, deepspeed=offload) == "adamw_torch"
    assert optimizer(gpu=False, deepspeed=None) == "adamw_torch"
    assert training_arguments(RECIPE, tmp_path, family="x").optim.value == "adamw_torch"  # no GPU here


def test_activation_checkpointing_is_off_unless_the_recipe_turns_it_on(tmp_path):
    assert not training_arguments(RECIPE, tmp_path, family="x").activation_checkpointing
    recipe = {**RECIPE, "activation_checkpointing": True}
    assert training_arguments(recipe, tmp_path, family="x").activation_checkpointing


def test_training_curves_go_to_tensorboard_unless_the_recipe_says_otherwise(tmp_path):
    assert training_arguments(RECIPE, tmp_path, family="x").report_to == ["tensorboard"]
    assert training_arguments({**RECIPE, "report_to": "none"}, tmp_path, family="x").report_to == []
    with pytest.raises(ValueError, match="x hparams: report_to 'tensorbord' is not one of none, tensorboard"):
        training_arguments({**RECIPE, "report_to": ["tensorbord"]}, tmp_path, family="x")
    missing = next(name for name, available in REPORTERS.items() if not available())  # wandb here
    with pytest.raises(ValueError, match=f"report_to '{missing}' needs its package: pip install {missing}"):
        check_reporting(missing, "x")


def test_every_preset_may_set_report_to_in_its_recipes():
    config = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    for recipe in config.training.values():
        assert recipe.get("report_to", "tensorboard") == "tensorboard"
    overridden = cfg.load(
        REPO / "config" / "config.yaml",
        {"preset": "tiny", "training": {"band2025-encoder": {"report_to": "none"}}},
    )
    assert overridden.training["band2025-encoder"]["report_to"] == "none"
