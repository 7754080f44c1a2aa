"""toy2099's scorer: intent accuracy (ftrepro.metrics), with its interval given a bootstrap."""

from ftrepro.metrics import score_predictions


def score(records, source="predictions", bootstrap=None):
    return score_predictions(records, ["intent"], source=source, bootstrap=bootstrap)
