"""A training recipe (config `training:`) as `transformers.TrainingArguments`, for every family.

Recipe keys are TrainingArguments fields and pass through unchanged; the project's own keys are
named in PROJECT_KEYS and read by the families themselves. Any other key is an error, so that a
typo never falls back silently to a Trainer default. What every Trainer run here shares (the
optimizer, one checkpoint kept, TensorBoard reporting, CPU processes under torchrun) is set once
below, and so are the loop's GPU choices: fused AdamW where the optimizer stays on the GPU, bf16,
SDPA or flash attention, activation checkpointing only where the recipe (or the plan) says.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import TrainingArguments
from transformers.integrations import is_mlflow_available, is_tensorboard_available, is_wandb_available
from transformers.utils import is_flash_attn_2_available

# Recipe keys that are not TrainingArguments fields, and who reads them.
PROJECT_KEYS = {
    "effective_batch_size": "sets gradient_accumulation_steps for the job's process count",
    "warmup_ratio": "a fraction of the steps; TrainingArguments takes it as a float warmup_steps",
    "max_length": "tokenization: the longest example",
    "max_source_length": "seq2seq tokenization",
    "max_target_length": "seq2seq tokenization and generation",
    "instructions": "seq2seq input: def-pos prompt or the bare input",
    "prompt": "seq2seq input with instructions: its Tk-Instruct encoding (ftrepro.data.superni.PROMPTS)",
    "lora_r": "peft LoraConfig",
    "lora_alpha": "peft LoraConfig",
    "lora_dropout": "peft LoraConfig",
    "target_modules": "peft LoraConfig",
    "frozen_layers": "llm-augmented preference runs: layers kept as pre-finetuned",
    "predict_batch_size": "prediction and generation, outside the Trainer",
    "predict_rows": "prompted decoders: a seeded sample of at most this many test rows is predicted",
    "max_new_tokens": "generation",
    "shared_prefix": "causal LM training: the examples' shared prompt head runs once per micro-batch",
    "packing": "causal LM training: a micro-batch's examples flattened into one row, no padding",
    "logits_budget_mb": "causal LM training: the most memory one chunk of the loss's logits may take",
    "large_from_params_b": "the rule's choice between the small and large decoder recipe",
    "deepspeed": "the rule's choice of config/deepspeed/ file (GPU presets), passed on its own",
}
TRAINER_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainingArguments) if f.init)
# Every recipe says these, and how long to train: num_train_epochs or max_steps.
REQUIRED = ("learning_rate", "per_device_train_batch_size", "seed")
# `report_to` integrations a recipe may name, each usable once its package is installed
REPORTERS = {
    "tensorboard": is_tensorboard_available,
    "wandb": is_wandb_available,
    "mlflow": is_mlflow_available,
}


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
    check_reporting(settings.get("report_to", "tensorboard"), family)


def check_reporting(report_to: str | list[str], family: str) -> None:
    """`report_to`: "none" or integrations of REPORTERS whose package is installed; anything else
    is an error naming the key, before a model is loaded."""
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    for name in names:
        if name == "none":
            continue
        if name not in REPORTERS:
            raise ValueError(
                f"{family} hparams: report_to {name!r} is not one of none, {', '.join(REPORTERS)}"
            )
        if not REPORTERS[name]():
            raise ValueError(f"{family} hparams: report_to {name!r} needs its package: pip install {name}")


def offloads_optimizer(deepspeed: str | Path | None) -> bool:
    """Whether a DeepSpeed config keeps the optimizer states on the host (CPU or NVMe)."""
    if deepspeed is None:
        return False
    zero = json.loads(Path(deepspeed).read_text(encoding="utf-8")).get("zero_optimization", {})
    return zero.get("offload_optimizer", {}).get("device", "none") in ("cpu", "nvme")


def optimizer(gpu: bool, deepspeed: str | Path | None) -> str:
    """Fused AdamW (one kernel for all parameters) where the optimizer runs on the GPU; torch's
    AdamW on CPUs. An offloading DeepSpeed config names its own host optimizer (CPU Adam)."""
    return "adamw_torch_fused" if gpu and not offloads_optimizer(deepspeed) else "adamw_torch"


def attention_implementation() -> str:
    """Flash attention where its package and a GPU are there (varlen kernels: packed rows cost
    only their examples' own attention), else PyTorch's SDPA."""
    return "flash_attention_2" if torch.cuda.is_available() and is_flash_attn_2_available() else "sdpa"


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
    config/deepspeed/ file (GPU presets, or CPU processes in tests). Training curves go to
    TensorBoard (`report_to`; the directory: the TENSORBOARD_LOGGING_DIR a fit job sets,
    ftrepro.fit.tensorboard_dir). Activation checkpointing is off unless the recipe's
    `activation_checkpointing` (the key the plan sets per job) turns it on."""
    check_recipe(recipe, needs, family, defaults)
    gpu = torch.cuda.is_available()
    args = {
        "optim": optimizer(gpu, deepspeed),  # a DeepSpeed config that names an optimizer wins
        "save_total_limit": 1,
        "report_to": "tensorboard",
        "activation_checkpointing": False,
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
