"""Encoders with task heads, as transformers models: a pretrained encoder (`backbone`) under
heads of our own, saved and loaded with `save_pretrained` / `from_pretrained` (one config.json, one
model.safetensors) and registered with AutoConfig / AutoModel under their `model_type`.

MultiHeadEncoder has one linear classification head per subtask (multi-task RoBERTa). Sequence
heads classify the first token (<s> / [CLS]); token heads classify every token, and words are
labelled on their first sub-word only (the others get -100, ignored by the loss), as in the
MASSIVE reference code. The loss is the plain sum of the heads' cross-entropies: the paper's
"equally weighted cross-entropy losses", each with weight 1, so a head gets the same gradient in a
joint model as alone at the same learning rate (a mean would halve it).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec

from ftrepro.models.encoding import IGNORE_INDEX

HEAD_KINDS = ("sequence", "token")


class EncoderWithHeadsConfig(PreTrainedConfig):
    """What every encoder-with-heads config holds: the backbone's own config."""

    sub_configs_defaults = {"encoder_config": SubConfigSpec(AutoConfig, model_type="bert")}
    encoder_config: dict | PreTrainedConfig | None = None


class EncoderWithHeads(PreTrainedModel):
    """A pretrained encoder (`backbone`) with heads on top; subclasses add the heads (built with
    `linear`) and call `post_init`.

    `forward` returns {"logits": ...} and "loss" with labels, which is what transformers' Trainer
    needs. Device maps keep the backbone's blocks whole (post_init adds its `_no_split_modules`;
    a head is one layer).
    """

    config_class = EncoderWithHeadsConfig
    base_model_prefix = "backbone"
    _no_split_modules = []
    # No attention of its own: the backbone's runs (BERT, RoBERTa and DistilBERT support all three).
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True

    def __init__(self, config: EncoderWithHeadsConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        self.backbone = backbone if backbone is not None else AutoModel.from_config(config.encoder_config)

    @classmethod
    def from_base(cls, base_dir: str | Path, **config):
        """Fresh heads on the encoder in `base_dir` (see `load_encoder`); `config`: the fields of
        the subclass's config."""
        backbone = load_encoder(base_dir)
        # the backbone keeps the attention it was loaded with (a new config would reset it)
        attention = backbone.config._attn_implementation
        return cls(
            cls.config_class(encoder_config=backbone.config, attn_implementation=attention, **config),
            backbone,
        )

    def linear(self, in_features: int, out_features: int) -> nn.Linear:
        """A head layer, initialised once, by post_init (`_init_weights`): a fresh model draws its
        heads' weights in head order from the seeded generator, or from_pretrained loads them."""
        return torch.nn.utils.skip_init(nn.Linear, in_features, out_features, device=self.backbone.device)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):  # the heads; the backbone initialises its own modules
            module.reset_parameters()  # torch's default Linear initialisation


def load_encoder(model_dir: str | Path) -> PreTrainedModel:
    """The bare encoder in `model_dir`: a pretrained one, or the backbone of a saved
    EncoderWithHeads (a classifier fine-tunes the encoder of pre-fine-tuned heads)."""
    model = AutoModel.from_pretrained(model_dir)
    return model.backbone if isinstance(model, EncoderWithHeads) else model


class MultiHeadEncoderConfig(EncoderWithHeadsConfig):
    model_type = "ftrepro-multihead-encoder"
    # {subtask: {"kind": "sequence" | "token", "num_labels": n, "labels": [n label names] | None}}
    heads: dict | None = None
    dropout: float = 0.1
    max_length: int | None = None  # the truncation it was trained with, so that prediction matches


