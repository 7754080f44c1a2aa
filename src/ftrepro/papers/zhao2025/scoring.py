"""zhao2025's scorer (its PAPER.scorer): a run's subtasks are those its records carry gold for."""

from __future__ import annotations

from collections.abc import Sequence

from ftrepro.metrics import Bootstrap, score_predictions


def score(records: Sequence[dict], source: str = "predictions", bootstrap: Bootstrap | None = None) -> dict:
    return score_predictions(records, list(records[0]["gold"]), source=source, bootstrap=bootstrap)
