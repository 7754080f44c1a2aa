"""The multi-head encoder family: predict with a trained MultiHeadEncoder, records in the shared predictions format
{"id", "gold": {subtask: label | [word labels]}, "pred": {...}}."""

from __future__ import annotations

import logging
from pathlib import Path

from ftrepro.data import OUTSIDE
from ftrepro.infer.loading import load_model
from ftrepro.infer.logits import predict_logits
from ftrepro.io import DataError, read_jsonl
from ftrepro.models.encoder import EncoderCollator, MultiHeadEncoder, first_subword_positions, tokenize_record
from ftrepro.models.encoding import load_tokenizer

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 512  # for models saved without the max_length they were trained with


def predict_encoder(model_dir: str | Path, test_path: str | Path, batch_size: int) -> list[dict]:
    model = load_model(model_dir)
    if not isinstance(model, MultiHeadEncoder):
        raise ValueError(f"{model_dir}: a {type(model).__name__}, not a MultiHeadEncoder")
    if model.label_names is None:
        raise ValueError(f"{model_dir}: the model was saved without label names")
    word_level = any(kind == "token" for kind, _ in model.head_specs.values())
    tokenizer = load_tokenizer(model_dir, word_level)
    tokenizer.padding_side = "right"  # a token's logits sit at its position in the encoding
    max_length = model.max_length or DEFAULT_MAX_LENGTH
    records = read_jsonl(test_path)
    gold = [_gold(record, model.head_specs, test_path) for record in records]
    encodings = [tokenize_record(tokenizer, r, word_level, max_length) for r in records]
    log.info("predicting %s for %d records of %s", "+".join(model.head_specs), len(records), test_path)
    best = predict_logits(
        model,
        [dict(e) for e in encodings],
        EncoderCollator(tokenizer),
        batch_size,
        reduce=lambda t: t.argmax(-1),
    )
    predictions = []
    for i, (record, encoding) in enumerate(zip(records, encodings)):
        pred = {}
        for name, (kind, _) in model.head_specs.items():
            names = model.label_names[name]
            pred[name] = (
                names[best[name][i]]
                if kind == "sequence"
                else _word_labels(names, best[name][i], encoding, len(record["words"]))
            )
        predictions.append({"id": record["id"], "gold": gold[i], "pred": pred})
    return predictions


def _word_labels(names: list[str], best, encoding, n_words: int) -> list[str]:
    """Each word takes the label of its first sub-word; words cut off by truncation get Other."""
    positions = first_subword_positions(encoding.word_ids())
    return [names[best[positions[w]]] if w in positions else OUTSIDE for w in range(n_words)]


def _gold(record: dict, head_specs: dict, test_path) -> dict:
    labels = record.get("labels")
    if not isinstance(labels, dict) or any(name not in labels for name in head_specs):
        raise DataError(
            f"{test_path}: record {record.get('id')!r}: gold labels for "
            f"{', '.join(head_specs)} expected, got {labels!r}"
        )
    return {name: labels[name] for name in head_specs}
