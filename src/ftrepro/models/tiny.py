"""Tiny randomly initialised models built from a config, for tests and the `tiny` preset.

Nothing is downloaded: the tokenizer is a WordPiece one over single characters, the words of
the synthetic datasets and of the prompts, their labels and the prompts' markers as whole tokens
(label_pieces, prompt_pieces), and the model config is small enough to train on 2 CPU cores.
"""

from __future__ import annotations

import string
import unicodedata

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import AutoConfig, PretrainedConfig, PreTrainedTokenizerFast

MAX_LENGTH = 512

# Special tokens in id order (ids follow the real models, so configs read like theirs), the
# role of each, the post-processor templates and the model inputs, per architecture.
_BERT = {
    "specials": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    "roles": {
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    },
    "single": "[CLS] $A [SEP]",
    "pair": "[CLS] $A [SEP] $B:1 [SEP]:1",
}
_TOKENIZER_LAYOUTS = {
    "roberta": {
        "specials": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        "roles": {
            "bos_token": "<s>",
            "eos_token": "</s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        },
        "single": "<s> $A </s>",
        "pair": "<s> $A </s> </s> $B </s>",
        "inputs": ["input_ids", "attention_mask"],
    },
    "bert": {**_BERT, "inputs": ["input_ids", "token_type_ids", "attention_mask"]},
    "distilbert": {**_BERT, "inputs": ["input_ids", "attention_mask"]},
    # Llama adds only a bos token. Real Llama checkpoints have no pad token; a separate <pad>
    # (rather than pad = eos) keeps eos a real training target when padding is masked out.
    "llama": {
        "specials": ["<unk>", "<s>", "</s>", "<pad>"],
        "roles": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
        "single": "<s> $A",
        "pair": "<s> $A <s>:1 $B:1",
        "inputs": ["input_ids", "attention_mask"],
    },
    "t5": {
        "specials": ["<pad>", "</s>", "<unk>"],
        "roles": {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"},
        "single": "$A </s>",
        "pair": "$A </s> $B </s>",
        "inputs": ["input_ids", "attention_mask"],
    },
}
ARCHITECTURES = tuple(_TOKENIZER_LAYOUTS)


def _check_architecture(architecture: str) -> None:
    if architecture not in _TOKENIZER_LAYOUTS:
        raise ValueError(f"unknown tiny architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")


# How prompts and answers write a label (whitespace-separated words): bare, as JSON strings in a
# list or an object (`["other",` `"time"]}`), as items of a Python list (`['alt.atheism',`).
_LABEL_LAYOUTS = (
    ("", ""),
    ('"', '",'),
    ('"', '"]'),
    ('"', '"}'),
    ('"', '"]}'),
    ('["', '",'),
    ('["', '"]'),
    ('["', '"]}'),
    ("'", "',"),
    ("['", "',"),
    ("'", "']"),
    ("'", "']."),
)
# the keys of the classification prompts' consolidated answers, {"task1": ..., "task2": ...}
_ANSWER_KEYS = ('{"task1":', '"task2":')


def label_pieces() -> list[str]:
    """Every synthetic label in every layout of _LABEL_LAYOUTS, and the answers' JSON keys, as
    whole words: a label is one token wherever a prompt or an answer writes it, so a tiny decoder
    learns which label to emit rather than how to spell it."""
    from ftrepro.data.synthetic import label_names

    labels = [label.lower() for label in label_names()]
    return [*_ANSWER_KEYS, *(pre + label + post for label in labels for pre, post in _LABEL_LAYOUTS)]


def prompt_pieces() -> list[str]:
    """The markers the classification prompts repeat per example (`<<news>>`, `label:`, `[/inst]`, ...)
    as whole words, also glued to what precedes them (`[inst]<<sys>>`): one token each rather than
    one per character."""
    from ftrepro.data.synthetic import ZHAO_PROMPT_MARKERS

    markers = [marker.lower() for marker in ZHAO_PROMPT_MARKERS]
    return markers + ["##" + marker for marker in markers]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _vocab(specials: list[str]) -> dict[str, int]:
    from ftrepro.data.synthetic import vocabulary

    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    # as the normalizer sees them: lower-cased, accents stripped ("Montréal" -> "montreal")
    words = [_strip_accents(w.lower()) for w in vocabulary()]
    # Every piece also as a ##-continuation, so "(word)" or "word," stay three pieces.
    pieces = chars + words
    tokens = specials + pieces + ["##" + p for p in pieces] + label_pieces() + prompt_pieces()
    return {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}


def tiny_tokenizer(architecture: str) -> PreTrainedTokenizerFast:
    """A fast WordPiece tokenizer with the special tokens and templates of `architecture`.

    Words are split on whitespace only (punctuation becomes ##-pieces), so decoding gives back
    the lower-cased text exactly: a decoder model's generated labels and JSON survive decoding.
    """
    _check_architecture(architecture)
    layout = _TOKENIZER_LAYOUTS[architecture]
    vocab = _vocab(layout["specials"])
    unk = layout["roles"]["unk_token"]
    tok = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    used = {
        t.split(":")[0] for t in (layout["single"] + " " + layout["pair"]).split() if not t.startswith("$")
    }
    tok.post_processor = processors.TemplateProcessing(
        single=layout["single"], pair=layout["pair"], special_tokens=[(t, vocab[t]) for t in sorted(used)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=MAX_LENGTH,
        model_input_names=layout["inputs"],
        **layout["roles"],
    )


def _config_defaults(architecture: str, tokenizer: PreTrainedTokenizerFast) -> dict:
    ids = {"pad_token_id": tokenizer.pad_token_id}
    if tokenizer.bos_token_id is not None:
        ids["bos_token_id"] = tokenizer.bos_token_id
    if tokenizer.eos_token_id is not None:
        ids["eos_token_id"] = tokenizer.eos_token_id
    bert_like = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 128,
    }
    if architecture == "roberta":  # positions start after the pad index, hence 512 + 2
        return {**bert_like, "max_position_embeddings": MAX_LENGTH + 2, "type_vocab_size": 1, **ids}
    if architecture == "bert":
        return {**bert_like, "max_position_embeddings": MAX_LENGTH, "type_vocab_size": 2, **ids}
    if architecture == "distilbert":
        return {
            "dim": 64,
            "n_layers": 2,
            "n_heads": 2,
            "hidden_dim": 128,
            "max_position_embeddings": MAX_LENGTH,
            **ids,
        }
    if architecture == "llama":  # rotary positions cost no parameters: room for five-shot prompts
        return {
            **bert_like,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4 * MAX_LENGTH,
            "tie_word_embeddings": False,
            **ids,
        }
    # t5: relative positions, no length limit in the model
    return {
        "d_model": 64,
        "d_kv": 32,
        "d_ff": 128,
        "num_layers": 2,
        "num_decoder_layers": 2,
        "num_heads": 2,
        "decoder_start_token_id": tokenizer.pad_token_id,
        **ids,
    }


def tiny_config(architecture: str, **overrides) -> PretrainedConfig:
    """A small config (hidden 64, 2 layers, 2 heads) whose vocab matches `tiny_tokenizer`."""
    _check_architecture(architecture)
    tokenizer = tiny_tokenizer(architecture)
    kwargs = {**_config_defaults(architecture, tokenizer), "vocab_size": len(tokenizer), **overrides}
    return AutoConfig.for_model(architecture, **kwargs)
