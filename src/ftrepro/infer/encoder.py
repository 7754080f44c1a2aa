"""Predict with a trained MultiHeadEncoder: records in the shared predictions format
{"id", "gold": {subtask: label | [word labels]}, "pred": {...}}."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from ftrepro.data import OUTSIDE
from ftrepro.io import DataError, read_jsonl
from ftrepro.models.encoder import EncoderCollator, MultiHeadEncoder, first_subword_positions, tokenize_record
from ftrepro.models.encoding import load_tokenizer

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 512  # for models saved without the max_length they were trained with


def predict_encoder(model_dir: str | Path, test_path: str | Path, batch_size: int) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = MultiHeadEncoder.from_pretrained(model_dir).to(device)
    if model.label_names is None:
        raise ValueError(f"{model_dir}: the model was saved without label names")
    word_level = any(kind == "token" for kind, _ in model.head_specs.values())
    tokenizer = load_tokenizer(model_dir, word_level)
    collate = EncoderCollator(tokenizer)
    max_length = model.max_length or DEFAULT_MAX_LENGTH
    records = read_jsonl(test_path)
    log.info("predicting %s for %d records of %s", "+".join(model.head_specs), len(records), test_path)
    predictions = []
    for start in tqdm(range(0, len(records), batch_size), desc="predict", unit="batch"):
        batch_records = records[start : start + batch_size]
        encodings = [tokenize_record(tokenizer, r, word_level, max_length) for r in batch_records]
        batch = {k: v.to(device) for k, v in collate([dict(e) for e in encodings]).items()}
        with torch.inference_mode():
            logits = model(**batch)["logits"]
        best = {name: t.argmax(-1).cpu().tolist() for name, t in logits.items()}
        pad_left = tokenizer.padding_side == "left"
        for i, (record, encoding) in enumerate(zip(batch_records, encodings)):
            pred = {}
            for name, (kind, _) in model.head_specs.items():
                names = model.label_names[name]
                pred[name] = (
                    names[best[name][i]]
                    if kind == "sequence"
                    else _word_labels(names, best[name][i], encoding, len(record["words"]), pad_left)
                )
            predictions.append(
                {"id": record["id"], "gold": _gold(record, model.head_specs, test_path), "pred": pred}
            )
    return predictions


def _word_labels(names: list[str], best: list[int], encoding, n_words: int, pad_left: bool) -> list[str]:
    """Each word takes the label of its first sub-word; words cut off by truncation get Other."""
    offset = len(best) - len(encoding["input_ids"]) if pad_left else 0
    positions = first_subword_positions(encoding.word_ids())
    return [names[best[positions[w] + offset]] if w in positions else OUTSIDE for w in range(n_words)]


def _gold(record: dict, head_specs: dict, test_path) -> dict:
    labels = record.get("labels")
    if not isinstance(labels, dict) or any(name not in labels for name in head_specs):
        raise DataError(
            f"{test_path}: record {record.get('id')!r}: gold labels for "
            f"{', '.join(head_specs)} expected, got {labels!r}"
        )
    return {name: labels[name] for name in head_specs}
