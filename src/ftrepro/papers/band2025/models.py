"""band2025 preference classifiers: the token allocation, Single / Parallel BERT, the 20-head model.

Token allocation ("Custom Tokenizer for BERT"): the input is
    single:   [CLS] prompt [SEP] response_a [SEP] response_b [SEP]
    parallel: [CLS] prompt [SEP] response [SEP]           (once per response)
The special tokens are counted first ([CLS] plus one [SEP] per segment: 4 and 3), and each segment
gets floor(share x (max_length - specials)) tokens of the rest, e.g. 50 / 228 / 228 of 508 for
0.1 / 0.45 / 0.45, or 50 / 458 of 509 for 0.1 / 0.9. A segment longer than its budget loses its
tail. A short segment's unused budget stays unused, as in the paper; with `redistribute` it goes to
the segments still cut, in proportion to their shares.

Turns: an arena prompt or response is a list of turns; they are joined with a blank line. The
paper does not say how (it shows the raw JSON-list cells); for uncased WordPiece tokenizers the
separator is whitespace and so leaves no token, so turn k+1 simply follows turn k. Tokens of
later turns are the first cut, which tail truncation implies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from ftrepro.data.arena import LABELS
from ftrepro.io import DataError
from ftrepro.models.encoder import (
    EncoderWithHeads,
    EncoderWithHeadsConfig,
    MultiHeadEncoder,
    MultiHeadEncoderConfig,
    register_auto_model,
)

ARCHITECTURES = ("single", "parallel")
TURN_SEPARATOR = "\n\n"
# The encoder blocks of the backbones we fine-tune (BERT / MiniLM, DistilBERT).
LAYER_PATHS = ("encoder.layer", "transformer.layer")


# --- token allocation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """Shares of a `max_length`-token input for its segments (in input order)."""

    shares: tuple[float, ...]
    max_length: int = 512
    redistribute: bool = False

    def __post_init__(self):
        if not self.shares or any(s <= 0 for s in self.shares) or not math.isclose(sum(self.shares), 1.0):
            raise ValueError(f"allocation shares must be positive and sum to 1, got {list(self.shares)}")
        if self.max_length <= self.special_tokens:
            raise ValueError(
                f"max_length {self.max_length} leaves no room beside {self.special_tokens} special tokens"
            )

    @property
    def special_tokens(self) -> int:
        return len(self.shares) + 1  # [CLS] and a [SEP] after each segment

    def budgets(self, lengths: Sequence[int]) -> list[int]:
        """Tokens kept of each segment, given each segment's full length in tokens."""
        if len(lengths) != len(self.shares):
            raise ValueError(f"{len(lengths)} segments for {len(self.shares)} shares")
        room = self.max_length - self.special_tokens
        if not self.redistribute:
            return [min(n, math.floor(s * room)) for n, s in zip(lengths, self.shares)]
        kept = [0] * len(lengths)
        cut = set(range(len(lengths)))
        while cut:  # water-filling: segments that fit keep all; the rest share what is left
            total = sum(self.shares[i] for i in cut)
            quota = {i: math.floor(self.shares[i] / total * room) for i in cut}
            fits = {i for i in cut if lengths[i] <= quota[i]}
            if not fits:
                for i in cut:
                    kept[i] = quota[i]
                break
            for i in fits:
                kept[i] = lengths[i]
            room -= sum(lengths[i] for i in fits)
            cut -= fits
        return kept