class MultiHeadEncoder(EncoderWithHeads):
    """The backbone with heads {subtask: (kind, num_labels)}; `forward` returns "logits" as
    {subtask: tensor}."""

    config_class = MultiHeadEncoderConfig

    def __init__(self, config: MultiHeadEncoderConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        _check_heads(config.heads)
        hidden = self.backbone.config.hidden_size
        self.heads = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Dropout(config.dropout), self.linear(hidden, head["num_labels"]))
                for name, head in config.heads.items()
            }
        )
        self.post_init()

    @classmethod
    def from_base(
        cls,
        base_dir: str | Path,
        heads: dict[str, tuple[str, int]],
        label_names: dict[str, list[str]] | None = None,
        dropout: float = 0.1,
        max_length: int | None = None,
    ) -> MultiHeadEncoder:
        """Fresh heads {subtask: (kind, num_labels)}, with their label names if given."""
        specs = {
            name: {
                "kind": kind,
                "num_labels": int(n),
                "labels": list(label_names.get(name) or ()) if label_names else None,
            }
            for name, (kind, n) in heads.items()
        }
        return super().from_base(base_dir, heads=specs, dropout=dropout, max_length=max_length)

    @property
    def head_specs(self) -> dict[str, tuple[str, int]]:
        return {name: (head["kind"], head["num_labels"]) for name, head in self.config.heads.items()}

    @property
    def label_names(self) -> dict[str, list[str]] | None:
        names = {name: head["labels"] for name, head in self.config.heads.items()}
        return None if any(v is None for v in names.values()) else names

    @property
    def max_length(self) -> int | None:
        return self.config.max_length

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: dict[str, torch.Tensor] | None = None,
    ) -> dict:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        logits = {}
        for name, head in self.heads.items():
            kind, _ = self.head_specs[name]
            logits[name] = head(hidden[:, 0] if kind == "sequence" else hidden)
        if labels is None:
            return {"logits": logits}
        return {"loss": self.loss(logits, labels), "logits": logits}

    def loss(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for name, gold in labels.items():
            flat_logits = logits[name].reshape(-1, logits[name].shape[-1])
            flat_gold = gold.reshape(-1)
            if (flat_gold != IGNORE_INDEX).any():  # all-ignored batch: 0, not a NaN from 0/0
                total = total + F.cross_entropy(flat_logits, flat_gold, ignore_index=IGNORE_INDEX)
            else:
                total = total + flat_logits.sum() * 0.0
        return total


def _check_heads(heads: dict | None) -> None:
    if not heads:
        raise ValueError("a MultiHeadEncoder needs at least one head")
    for name, head in heads.items():
        if head["kind"] not in HEAD_KINDS:
            raise ValueError(f"head {name!r}: kind must be one of {HEAD_KINDS}, got {head['kind']!r}")
        if head["labels"] is not None and len(head["labels"]) != head["num_labels"]:
            raise ValueError(f"head {name!r}: {head['num_labels']} labels but label names {head['labels']!r}")


def register_auto_model(model_class: type[PreTrainedModel]) -> None:
    """Let AutoConfig and AutoModel load `model_class` by the model_type of its config."""
    AutoConfig.register(model_class.config_class.model_type, model_class.config_class)
    AutoModel.register(model_class.config_class, model_class)


register_auto_model(MultiHeadEncoder)


# --- inputs: shared by training and prediction ---------------------------------------------


def tokenize_record(tokenizer, record: dict, word_level: bool, max_length: int):
    """Tokenise one record: its `words` (split into words) when a token head needs word
    alignment, else its `text`. Returns the BatchEncoding (with `word_ids()`)."""
    if word_level:
        return tokenizer(record["words"], is_split_into_words=True, truncation=True, max_length=max_length)
    return tokenizer(record["text"], truncation=True, max_length=max_length)


def first_subword_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Token-level labels: a word's label on its first sub-word, -100 on the other sub-words and
    on special tokens."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE_INDEX if word is None or word == previous else word_labels[word])
        previous = word
    return labels


def first_subword_positions(word_ids: list[int | None]) -> dict[int, int]:
    """{word index: position of its first sub-word}, for the words that survived truncation."""
    positions: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in positions:
            positions[word] = position
    return positions


class EncoderCollator:
    """Pads a list of features ({input_ids, attention_mask, [token_type_ids], [labels]})
    into a batch; token labels are padded with -100."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict]) -> dict:
        inputs = [{k: v for k, v in f.items() if k != "labels"} for f in features]
        batch = dict(self.tokenizer.pad(inputs, return_tensors="pt"))
        if "labels" in features[0]:
            length = batch["input_ids"].shape[1]
            batch["labels"] = {
                name: torch.tensor([self._pad(f["labels"][name], length) for f in features])
                for name in features[0]["labels"]
            }
        return batch

    def _pad(self, label, length: int):
        if not isinstance(label, list):  # a sequence label
            return label
        padding = [IGNORE_INDEX] * (length - len(label))  # on the side the tokenizer pads
        return padding + label if self.tokenizer.padding_side == "left" else label + padding
