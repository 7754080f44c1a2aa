"""Predict with a trained PreferenceClassifier: records {"id", "label" (gold), "probs": {A, B, tie}}
(without "label" for the competition's unlabelled test rows)."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import AutoTokenizer

from ftrepro.infer.loading import load_model
from ftrepro.infer.logits import predict_logits, softmax
from ftrepro.io import DataError, read_jsonl
from ftrepro.papers.band2025.models import (
    PreferenceClassifier,
    PreferenceCollator,
    encode_preference,
    gold_label,
)

log = logging.getLogger(__name__)


def predict_preference(
    model_dir: str | Path, records_path: str | Path, batch_size: int, *, labelled: bool = True
) -> list[dict]:
    """Softmax probabilities over the model's labels for every record of an arena JSONL file;
    `labelled=False` for rows without a gold label (the competition's test rows; none: [])."""
    records = read_jsonl(records_path)
    if not records:
        if labelled:
            raise DataError(f"{records_path}: no records")
        return []
    model = load_model(model_dir)
    if not isinstance(model, PreferenceClassifier):
        raise ValueError(f"{model_dir}: a {type(model).__name__}, not a PreferenceClassifier")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    gold = [{"label": gold_label(r, str(records_path))} if labelled else {} for r in records]
    features = encode_preference(tokenizer, records, model.architecture, model.allocation)
    log.info("predicting %s preferences for %d records of %s", model.architecture, len(records), records_path)
    probs = predict_logits(model, features, PreferenceCollator(tokenizer), batch_size, reduce=softmax)
    return [
        {"id": r["id"], **label, "probs": dict(zip(model.labels, p.tolist()))}
        for r, label, p in zip(records, gold, probs)
    ]
