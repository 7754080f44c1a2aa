"""Scoring a run: its predictions.jsonl (gold labels included) -> the metrics.json dict."""

from __future__ import annotations

from pathlib import Path

from ftrepro.io import DataError, read_jsonl
from ftrepro.metrics import (
    Bootstrap,
    score_predictions,
    score_preference_predictions,
    score_superni_predictions,
)


def score_run(paper: str, predictions_path: str | Path, bootstrap: Bootstrap | None = None) -> dict:
    """With a `bootstrap` (the pipeline's: config stats), every metric gets its interval."""
    records = read_jsonl(predictions_path)
    if not records:
        raise DataError(f"{predictions_path}: no predictions")
    source = str(predictions_path)
    if paper == "zhao2025":
        return score_predictions(records, list(records[0]["gold"]), source=source, bootstrap=bootstrap)
    if paper == "gupta2023":
        return score_superni_predictions(records, source=source, bootstrap=bootstrap)
    if paper == "band2025":
        return score_preference_predictions(records, source=source, bootstrap=bootstrap)
    raise ValueError(f"unknown paper {paper!r}: expected zhao2025, gupta2023 or band2025")
