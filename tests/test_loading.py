"""The one model loader for inference: safetensors only, float32 in eval mode on the CPU, and the
placement rule (one GPU when the weights fit there, else accelerate's balanced device map)."""

from __future__ import annotations

import pytest
import torch
from accelerate import init_empty_weights
from accelerate.utils import compute_module_sizes
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, LlamaConfig

from ftrepro.infer.loading import load_model, placement
from ftrepro.models.base import prepare_base_model


@pytest.fixture(scope="module")
def meta_llama():
    config = LlamaConfig(
        hidden_size=256, intermediate_size=512, num_hidden_layers=8, num_attention_heads=4, vocab_size=4000
    )
    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def test_a_model_that_fits_goes_whole_onto_the_first_gpu(meta_llama):
    size = compute_module_sizes(meta_llama)[""]
    assert placement(meta_llama, {0: 2 * size, 1: 2 * size}) == {"": 0}
    assert placement(meta_llama, {"cpu": 2 * size}) == {"": "cpu"}


def test_a_model_that_does_not_fit_is_spread_over_the_gpus_in_whole_layers(meta_llama):
    size = compute_module_sizes(meta_llama)[""]
    device_map = placement(meta_llama, {0: int(0.7 * size), 1: int(0.7 * size)})
    assert set(device_map.values()) == {0, 1}
    layers = [name for name in device_map if name.startswith("model.layers.")]
    assert layers == [f"model.layers.{i}" for i in range(8)]  # a decoder layer is never split


def test_load_model_on_cpu_is_float32_in_eval_mode(tmp_path):
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", tmp_path / "m")
    model = load_model(tmp_path / "m", AutoModelForCausalLM)
    assert not model.training and model.dtype == torch.float32 and model.device.type == "cpu"
    weights = load_file(tmp_path / "m" / "model.safetensors")
    assert torch.equal(model.lm_head.weight, weights["lm_head.weight"])


def test_load_model_reads_safetensors_only(tmp_path):
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", tmp_path / "m")
    weights = load_file(tmp_path / "m" / "model.safetensors")
    (tmp_path / "m" / "model.safetensors").unlink()
    torch.save(weights, tmp_path / "m" / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        load_model(tmp_path / "m", AutoModelForCausalLM)
