"""The one way to load a saved model for inference.

Weights come from safetensors only. On a GPU that has bf16 the model runs in bf16, else in
float32 (fp16 overflows in T5 and in some encoders). It goes whole onto one GPU when its weights
fit there, and is spread over the GPUs with accelerate's balanced device map when they do not
(a 70B decoder needs several); without a GPU it stays on the CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from accelerate import init_empty_weights
from accelerate.utils import compute_module_sizes, get_balanced_memory, get_max_memory, infer_auto_device_map
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

# Share of a GPU's memory the weights may take for the model to count as fitting there; the rest
# is for activations, the KV cache and the CUDA context.
GPU_WEIGHT_SHARE = 0.8
GIB = 2**30


def inference_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def load_model(
    model_dir: str | Path,
    auto_class=AutoModel,
    *,
    dtype: torch.dtype | None = None,
    max_memory: dict[int | str, int | str] | None = None,
    **config_overrides,
) -> PreTrainedModel:
    """The model in `model_dir` as `auto_class` loads it, in eval mode, placed by `placement`.

    `dtype`: default `inference_dtype()`. `max_memory`: {GPU index or "cpu": bytes or "20GiB"},
    default what is free: on every visible GPU, or in one of several prediction processes
    (WORLD_SIZE > 1, ftrepro.train.launch.predict_on_job_gpus) on its own GPU (LOCAL_RANK) only.
    `config_overrides` change the saved config (e.g. num_labels).
    """
    dtype = dtype or inference_dtype()
    if max_memory is None and int(os.environ.get("WORLD_SIZE", "1")) > 1 and torch.cuda.is_available():
        rank = int(os.environ.get("LOCAL_RANK", "0"))
        max_memory = {rank: torch.cuda.mem_get_info(rank)[0]}
    config = AutoConfig.from_pretrained(model_dir, **config_overrides)
    device_map = None
    if torch.cuda.is_available():
        with init_empty_weights():
            skeleton = auto_class.from_config(config, dtype=dtype)
        device_map = placement(skeleton, max_memory)
    model = auto_class.from_pretrained(
        model_dir, config=config, dtype=dtype, device_map=device_map, use_safetensors=True
    )
    return model.eval()


def placement(model: nn.Module, max_memory: dict[int | str, int | str] | None = None) -> dict:
    """Where the modules of `model` (its weights in the dtype it will run in; on the meta device
    is enough) go, each GPU of `max_memory` (default: what is free on the visible ones) taking at
    most GPU_WEIGHT_SHARE of its memory for weights: all on the first GPU when they fit there,
    else a balanced device map over the GPUs (accelerate's, as device_map="auto" makes), blocks in
    `_no_split_modules` kept whole. {"": "cpu"} without a GPU. A model that does not fit the GPUs
    is a ValueError naming both sizes: accelerate would offload it to the CPU and run for days."""
    max_memory = get_max_memory(dict(max_memory) if max_memory else None)
    gpus = sorted(device for device in max_memory if isinstance(device, int))
    if not gpus:
        return {"": "cpu"}
    budgets = {gpu: int(GPU_WEIGHT_SHARE * max_memory[gpu]) for gpu in gpus}
    size = compute_module_sizes(model)[""]
    if size <= budgets[gpus[0]]:
        return {"": gpus[0]}
    if size > sum(budgets.values()):
        raise ValueError(
            f"the model needs {size / GIB:.1f} GiB for its weights; {len(gpus)} GPU(s) give "
            f"{sum(budgets.values()) / GIB:.1f} GiB ({', '.join(f'{b / GIB:.1f}' for b in budgets.values())})"
        )
    no_split = sorted(getattr(model, "_no_split_modules", None) or [])
    balanced = get_balanced_memory(model, budgets, no_split_module_classes=no_split)
    placed = infer_auto_device_map(model, max_memory=balanced, no_split_module_classes=no_split)
    off_gpu = sorted({str(device) for device in placed.values() if device not in budgets})
    if off_gpu:
        raise ValueError(f"the model does not fit {len(gpus)} GPU(s) layer by layer: parts went to {off_gpu}")
    return placed
