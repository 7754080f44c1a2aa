"""The one model loader for inference: safetensors only, float32 in eval mode on the CPU (its
placement rule: tests/test_placement.py)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from ftrepro.infer.loading import load_model
from ftrepro.models.base import prepare_base_model


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
