"""Scoring a run: its predictions.jsonl (gold labels included) -> the metrics.json dict, by the
scorer its paper registers (ftrepro.jobs.Paper.scorer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftrepro.io import DataError, read_jsonl

Scorer = Callable[..., dict]  # (prediction records, source=...) -> metrics


def score_run(scorer: Scorer, predictions_path: str | Path) -> dict:
    records = read_jsonl(predictions_path)
    if not records:
        raise DataError(f"{predictions_path}: no predictions")
    return scorer(records, source=str(predictions_path))