def allocation_for(architecture: str, config: dict, max_length: int) -> Allocation:
    """The Allocation of an architecture from the config block band2025.allocation."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
    return Allocation(tuple(config[architecture]), max_length, bool(config.get("redistribute", False)))


def join_turns(turns: list[str]) -> str:
    return TURN_SEPARATOR.join(turns)


def encode_segments(tokenizer, segments: list[list[int]], allocation: Allocation) -> dict:
    """[CLS] seg_1 [SEP] seg_2 [SEP] ... from pre-tokenised segments (ids without specials), each cut
    to its budget. Token types: 0 for [CLS] and the first segment (the prompt) and its [SEP], 1 after."""
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ValueError(
            f"{type(tokenizer).__name__} has no [CLS]/[SEP] tokens; a BERT-style tokenizer is needed"
        )
    input_ids, token_types = [tokenizer.cls_token_id], [0]
    for n, (ids, budget) in enumerate(zip(segments, allocation.budgets([len(s) for s in segments]))):
        kept = ids[:budget] + [tokenizer.sep_token_id]
        input_ids += kept
        token_types += [0 if n == 0 else 1] * len(kept)
    encoding = {"input_ids": input_ids, "attention_mask": [1] * len(input_ids)}
    if "token_type_ids" in tokenizer.model_input_names:
        encoding["token_type_ids"] = token_types
    return encoding


def tokenize_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens; long texts are cut later, by the allocation."""
    return tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]


def encode_preference(
    tokenizer, records: list[dict], architecture: str, allocation: Allocation, chunk_size: int = 1000
) -> list[dict]:
    """Model inputs of arena records: one encoding each (single) or a pair of encodings, one per
    response, as lists of two (parallel). Tokenised in chunks: full responses run to thousands of
    tokens, and only the allocated ones are kept."""
    features = []
    for start in range(0, len(records), chunk_size):
        chunk = records[start : start + chunk_size]
        texts = [join_turns(r[field]) for r in chunk for field in ("prompt", "response_a", "response_b")]
        ids = tokenize_texts(tokenizer, texts)
        for prompt, response_a, response_b in zip(ids[0::3], ids[1::3], ids[2::3]):
            if architecture == "single":
                features.append(encode_segments(tokenizer, [prompt, response_a, response_b], allocation))
            else:
                pairs = [
                    encode_segments(tokenizer, [prompt, r], allocation) for r in (response_a, response_b)
                ]
                features.append({key: [p[key] for p in pairs] for key in pairs[0]})
    return features


def gold_label(record: dict, where: str) -> str:
    """The A / B / tie label of an arena record; DataError naming `where` and the id otherwise."""
    label = record.get("label")
    if label not in LABELS:
        raise DataError(f"{where}: record {record.get('id')!r}: label {label!r} is not one of {list(LABELS)}")
    return label


