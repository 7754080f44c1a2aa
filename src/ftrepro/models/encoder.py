"""Encoder with one linear classification head per subtask (zhao2025 section 5.4).

Sequence heads classify the first token (<s> / [CLS]); token heads classify every token, and
words are labelled on their first sub-word only (the others get -100, ignored by the loss), as
in the MASSIVE reference code. The loss is the plain sum of the heads' cross-entropies: the
paper's "equally weighted cross-entropy losses", each with weight 1, so a head gets the same
gradient in a joint model as alone at the same learning rate (a mean would halve it).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel

from ftrepro.models.encoding import IGNORE_INDEX

HEAD_KINDS = ("sequence", "token")
HEADS_FILE = "heads.json"
HEAD_WEIGHTS_FILE = "heads.safetensors"


class MultiHeadEncoder(nn.Module):
    """A pretrained encoder (`backbone`) with heads {subtask: (kind, num_labels)}.

    `forward` returns {"loss": ..., "logits": {subtask: tensor}} ("loss" only with labels), which
    is what transformers' Trainer needs. `save_pretrained` / `from_pretrained` keep the backbone
    in the usual format next to heads.json (kinds, label names) and heads.safetensors.
    """

    def __init__(
        self,
        backbone: nn.Module,
        heads: dict[str, tuple[str, int]],
        label_names: dict[str, list[str]] | None = None,
        dropout: float = 0.1,
        max_length: int | None = None,
    ):
        super().__init__()
        if not heads:
            raise ValueError("a MultiHeadEncoder needs at least one head")
        for name, (kind, num_labels) in heads.items():
            if kind not in HEAD_KINDS:
                raise ValueError(f"head {name!r}: kind must be one of {HEAD_KINDS}, got {kind!r}")
            if label_names and len(label_names.get(name, ())) != num_labels:
                raise ValueError(
                    f"head {name!r}: {num_labels} labels but label names {label_names.get(name)!r}"
                )
        self.backbone = backbone
        self.head_specs = {name: (kind, int(n)) for name, (kind, n) in heads.items()}
        self.label_names = {name: list(label_names[name]) for name in heads} if label_names else None
        self.dropout = dropout
        self.max_length = max_length  # the truncation it was trained with, so prediction matches
        hidden = backbone.config.hidden_size
        self.heads = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n))
                for name, (_, n) in self.head_specs.items()
            }
        )

    @classmethod
    def from_base(cls, base_dir: str | Path, heads: dict[str, tuple[str, int]], **kwargs) -> MultiHeadEncoder:
        """Fresh heads on the pretrained encoder in `base_dir`."""
        return cls(AutoModel.from_pretrained(base_dir), heads, **kwargs)

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

    def save_pretrained(self, out_dir: str | Path, tokenizer=None) -> None:
        out_dir = Path(out_dir)
        self.backbone.save_pretrained(out_dir)
        if tokenizer is not None:
            tokenizer.save_pretrained(out_dir)
        weights = {k: v.detach().contiguous().cpu() for k, v in self.heads.state_dict().items()}
        save_file(weights, out_dir / HEAD_WEIGHTS_FILE)
        meta = {
            "heads": {
                name: {
                    "kind": kind,
                    "num_labels": n,
                    "labels": self.label_names[name] if self.label_names else None,
                }
                for name, (kind, n) in self.head_specs.items()
            },
            "dropout": self.dropout,
            "max_length": self.max_length,
        }
        (out_dir / HEADS_FILE).write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> MultiHeadEncoder:
        """Load a saved model (in eval mode, like transformers' from_pretrained)."""
        model_dir = Path(model_dir)
        if not (model_dir / HEADS_FILE).is_file():
            raise FileNotFoundError(f"{model_dir}: no {HEADS_FILE}; not a MultiHeadEncoder directory")
        meta = json.loads((model_dir / HEADS_FILE).read_text(encoding="utf-8"))
        heads = {name: (h["kind"], h["num_labels"]) for name, h in meta["heads"].items()}
        names = {name: h["labels"] for name, h in meta["heads"].items()}
        model = cls(
            AutoModel.from_pretrained(model_dir),
            heads,
            label_names=names if all(v is not None for v in names.values()) else None,
            dropout=meta["dropout"],
            max_length=meta.get("max_length"),
        )
        model.heads.load_state_dict(load_file(model_dir / HEAD_WEIGHTS_FILE))
        return model.eval()


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
