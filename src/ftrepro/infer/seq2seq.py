"""Predict with a seq2seq model as Tk-Instruct evaluates (docs/protocols.md 1.3): greedy decoding,
`batch_decode(skip_special_tokens=True)` then `.strip()`. Records come back in input order as
{"task", "category", "id", "prediction", "references"}, everything scoring needs."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from ftrepro.data.superni import DEF_POS
from ftrepro.infer.causal import greedy_outputs
from ftrepro.infer.loading import load_model
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
    prompt: str = DEF_POS,
) -> list[dict]:
    """Generate for every record with the same model input as training (`SourceText` with
    `prompt`), with the one generation loop (ftrepro.infer.causal.greedy_outputs)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = load_model(model_dir, AutoModelForSeq2SeqLM)
    source = SourceText(
        tokenizer, max_source_length, instructions=instructions, raw_dir=raw_dir, prompt=prompt
    )
    inputs = [source.encode(record)["input_ids"] for record in records]
    log.info("predicting %d records from %s", len(records), model_dir)
    predictions = greedy_outputs(model, tokenizer, inputs, max_new_tokens, batch_size)
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
