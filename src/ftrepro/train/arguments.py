"""A training recipe (config `training:`) as `transformers.TrainingArguments`, for every family.

Recipe keys are TrainingArguments fields and pass through unchanged; the project's own keys are
named in PROJECT_KEYS and read by the families themselves. Any other key is an error, so that a
typo never falls back silently to a Trainer default. What every Trainer run here shares (the
optimizer, one checkpoint kept, no reporting, CPU processes under torchrun) is set once below.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import TrainingArguments

# Recipe keys that are not TrainingArguments fields, and who reads them.
PROJECT_KEYS = {
    "effective_batch_size": "sets gradient_accumulation_steps for the job's process count",
    "warmup_ratio": "a fraction of the steps; TrainingArguments takes it as a float warmup_steps",
    "max_length": "tokenization: the longest example",
    "max_source_length": "seq2seq tokenization",
    "max_target_length": "seq2seq tokenization and generation",
    "instructions": "seq2seq input: def-pos prompt or the bare input",
    "lora_r": "peft LoraConfig",
    "lora_alpha": "peft LoraConfig",
    "lora_dropout": "peft LoraConfig",
    "target_modules": "peft LoraConfig",
    "frozen_layers": "llm-augmented preference runs: layers kept as pre-finetuned",
    "predict_batch_size": "prediction and generation, outside the Trainer",
    "predict_rows": "prompted decoders: a seeded sample of at most this many test rows is predicted",
    "max_new_tokens": "generation",
    "shared_prefix": "causal LM training: the examples' shared prompt head runs once per micro-batch",
    "large_from_params_b": "the rule's choice between the small and large decoder recipe",
    "deepspeed": "the rule's choice of config/deepspeed/ file (GPU presets), passed on its own",
}
TRAINER_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainingArguments) if f.init)
# Every recipe says these, and how long to train: num_train_epochs or max_steps.
REQUIRED = ("learning_rate", "per_device_train_batch_size", "seed")


def accumulation_steps(recipe: dict, world_size: int | None = None) -> int:
    """Gradient accumulation that keeps the recipe's effective batch on any number of GPUs
    (Tk-Instruct: 1 per device x 2 steps x 8 GPUs = 16)."""
    world_size = world_size or int(os.environ.get("WORLD_SIZE", "1"))
    per_step = recipe["per_device_train_batch_size"] * world_size
    if recipe["effective_batch_size"] % per_step:
        raise ValueError(
            f"effective_batch_size {recipe['effective_batch_size']} is not a multiple of "
            f"per_device_train_batch_size x {world_size} GPU(s) = {per_step}"
        )
    return recipe["effective_batch_size"] // per_step


def check_recipe(recipe: dict, needs: Iterable[str], family: str, defaults: dict | None = None) -> None:
    """Unknown keys and missing ones (REQUIRED, `needs`, the length of training, and the step
    interval of a "steps" save or eval strategy) are errors naming every key."""
    unknown = sorted(k for k in recipe if k not in TRAINER_FIELDS and k not in PROJECT_KEYS)
    if unknown:
        raise ValueError(f"{family} hparams: unknown key(s) {', '.join(unknown)}")
    settings = {**(defaults or {}), **recipe}
    wanted = [*REQUIRED, *needs]
    wanted += [f"{x}_steps" for x in ("save", "eval") if settings.get(f"{x}_strategy") == "steps"]
    missing = list(dict.fromkeys(k for k in wanted if k not in settings))
    if "max_steps" not in settings and "num_train_epochs" not in settings:
        missing.append("max_steps or num_train_epochs")
    if missing:
        raise ValueError(f"{family} hparams lack {', '.join(missing)}")


def training_arguments(
    recipe: dict,
    output_dir: str | Path,
    *,
    family: str,
    needs: Iterable[str] = (),
    deepspeed: str | Path | None = None,
    **defaults,
) -> TrainingArguments:
    """What every run here shares, then the family's `defaults` (its save and logging schedule),
    then the recipe's TrainingArguments fields. bf16 / fp16 apply on GPUs only; `deepspeed`: a
    config/deepspeed/ file (GPU presets, or CPU processes in tests)."""
    check_recipe(recipe, needs, family, defaults)
    gpu = torch.cuda.is_available()
    args = {
        "optim": "adamw_torch",  # without DeepSpeed; a DeepSpeed config names its own optimizer
        "save_total_limit": 1,
        "report_to": "none",
        "dataloader_num_workers": 0,  # collators that draw randomly stay in the process that is checkpointed
        "dataloader_pin_memory": gpu,
        "remove_unused_columns": False,  # collators read the raw features
        "activation_checkpointing_kwargs": {"use_reentrant": False},  # frozen embeddings need no input grads
        # several CPU processes under torchrun then train together (gloo) as GPU ones do (NCCL)
        "use_cpu": not gpu,
        **defaults,
        **{k: v for k, v in recipe.items() if k in TRAINER_FIELDS and k not in PROJECT_KEYS},
    }
    if "warmup_ratio" in recipe:
        args["warmup_steps"] = float(recipe["warmup_ratio"])  # a float below 1 is a fraction of the steps
    if "effective_batch_size" in recipe:
        args["gradient_accumulation_steps"] = accumulation_steps(recipe)
    args["bf16"] = bool(args.get("bf16")) and gpu and torch.cuda.is_bf16_supported()
    args["fp16"] = bool(args.get("fp16")) and gpu
    return TrainingArguments(
        output_dir=str(output_dir), deepspeed=None if deepspeed is None else str(deepspeed), **args
    )
