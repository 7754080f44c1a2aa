"""gupta2023 with the mini preset's models: a decoder-only model on Tk-Instruct sources through
its chat template, and a warm-started encoder-decoder through the Tk-Instruct seq2seq trainer."""

from __future__ import annotations

import pytest
from test_seq2seq import HPARAMS, distinct_target_records, superni_with_t5
from transformers import AutoTokenizer

from ftrepro.data.superni import read_task, task_records
from ftrepro.infer.seq2seq import predict_seq2seq
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.gupta2023.decoder_only import (
    is_decoder_only,
    predict_superni_decoder,
    superni_prompts,
    train_superni_decoder,
    training_examples,
)
from ftrepro.train.seq2seq import train_seq2seq

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return superni_with_t5(tmp_path_factory.mktemp("superni"))


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    """A tiny random Llama whose tokenizer has a chat template, as SmolLM2-Instruct's has."""
    out = tmp_path_factory.mktemp("decoder") / "base"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    return out


def test_prompts_wrap_the_tk_instruct_source_in_the_chat_template(data, decoder):
    tokenizer = AutoTokenizer.from_pretrained(decoder)
    task = distinct_target_records(data, 2)[0]["task"]
    record = task_records(data / "derived", [task], "test")[0]
    (bare,) = superni_prompts(tokenizer, [record], instructions=False, max_source_length=512, raw_dir=None)
    assert bare == f"<|user|>{record['input']}\n<|assistant|>"
    (instructed,) = superni_prompts(
        tokenizer, [record], instructions=True, max_source_length=512, raw_dir=data / "raw"
    )
    definition = read_task(data / "raw" / "tasks" / f"{task}.json")["Definition"][0]
    assert instructed.startswith(f"<|user|>Definition: {definition}") and "Positive Example 1" in instructed
    assert instructed.endswith(f"Input: {record['input']}\nOutput: \n<|assistant|>")


def test_answers_are_references_cut_to_max_target_length(data, decoder):
    tokenizer = AutoTokenizer.from_pretrained(decoder)
    records = [{**r, "references": ["a b c d e f g h i j k l"]} for r in distinct_target_records(data, 2)]
    examples = training_examples(tokenizer, records, {**HPARAMS, "max_target_length": 4}, raw_dir=None)
    assert [e["id"] for e in examples] == [r["id"] for r in records]
    assert all(len(tokenizer(e["answer"], add_special_tokens=False)["input_ids"]) == 4 for e in examples)
    assert all("a b".replace(" ", "") in e["answer"].replace(" ", "") for e in examples)


def test_decoder_memorises_and_predicts_in_input_order(data, decoder, tmp_path):
    assert is_decoder_only(decoder)
    records = distinct_target_records(data, 4)
    hparams = {**HPARAMS, "num_train_epochs": 30, "learning_rate": 3e-3}
    summary = train_superni_decoder(
        decoder, records, hparams=hparams, out_dir=tmp_path / "model", checkpoint_dir=tmp_path / "ckpt"
    )
    assert summary["global_step"] == 30 and not (tmp_path / "ckpt").exists()
    predictions = predict_superni_decoder(
        tmp_path / "model", records, instructions=False, batch_size=2, max_source_length=64, max_new_tokens=8
    )
    assert [p["id"] for p in predictions] == [r["id"] for r in records]
    assert all(set(p) == {"task", "category", "id", "prediction", "references"} for p in predictions)
    assert [p["prediction"] for p in predictions] == [r["references"][0] for r in records]


def test_warm_started_encoder_decoder_trains_like_t5(data, tmp_path):
    prepare_base_model({"random": {"architecture": "bert"}}, "encoder", tmp_path / "bert")
    prepare_base_model(
        {"warm_start": {"local": {"path": str(tmp_path / "bert")}}}, "seq2seq", tmp_path / "base"
    )
    assert not is_decoder_only(tmp_path / "base")
    records = distinct_target_records(data, 4)
    train_seq2seq(
        tmp_path / "base",
        records * 60,
        hparams={**HPARAMS, "learning_rate": 3e-3},
        out_dir=tmp_path / "model",
        checkpoint_dir=tmp_path / "ckpt",
    )
    predictions = predict_seq2seq(
        tmp_path / "model", records, instructions=False, batch_size=2, max_source_length=64, max_new_tokens=8
    )
    # the tiny BERT tokenizer is uncased, so are its answers
    assert [p["prediction"] for p in predictions] == [r["references"][0].lower() for r in records]
