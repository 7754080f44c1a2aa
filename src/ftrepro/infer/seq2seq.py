"""Predict with a seq2seq model as Tk-Instruct evaluates (protocols.md 1.3): greedy decoding,
`batch_decode(skip_special_tokens=True)` then `.strip()`. Records come back in input order as
{"task", "category", "id", "prediction", "references"}, everything scoring needs."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from ftrepro.models.encoding import SourceText

log = logging.getLogger(__name__)


def predict_seq2seq(
    model_dir: str | Path,
    records: list[dict],
    *,
    instructions: bool,
    batch_size: int,
    max_source_length: int,
    max_new_tokens: int = 128,
    raw_dir: str | Path | None = None,
) -> list[dict]:
    """Generate for every record with the same model input as training (`SourceText`).

    Batches hold sources of similar length (longest first: padding is wasted compute, and an
    out-of-memory error shows at once); the predictions are put back in input order.
    """
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype="auto").to(device).eval()
    source = SourceText(tokenizer, max_source_length, instructions=instructions, raw_dir=raw_dir)
    encodings = [source.encode(record) for record in records]
    order = sorted(range(len(records)), key=lambda i: -len(encodings[i]["input_ids"]))
    log.info("predicting %d records from %s", len(records), model_dir)
    predictions: list[str] = [""] * len(records)
    for start in tqdm(range(0, len(order), batch_size), desc="predict", unit="batch"):
        indices = order[start : start + batch_size]
        batch = tokenizer.pad([encodings[i] for i in indices], return_tensors="pt").to(device)
        with torch.inference_mode():
            output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
        for i, text in zip(indices, tokenizer.batch_decode(output, skip_special_tokens=True), strict=True):
            predictions[i] = text.strip()
    return [
        {
            "task": r["task"],
            "category": r["category"],
            "id": r["id"],
            "prediction": p,
            "references": r["references"],
        }
        for r, p in zip(records, predictions, strict=True)
    ]
