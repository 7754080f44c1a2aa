"""Scoring time with the 95% bootstrap intervals against the same scoring without them (issue 25).

Cases, each a metrics.json as the score rule makes it (ftrepro.metrics.score_predictions):
- MASSIVE joint (intent accuracy, slot precision / recall / F1 by seqeval, exact match) on the
  whole test split, 2,974 utterances: the real gold from ../shared/data when present, else
  synthetic utterances of the same count;
- 20NG joint (20- and 7-class accuracy) on 7,532 documents, the size of the whole test split.
Predictions are a seeded corruption of the gold (85% of labels and 95% of words right), so the
scores are realistic.
The baseline, measured in the same run, is the same call without a bootstrap: the difference is
what the intervals cost.

    python benchmarks/scoring.py [--repeats 3] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import tempfile
import time
from pathlib import Path

from _common import REPO

from ftrepro.data import OUTSIDE
from ftrepro.data.massive import read_massive
from ftrepro.metrics import Bootstrap, score_predictions

SHARED = REPO.parent / "shared" / "data"
MASSIVE_TEST, NEWSGROUPS_TEST = 2974, 7532
SLOTS = ["date", "time", "place_name", "person", "event_name", "device_type"]


def massive_gold() -> tuple[list[dict], str]:
    """[{"intent", "slots"}] of the MASSIVE test split, and where it came from."""
    raw = SHARED / "massive" / "en-US.jsonl.gz"
    if raw.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "en-US.jsonl"
            plain.write_bytes(gzip.decompress(raw.read_bytes()))
            return [r["labels"] for r in read_massive(plain)["test"]], "real test split"
    rng = random.Random(1)
    gold = []
    for _ in range(MASSIVE_TEST):
        words = rng.randint(3, 12)
        gold.append(
            {
                "intent": f"intent_{rng.randrange(60)}",
                "slots": [rng.choice(SLOTS) if rng.random() < 0.3 else OUTSIDE for _ in range(words)],
            }
        )
    return gold, "synthetic utterances (no ../shared/data/massive)"


def corrupted(gold: dict, rng: random.Random) -> dict:
    """A prediction that is right 85% of the time per label and 95% per word."""
    pred = {}
    for subtask, value in gold.items():
        if isinstance(value, list):
            pred[subtask] = [w if rng.random() < 0.95 else rng.choice([*SLOTS, OUTSIDE]) for w in value]
        else:
            pred[subtask] = value if rng.random() < 0.85 else f"{value}_wrong"
    return pred


def records(golds: list[dict], seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": str(i), "gold": g, "pred": corrupted(g, rng)} for i, g in enumerate(golds)]


def newsgroups_gold() -> list[dict]:
    rng = random.Random(2)
    labels = [(rng.randrange(20), rng.randrange(7)) for _ in range(NEWSGROUPS_TEST)]
    return [{"20class": f"group{a}", "7class": f"super{b}"} for a, b in labels]


def median_seconds(rows: list[dict], subtasks: list[str], bootstrap: Bootstrap | None, repeats: int) -> float:
    """Median wall time of scoring `rows` (with intervals when `bootstrap` is given)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        score_predictions(rows, subtasks, bootstrap=bootstrap)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    bootstrap = Bootstrap(resamples=args.resamples, seed=0)
    massive, source = massive_gold()
    cases = {
        f"MASSIVE intent + slots ({source})": (records(massive), ["intent", "slots"]),
        "20NG 20- and 7-class accuracy (synthetic labels)": (
            records(newsgroups_gold()),
            ["20class", "7class"],
        ),
    }
    print(f"median of {args.repeats} runs; bootstrap: {args.resamples} resamples\n")
    print("| case | rows | without intervals (baseline) | with intervals | added |")
    print("|---|---:|---:|---:|---:|")
    for name, (rows, subtasks) in cases.items():
        before = median_seconds(rows, subtasks, None, args.repeats)
        after = median_seconds(rows, subtasks, bootstrap, args.repeats)
        print(f"| {name} | {len(rows):,} | {before:.2f} s | {after:.2f} s | +{after - before:.2f} s |")
    metrics = score_predictions(*cases[next(iter(cases))], bootstrap=bootstrap)
    low, high = metrics["ci"]["slots_f1"]
    print(f"\nMASSIVE slot F1 {metrics['slots_f1']:.2f}, 95% interval [{low:.2f}, {high:.2f}]")


if __name__ == "__main__":
    main()
