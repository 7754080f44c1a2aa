"""Scoring a run: its predictions.jsonl (gold labels included) -> the metrics.json dict, by the
scorer its paper registers (ftrepro.jobs.Paper.scorer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftrepro.io import DataError, read_jsonl
from ftrepro.metrics import Bootstrap

Scorer = Callable[..., dict]  # (prediction records, source=..., bootstrap=...) -> metrics


def score_run(scorer: Scorer, predictions_path: str | Path, bootstrap: Bootstrap | None = None) -> dict:
    """With a `bootstrap` (the pipeline's: config stats), every metric gets its interval."""
    records = read_jsonl(predictions_path)
    if not records:
        raise DataError(f"{predictions_path}: no predictions")
    return scorer(records, source=str(predictions_path), bootstrap=bootstrap)
