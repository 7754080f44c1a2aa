"""Inference placement on a job's GPUs (ftrepro.infer.loading.placement, issue 13 item 3), checked
on a meta-device Llama against fake per-GPU budgets."""

from __future__ import annotations

import pytest
import torch
from accelerate import init_empty_weights
from accelerate.utils import compute_module_sizes
from transformers import AutoModelForCausalLM, LlamaConfig

from ftrepro.infer.loading import GPU_WEIGHT_SHARE, placement

pytestmark = pytest.mark.deepspeed

LAYERS = 8


@pytest.fixture(scope="module")
def model():
    config = LlamaConfig(
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        vocab_size=1000,
    )
    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def size(model) -> int:
    return compute_module_sizes(model)[""]


def test_weights_stay_on_meta_while_planning(model):
    placement(model, {0: 2 * size(model)})
    assert {p.device.type for p in model.parameters()} == {"meta"}


def test_a_model_that_fits_one_gpu_goes_on_the_first(model):
    assert placement(model, {0: 2 * size(model), 1: 2 * size(model)}) == {"": 0}
    assert placement(model, {"cpu": 2 * size(model)}) == {"": "cpu"}


def test_a_larger_model_is_spread_over_the_gpus_in_whole_layers_within_budget(model):
    max_memory = {i: int(size(model) * 0.5) for i in range(4)}  # 0.4 x the model's weights each
    placed = placement(model, max_memory)
    assert len(set(placed.values())) >= 3 and set(placed.values()) <= set(max_memory)
    layers = {name: gpu for name, gpu in placed.items() if name.startswith("model.layers.")}
    assert list(layers) == [f"model.layers.{i}" for i in range(LAYERS)]  # a decoder layer is never split
    sizes = compute_module_sizes(model)
    for gpu, memory in max_memory.items():
        assert sum(sizes[name] for name, g in placed.items() if g == gpu) <= GPU_WEIGHT_SHARE * memory


def test_a_model_beyond_the_jobs_gpus_is_an_error_naming_both_sizes(model):
    max_memory = {0: int(size(model) * 0.3), 1: int(size(model) * 0.3)}
    with pytest.raises(ValueError, match=r"needs \d+\.\d GiB .* 2 GPU\(s\) give \d+\.\d GiB"):
        placement(model, max_memory)
