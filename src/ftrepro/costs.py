"""Memory per GPU and GPU-hours of one job, from the model's paper-scale shape and the recipe.

Model states per GPU are DeepSpeed's own estimates for ZeRO-2 / ZeRO-3 jobs
(`estimate_zero{2,3}_model_states_mem_needs`); without DeepSpeed they are counted per parameter:
16 bytes for full fine-tuning in fp32 with AdamW (weights, gradients, two moments), 2 for bf16
weights that do not train (LoRA's base, inference, which spreads them over the job's GPUs).
Activations are those of the longest micro-batch (Korthikanti et al. 2022, with flash/SDPA
attention: 34 x sequence x batch x hidden bytes per layer held; with activation checkpointing,
one layer's plus every layer's bf16 input), the logits in fp32 with their gradient, and for
inference the KV cache. GPU-hours: 6 x parameters x training tokens plus 2 x parameters x
inference tokens, at the GPU kind's peak bf16 FLOP/s times the stated utilisation (config plan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ftrepro.config import Model

GB = 1e9
ACTIVATION_BYTES_PER_LAYER = 34  # x sequence x batch x hidden, bf16, flash attention (no s^2 term)
LOGIT_BYTES = 10  # bf16 logits, their fp32 copy for the loss and its gradient


def parameters(model: Model) -> float:
    """A declared model's paper-scale parameter count (config `models`: params_b)."""
    return model.params_b * 1e9


@dataclass(frozen=True)
class Zero:
    """What a DeepSpeed config file asks for."""

    stage: int
    offload_optimizer: bool
    offload_params: bool

    @classmethod
    def read(cls, path: str | Path) -> Zero:
        zero = json.loads(Path(path).read_text())["zero_optimization"]

        def offloaded(key: str) -> bool:
            return zero.get(key, {}).get("device", "none") not in ("none", None)

        return cls(zero["stage"], offloaded("offload_optimizer"), offloaded("offload_param"))

    def __str__(self) -> str:
        return f"{self.stage}" + ("+offload" if self.offload_optimizer or self.offload_params else "")


def model_states_bytes(model: Model, mode: str, gpus: int, zero: Zero | None) -> float:
    """Weights, gradients and optimizer states on each GPU."""
    params = parameters(model)
    if zero is not None and zero.stage == 2:
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

        return estimate_zero2_model_states_mem_needs(
            params, num_gpus_per_node=gpus, cpu_offload=zero.offload_optimizer
        )[1]
    if zero is not None and zero.stage == 3:
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

        return estimate_zero3_model_states_mem_needs(
            params,
            model.shape.vocab * model.shape.hidden,  # the largest layer: the embedding
            num_gpus_per_node=gpus,
            cpu_offload=zero.offload_optimizer,
            cpu_offload_params=zero.offload_params,
        )[1]
    if mode == "full":
        return 16 * params
    if mode == "lora":
        return 2 * params
    return 2 * params / gpus  # inference: the weights spread over the job's GPUs


def activation_bytes(model: Model, tokens: int, checkpointing: bool, logits: bool) -> float:
    """Training activations of a micro-batch of `tokens` (sequence x batch) on one GPU."""
    shape = model.shape
    per_layer = ACTIVATION_BYTES_PER_LAYER * tokens * shape.hidden
    held = shape.layers * 2 * tokens * shape.hidden + per_layer if checkpointing else shape.layers * per_layer
    return held + (LOGIT_BYTES * tokens * shape.vocab if logits else 0)


def kv_cache_bytes(model: Model, tokens: int, gpus: int) -> float:
    """bf16 keys and values of `tokens` (batch x sequence) in flight, spread over the GPUs."""
    shape = model.shape
    kv_fraction = (shape.kv_heads or shape.heads) / shape.heads  # grouped-query attention
    return 2 * 2 * shape.layers * shape.hidden * kv_fraction * tokens / gpus


def gpu_hours(model: Model, train_tokens: float, infer_tokens: float, gpu_kind: dict) -> float:
    params = parameters(model)
    train = 6 * params * train_tokens / (gpu_kind["peak_tflops"] * 1e12 * gpu_kind["mfu"]["train"])
    infer = 2 * params * infer_tokens / (gpu_kind["peak_tflops"] * 1e12 * gpu_kind["mfu"]["inference"])
    return (train + infer) / 3600
