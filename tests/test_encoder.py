"""zhao2025 encoder family: MultiHeadEncoder, training with resume, prediction."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import RecordSteps, StopAfterFirstSave
from transformers import AutoModel, AutoTokenizer, EvalPrediction, RobertaTokenizer, TrainerCallback

from ftrepro.infer.multihead import predict_encoder
from ftrepro.io import DataError, write_json, write_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.models.encoder import EncoderCollator, MultiHeadEncoder, first_subword_labels
from ftrepro.models.encoding import IGNORE_INDEX, load_tokenizer
from ftrepro.train.multihead import dev_accuracy, encode_dataset, train_encoder

# Each intent has its own keyword, which is also the only slot-filled word: an obvious signal.
KEYWORDS = {
    "alarm_set": ("alarm", "time"),
    "play_music": ("music", "song"),
    "weather_query": ("weather", "place"),
}
FILLER = ["please", "the", "me", "now", "today", "for", "can", "you", "a"]
HPARAMS = {
    "learning_rate": 2e-3,
    "per_device_train_batch_size": 8,
    "num_train_epochs": 5,
    "max_length": 16,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "seed": 0,
}


def make_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        intent = list(KEYWORDS)[i % 3]
        keyword, slot = KEYWORDS[intent]
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 5))]
        at = rng.randint(0, len(words))
        words.insert(at, keyword)
        slots = ["Other"] * len(words)
        slots[at] = slot
        records.append(
            {
                "id": f"{seed}-{i}",
                "text": " ".join(words),
                "words": words,
                "labels": {"intent": intent, "slots": slots},
            }
        )
    return records


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder")
    prepare_base_model({"random": {"architecture": "roberta"}}, "encoder", root / "base")
    write_jsonl(root / "train.jsonl", make_records(60, seed=0))
    write_jsonl(root / "test.jsonl", make_records(30, seed=1))
    write_jsonl(root / "dev.jsonl", make_records(15, seed=2))
    write_json(
        root / "labels.json", {"intent": sorted(KEYWORDS), "slots": ["Other", "place", "song", "time"]}
    )
    return root


def two_head_model(base_dir) -> MultiHeadEncoder:
    torch.manual_seed(0)
    return MultiHeadEncoder.from_base(
        base_dir,
        {"intent": ("sequence", 3), "slots": ("token", 4)},
        label_names={"intent": ["a", "b", "c"], "slots": ["O", "p", "q", "r"]},
        max_length=16,
    )


def test_forward_loss_is_sum_of_head_cross_entropies(data):
    model = two_head_model(data / "base").eval()
    tok = AutoTokenizer.from_pretrained(data / "base")
    batch = dict(tok(["wake me up", "play music now please"], padding=True, return_tensors="pt"))
    slots = torch.full(batch["input_ids"].shape, IGNORE_INDEX)
    slots[0, 1], slots[1, 2] = 2, 3
    labels = {"intent": torch.tensor([0, 2]), "slots": slots}
    out = model(**batch, labels=labels)
    intent_logits, slot_logits = out["logits"]["intent"], out["logits"]["slots"]
    assert intent_logits.shape == (2, 3) and slot_logits.shape == (*batch["input_ids"].shape, 4)
    expected = F.cross_entropy(intent_logits, labels["intent"]) + F.cross_entropy(
        torch.stack([slot_logits[0, 1], slot_logits[1, 2]]), torch.tensor([2, 3])
    )
    assert torch.allclose(out["loss"], expected)
    out["loss"].backward()
    assert model.heads["slots"][1].weight.grad is not None
    no_slots = model(**batch, labels={"slots": torch.full_like(slots, IGNORE_INDEX)})["loss"]
    assert torch.isfinite(no_slots) and no_slots.item() == 0.0


def test_first_subword_labels_crafted():
    assert first_subword_labels([None, 0, 0, 1, 2, 2, 2, None], [5, 6, 7]) == [
        -100,
        5,
        -100,
        6,
        7,
        -100,
        -100,
        -100,
    ]


def test_encode_dataset_labels_first_subword(data, tmp_path):
    words = ["(qq)", "x", "qzx"]  # not in the vocabulary: one piece per character
    write_jsonl(
        tmp_path / "one.jsonl",
        [
            {
                "id": "1",
                "text": " ".join(words),
                "words": words,
                "labels": {"intent": "alarm_set", "slots": ["time", "Other", "time"]},
            }
        ],
    )
    tok = load_tokenizer(data / "base", word_level=True)
    names = {"intent": sorted(KEYWORDS), "slots": ["Other", "place", "song", "time"]}
    (feature,) = encode_dataset(tmp_path / "one.jsonl", tok, names, max_length=16)
    assert tok.convert_ids_to_tokens(feature["input_ids"]) == [
        "<s>",
        "(",
        "##q",
        "##q",
        "##)",
        "x",
        "q",
        "##z",
        "##x",
        "</s>",
    ]
    assert feature["labels"]["slots"] == [-100, 3, -100, -100, -100, 0, 3, -100, -100, -100]
    assert feature["labels"]["intent"] == 0
    (short,) = encode_dataset(tmp_path / "one.jsonl", tok, names, max_length=4)
    assert short["labels"]["slots"] == [-100, 3, -100, -100]  # words 2 and 3 cut off


def test_encode_dataset_rejects_unknown_label(data, tmp_path):
    write_jsonl(
        tmp_path / "bad.jsonl",
        [{"id": "7", "text": "x", "words": ["x"], "labels": {"intent": "fly_away", "slots": ["Other"]}}],
    )
    tok = load_tokenizer(data / "base", word_level=True)
    with pytest.raises(DataError, match=r"bad.jsonl: record 1 .*'fly_away'"):
        encode_dataset(tmp_path / "bad.jsonl", tok, {"intent": sorted(KEYWORDS)}, max_length=16)


def test_byte_level_tokenizer_gets_prefix_space_for_words(tmp_path):
    vocab = {
        "<s>": 0,
        "<pad>": 1,
        "</s>": 2,
        "<unk>": 3,
        "<mask>": 4,
        "h": 5,
        "i": 6,
        "Ġ": 7,
        "Ġh": 8,
        "Ġhi": 9,
    }
    RobertaTokenizer(vocab=vocab, merges=[("Ġ", "h"), ("Ġh", "i")]).save_pretrained(tmp_path)
    assert load_tokenizer(tmp_path, word_level=True)(["hi", "hi"], is_split_into_words=True).tokens() == [
        "<s>",
        "Ġhi",
        "Ġhi",
        "</s>",
    ]
    assert load_tokenizer(tmp_path, word_level=False)("hi").tokens() == ["<s>", "h", "i", "</s>"]


def test_save_load_round_trip(data, tmp_path):
    model = two_head_model(data / "base").eval()
    tok = AutoTokenizer.from_pretrained(data / "base")
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = MultiHeadEncoder.from_pretrained(tmp_path / "m")
    assert type(AutoModel.from_pretrained(tmp_path / "m")) is MultiHeadEncoder  # registered by model_type
    assert loaded.head_specs == model.head_specs and loaded.label_names == model.label_names
    assert loaded.max_length == 16
    batch = dict(tok(["wake me up"], return_tensors="pt"))
    for name in model.head_specs:
        assert torch.allclose(model(**batch)["logits"][name], loaded(**batch)["logits"][name])


def test_predict_gives_other_to_truncated_words(data, tmp_path):
    model = MultiHeadEncoder.from_base(
        data / "base", {"slots": ("token", 2)}, label_names={"slots": ["Other", "time"]}, max_length=5
    )
    with torch.no_grad():  # every word the model sees is "time"
        model.heads["slots"][1].bias.copy_(torch.tensor([-50.0, 50.0]))
    model.save_pretrained(tmp_path / "m")
    load_tokenizer(data / "base", word_level=True).save_pretrained(tmp_path / "m")
    words = ["wake", "me", "up", "at", "seven", "please"]
    write_jsonl(
        tmp_path / "t.jsonl",
        [{"id": "1", "text": " ".join(words), "words": words, "labels": {"slots": ["Other"] * 6}}],
    )
    (pred,) = predict_encoder(tmp_path / "m", tmp_path / "t.jsonl", batch_size=2)
    assert pred == {
        "id": "1",
        "gold": {"slots": ["Other"] * 6},  # <s> + 3 words + </s> = 5 tokens
        "pred": {"slots": ["time", "time", "time", "Other", "Other", "Other"]},
    }


def test_collator_pads_token_labels_with_ignore_index(data):
    tok = load_tokenizer(data / "base", word_level=True)
    features = [
        {**tok(["a"], is_split_into_words=True), "labels": {"slots": [-100, 1, -100], "intent": 2}},
        {**tok(["a", "b"], is_split_into_words=True), "labels": {"slots": [-100, 0, 1, -100], "intent": 0}},
    ]
    batch = EncoderCollator(tok)(features)
    assert batch["labels"]["slots"].tolist() == [[-100, 1, -100, -100], [-100, 0, 1, -100]]
    assert batch["labels"]["intent"].tolist() == [2, 0]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


@pytest.mark.parametrize("subtasks", [["intent"], ["slots"], ["intent", "slots"]], ids="+".join)
def test_training_beats_chance(data, tmp_path, subtasks):
    summary = train_encoder(
        data / "base",
        data / "train.jsonl",
        data / "labels.json",
        subtasks,
        HPARAMS,
        tmp_path / "model",
        tmp_path / "ckpt",
    )
    assert summary["global_step"] == 5 * 8 and summary["resumed_from"] is None
    assert not (tmp_path / "ckpt").exists()
    predictions = predict_encoder(tmp_path / "model", data / "test.jsonl", batch_size=16)
    assert len(predictions) == 30 and all(set(p["pred"]) == set(subtasks) for p in predictions)
    for subtask in subtasks:
        correct = sum(p["pred"][subtask] == p["gold"][subtask] for p in predictions) / len(predictions)
        # chance: 1/3 for the intent; a whole slot sequence right by chance is far rarer
        assert correct >= 0.8, (subtask, correct)


def test_training_resumes_from_last_checkpoint(data, tmp_path):
    hparams = {**HPARAMS, "num_train_epochs": 2}
    args = (
        data / "base",
        data / "train.jsonl",
        data / "labels.json",
        ["intent"],
        hparams,
        tmp_path / "model",
        tmp_path / "ckpt",
    )
    with pytest.raises(KeyboardInterrupt):
        train_encoder(*args, callbacks=[StopAfterFirstSave()])
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint-8"]
    assert not (tmp_path / "model").exists()
    steps = RecordSteps()
    summary = train_encoder(*args, callbacks=[steps])
    assert summary["resumed_from"].endswith("checkpoint-8")
    assert (steps.start_step, steps.steps_run, summary["global_step"]) == (8, 8, 16)
    assert MultiHeadEncoder.from_pretrained(tmp_path / "model").head_specs == {"intent": ("sequence", 3)}
    assert not (tmp_path / "ckpt").exists()


class RecordEvaluations(TrainerCallback):
    def __init__(self):
        self.scores = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.scores.append(metrics["eval_accuracy"])


class BreakLastEpoch(TrainerCallback):
    """Zeroes the heads after the last epoch, before it is scored: the last epoch is the worst."""

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if round(state.epoch) == args.num_train_epochs:
            for parameter in model.heads.parameters():
                parameter.data.zero_()


def test_dev_split_scored_each_epoch_and_the_best_epoch_kept(data, tmp_path):
    """A recipe that evaluates scores the dev split after every epoch and keeps the epoch with
    the best accuracy, not the last one."""
    hparams = {
        **HPARAMS,
        "eval_strategy": "epoch",
        "load_best_model_at_end": True,
        "metric_for_best_model": "accuracy",
    }
    evaluations = RecordEvaluations()
    summary = train_encoder(
        data / "base", data / "train.jsonl", data / "labels.json", ["intent"], hparams,
        tmp_path / "model", tmp_path / "ckpt", dev_path=data / "dev.jsonl",
        callbacks=[evaluations, BreakLastEpoch()],
    )  # fmt: skip
    assert len(evaluations.scores) == 5 and evaluations.scores[-1] < max(evaluations.scores)
    assert summary["best_metric"] == max(evaluations.scores) >= 0.8
    assert not (tmp_path / "ckpt").exists()
    dev = predict_encoder(tmp_path / "model", data / "dev.jsonl", batch_size=16)
    kept = sum(p["pred"]["intent"] == p["gold"]["intent"] for p in dev) / len(dev)
    assert kept == summary["best_metric"]


def test_dev_accuracy_averages_heads_on_scored_tokens():
    gold = {
        "intent": np.array([0, 1, 2, 2]),
        "slots": np.array([[IGNORE_INDEX, 1, 0], [0, IGNORE_INDEX, IGNORE_INDEX]]),
    }
    pred = {"intent": np.array([0, 1, 0, 0]), "slots": np.array([[3, 1, 1], [0, 2, IGNORE_INDEX]])}
    scores = dev_accuracy(EvalPrediction(predictions=pred, label_ids=gold))
    assert scores == {"accuracy_intent": 0.5, "accuracy_slots": 2 / 3, "accuracy": (0.5 + 2 / 3) / 2}


def test_dev_split_needed_by_a_recipe_that_evaluates(data, tmp_path):
    with pytest.raises(ValueError, match="eval_strategy 'epoch' needs a dev split"):
        train_encoder(
            data / "base", data / "train.jsonl", data / "labels.json", ["intent"],
            {**HPARAMS, "eval_strategy": "epoch"}, tmp_path / "model", tmp_path / "ckpt",
        )  # fmt: skip


@pytest.mark.parametrize("architecture", ["bert", "distilbert"])
def test_other_encoder_backbones(data, tmp_path, architecture):
    """BERT feeds token_type_ids to its backbone, DistilBERT has none."""
    prepare_base_model({"random": {"architecture": architecture}}, "encoder", tmp_path / "base")
    tok = load_tokenizer(tmp_path / "base", word_level=True)
    names = {"intent": sorted(KEYWORDS), "slots": ["Other", "place", "song", "time"]}
    features = list(encode_dataset(data / "train.jsonl", tok, names, max_length=16))[:4]
    model = MultiHeadEncoder.from_base(tmp_path / "base", {"intent": ("sequence", 3), "slots": ("token", 4)})
    batch = EncoderCollator(tok)(features)
    assert ("token_type_ids" in batch) == (architecture == "bert")
    assert torch.isfinite(model(**batch)["loss"])
