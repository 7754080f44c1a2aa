"""band2025's LoRA sequence classifier on a tiny random Llama: only adapters and head train, the saved
adapter reloads to the same predictions, probabilities are distributions, and a killed job resumes."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import RecordSteps, StopAfterFirstSave
from transformers import DataCollatorWithPadding

from ftrepro.data.arena import derive_arena
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import read_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.lora import (
    encode_records,
    load_lora_classifier,
    load_tokenizer,
    lora_model,
    predict_lora_classifier,
    preference_text,
    train_lora_classifier,
)

HPARAMS = {
    "learning_rate": 1e-3,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "num_train_epochs": 2,
    "max_length": 64,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "lora_r": 4,
    "lora_alpha": 8,
    "lora_dropout": 0.0,
    "target_modules": ["q_proj", "v_proj"],
    "activation_checkpointing": False,
    "save_steps": 3,
    "seed": 0,
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "llama"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", out)
    return out


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    raw = write_synthetic_raw("arena", tmp_path_factory.mktemp("raw"), seed=3, n_rows=60)[0]
    out = tmp_path_factory.mktemp("arena")
    derive_arena(raw, out, seed=42, max_rows={"train": 24, "dev": 10, "test": 10})
    return out


@pytest.fixture(scope="module")
def trained(base, arena, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "model"
    summary = train_lora_classifier(base, arena / "train.jsonl", HPARAMS, out, out.parent / "checkpoints")
    return out, summary


def test_only_lora_and_head_parameters_train(base):
    model = lora_model(base, load_tokenizer(base), HPARAMS)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable, "nothing trains"
    assert all("lora_" in name or ".score." in name for name in trainable), trainable
    assert any("q_proj.lora_A" in name for name in trainable) and any(
        "v_proj.lora_B" in name for name in trainable
    )
    assert not any("k_proj.lora" in name or "o_proj.lora" in name for name in trainable)
    # the head is hidden (64) x 3 classes, no bias, like LlamaForSequenceClassification's
    head = [p for name, p in model.named_parameters() if p.requires_grad and ".score." in name]
    assert [tuple(p.shape) for p in head] == [(3, 64)]
    layers = model.base_model.model.config.num_hidden_layers
    lora_per_layer = 2 * (
        4 * 64 + 64 * 4
    )  # q and v, each A (r x in) + B (out x r); k/v heads are full size here
    assert model.get_nb_trainable_parameters()[0] == layers * lora_per_layer + 3 * 64


def test_pad_token_is_set_for_last_token_pooling(base):
    model = lora_model(base, load_tokenizer(base), HPARAMS)
    assert model.base_model.model.config.pad_token_id == load_tokenizer(base).pad_token_id is not None


def test_base_weights_stay_frozen_and_adapter_changes(base, trained):
    out, summary = trained
    assert summary["global_step"] == 2 * math.ceil(24 / 8)
    model, _ = load_lora_classifier(base, out)
    fresh = lora_model(base, load_tokenizer(base), HPARAMS)
    weights = dict(model.named_parameters())
    base_weights = [
        name for name, _ in fresh.named_parameters() if "lora_" not in name and ".score." not in name
    ]
    assert len(base_weights) > 10
    for name in base_weights:
        assert torch.equal(fresh.get_parameter(name), weights[name]), name
    lora_b = [name for name, _ in fresh.named_parameters() if "lora_B" in name]
    assert all(not torch.any(fresh.get_parameter(name)) for name in lora_b)  # LoRA starts as a no-op...
    assert all(torch.any(weights[name]) for name in lora_b)  # ...and every adapter learnt something


def test_predictions_are_distributions_over_the_labels(base, arena, trained):
    out, _ = trained
    records = predict_lora_classifier(base, out, arena / "test.jsonl", max_length=64, batch_size=4)
    gold = read_jsonl(arena / "test.jsonl")
    assert [r["id"] for r in records] == [g["id"] for g in gold]
    assert [r["label"] for r in records] == [g["label"] for g in gold]
    for r in records:
        assert set(r["probs"]) == {"A", "B", "tie"}
        assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0 < p < 1 for p in r["probs"].values())


def test_saved_adapter_reloads_to_the_same_logits(base, arena, trained):
    out, _ = trained
    first = predict_lora_classifier(base, out, arena / "test.jsonl", max_length=64, batch_size=10)
    # batch size changes padding: the last non-pad token must be found either way
    second = predict_lora_classifier(base, out, arena / "test.jsonl", max_length=64, batch_size=1)
    for a, b in zip(first, second, strict=True):
        for label in ("A", "B", "tie"):
            assert a["probs"][label] == pytest.approx(b["probs"][label], abs=1e-5)
    assert (out / "adapter_config.json").is_file() and (out / "tokenizer.json").is_file()


def test_input_text_holds_all_three_segments_and_truncates_at_max_length(base, arena):
    record = read_jsonl(arena / "train.jsonl")[0]
    text = preference_text(record)
    assert (
        text.index(record["prompt"][0])
        < text.index(record["response_a"][0])
        < text.index(record["response_b"][0])
    )
    features = encode_records(arena / "train.jsonl", load_tokenizer(base), max_length=16)
    assert max(len(f["input_ids"]) for f in features) == 16
    assert {f["labels"] for f in features} <= {0, 1, 2}


def test_killed_training_resumes_from_its_checkpoint(base, arena, tmp_path):
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        train_lora_classifier(
            base, arena / "train.jsonl", HPARAMS, out, checkpoints, callbacks=[StopAfterFirstSave()]
        )
    assert not out.exists()
    steps = RecordSteps()
    summary = train_lora_classifier(base, arena / "train.jsonl", HPARAMS, out, checkpoints, callbacks=[steps])
    assert summary["resumed_from"] is not None and steps.start_step == HPARAMS["save_steps"]
    assert summary["global_step"] == 2 * math.ceil(24 / 8)
    assert (out / "adapter_config.json").is_file() and not checkpoints.exists()


def test_the_checkpoint_of_lowest_dev_loss_is_the_model(base, arena, tmp_path):
    """issue 24: the LoRA classifier chooses its checkpoint on the dev split, as the encoders do."""
    out, checkpoints = tmp_path / "model", tmp_path / "checkpoints"
    summary = train_lora_classifier(
        base, arena / "train.jsonl", HPARAMS, out, checkpoints, eval_path=arena / "dev.jsonl"
    )
    assert summary["best_checkpoint"] is not None and math.isfinite(summary["best_eval_loss"])
    assert summary["best_checkpoint"].startswith(str(checkpoints))
    model, tokenizer = load_lora_classifier(base, out)
    dev = encode_records(arena / "dev.jsonl", tokenizer, HPARAMS["max_length"])
    batch = DataCollatorWithPadding(tokenizer)(list(dev))  # the encoded split's rows (a Dataset)
    with torch.no_grad():
        loss = model(**batch).loss.item()  # the dev split in one batch: its mean loss
    assert loss == pytest.approx(summary["best_eval_loss"], rel=1e-4)