class PreferenceCollator:
    """Pads features of encode_preference into a batch: (batch, length) tensors for single,
    (batch, 2, length) for parallel; integer `labels` become a (batch,) tensor."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict]) -> dict:
        parallel = isinstance(features[0]["input_ids"][0], list)
        inputs = [{k: v for k, v in f.items() if k != "labels"} for f in features]
        if parallel:  # pad both pairs of every example to one length, then regroup in twos
            inputs = [{k: v[i] for k, v in f.items()} for f in inputs for i in range(2)]
        batch = dict(self.tokenizer.pad(inputs, return_tensors="pt"))
        if parallel:
            batch = {k: v.view(len(features), 2, -1) for k, v in batch.items()}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features])
        return batch


# --- models ---------------------------------------------------------------------------------


class PreferenceClassifierConfig(EncoderWithHeadsConfig):
    model_type = "ftrepro-preference-classifier"
    architecture: str = "single"
    allocation: dict | None = None  # Allocation's fields
    classifier_dropout: float = 0.1


class PreferenceClassifier(EncoderWithHeads):
    """Single BERT (one input -> CLS -> dropout -> linear hidden x 3) or Parallel BERT (the SAME
    encoder on (prompt, response_a) and (prompt, response_b) as one batch of 2B sequences; the two
    CLS vectors, after dropout, concatenated -> linear 2 hidden x 3).

    `forward` returns {"logits": (batch, 3)} and "loss" (cross-entropy) with labels. The label
    names are the config's id2label.
    """

    config_class = PreferenceClassifierConfig

    def __init__(self, config: PreferenceClassifierConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        if config.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {config.architecture!r}; expected one of {ARCHITECTURES}")
        expected_segments = 3 if config.architecture == "single" else 2
        if len(self.allocation.shares) != expected_segments:
            raise ValueError(
                f"{config.architecture}: allocation needs {expected_segments} shares, got {self.allocation.shares}"
            )
        self.dropout = nn.Dropout(config.classifier_dropout)
        inputs = 1 if config.architecture == "single" else 2
        self.classifier = self.linear(inputs * self.backbone.config.hidden_size, config.num_labels)
        self.post_init()

    @classmethod
    def from_base(
        cls,
        base_dir: str | Path,
        architecture: str,
        allocation: Allocation,
        dropout: float = 0.1,
        labels: Sequence[str] = LABELS,
    ) -> PreferenceClassifier:
        """A fresh head on the pretrained (or pre-finetuned) encoder in `base_dir`."""
        return super().from_base(
            base_dir,
            architecture=architecture,
            allocation=asdict(allocation),
            classifier_dropout=dropout,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )

    @property
    def architecture(self) -> str:
        return self.config.architecture

    @property
    def allocation(self) -> Allocation:
        fields = self.config.allocation
        return Allocation(tuple(fields["shares"]), fields["max_length"], fields["redistribute"])

    @property
    def labels(self) -> list[str]:
        return [self.config.id2label[i] for i in range(self.config.num_labels)]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict:
        batch_size, length = input_ids.shape[0], input_ids.shape[-1]
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        flat = {k: v.reshape(-1, length) for k, v in inputs.items() if v is not None}  # parallel: 2B rows
        cls_vectors = self.backbone(**flat).last_hidden_state[:, 0]
        logits = self.classifier(self.dropout(cls_vectors.reshape(batch_size, -1)))  # [cls_a, cls_b] per row
        if labels is None:
            return {"logits": logits}
        return {"loss": F.cross_entropy(logits, labels), "logits": logits}


class PropertyHeadsConfig(MultiHeadEncoderConfig):
    model_type = "ftrepro-property-heads"


class PropertyHeadsEncoder(MultiHeadEncoder):
    """The pre-fine-tuning model: one linear hidden -> 4 head (ratings 0-3) per property on the
    CLS vector. The loss is the MEAN of the heads' cross-entropies, as the paper states (its
    MultiHeadEncoder parent sums them, zhao2025's choice). `load_encoder` on its saved directory
    gives the pre-finetuned encoder."""

    config_class = PropertyHeadsConfig
    RATINGS = ("0", "1", "2", "3")

    @classmethod
    def for_properties(
        cls, base_dir: str | Path, properties: Sequence[str], max_length: int
    ) -> PropertyHeadsEncoder:
        heads = {p: ("sequence", len(cls.RATINGS)) for p in properties}
        return cls.from_base(
            base_dir, heads, label_names={p: list(cls.RATINGS) for p in properties}, max_length=max_length
        )

    def loss(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
        return super().loss(logits, labels) / len(labels)


register_auto_model(PreferenceClassifier)
register_auto_model(PropertyHeadsEncoder)


def freeze_lower_layers(backbone: nn.Module, n_layers: int) -> list[str]:
    """Freeze the first `n_layers` encoder blocks (the paper freezes "the first three encoding
    layers"; embeddings are not among them and stay trainable). Returns the frozen parameter names."""
    for path in LAYER_PATHS:
        try:
            layers = backbone.get_submodule(path)
        except AttributeError:
            continue
        if n_layers > len(layers):
            raise ValueError(f"cannot freeze {n_layers} layers of a {len(layers)}-layer encoder")
        frozen = []
        for i in range(n_layers):
            for name, parameter in layers[i].named_parameters():
                parameter.requires_grad_(False)
                frozen.append(f"{path}.{i}.{name}")
        return frozen
    raise ValueError(f"{type(backbone).__name__}: no encoder layers at any of {LAYER_PATHS}")
