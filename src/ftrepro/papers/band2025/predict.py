"""Predict with a trained PreferenceClassifier: records {"id", "label" (gold), "probs": {A, B, tie}}."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoTokenizer

from ftrepro.io import DataError, read_jsonl
from ftrepro.papers.band2025.models import (
    PreferenceClassifier,
    PreferenceCollator,
    encode_preference,
    gold_label,
)

log = logging.getLogger(__name__)


def predict_preference(model_dir: str | Path, records_path: str | Path, batch_size: int) -> list[dict]:
    """Softmax probabilities over the model's labels for every record of an arena JSONL file."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = PreferenceClassifier.from_pretrained(model_dir).to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    records = read_jsonl(records_path)
    if not records:
        raise DataError(f"{records_path}: no records")
    gold = [gold_label(r, str(records_path)) for r in records]
    features = encode_preference(tokenizer, records, model.architecture, model.allocation)
    collate = PreferenceCollator(tokenizer)
    log.info("predicting %s preferences for %d records of %s", model.architecture, len(records), records_path)
    probs: list[list[float]] = []
    for start in tqdm(range(0, len(features), batch_size), desc="predict", unit="batch"):
        batch = {k: v.to(device) for k, v in collate(features[start : start + batch_size]).items()}
        with torch.inference_mode():
            probs += torch.softmax(model(**batch)["logits"].float(), dim=-1).cpu().tolist()
    return [
        {"id": r["id"], "label": label, "probs": dict(zip(model.labels, p))}
        for r, label, p in zip(records, gold, probs)
    ]
