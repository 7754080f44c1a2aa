"""toy2099's scorer: intent accuracy (ftrepro.metrics)."""

from ftrepro.metrics import score_predictions


def score(records, source="predictions"):
    return score_predictions(records, ["intent"], source=source)
