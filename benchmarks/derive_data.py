"""Derivation wall time per dataset, from raw files to the derived JSONL (goals: SuperNI at full
size < 60 s; 20NG and MASSIVE < 10 s each).

Inputs: the real 20NG and MASSIVE copies in ../shared/data when present (synthetic otherwise),
synthetic SuperNI of the real size (119 test tasks with ~375k train instances, 756 train tasks)
and synthetic arena data of the real row count (57,477). Baseline in the same run: reading and
parsing the same raw files only, so the figure splits into parsing and our derivation work.

    python benchmarks/derive_data.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from _common import REPO

from ftrepro.data.arena import derive_arena
from ftrepro.data.massive import derive_massive, read_massive
from ftrepro.data.newsgroups import derive_newsgroups, read_newsgroups_tar
from ftrepro.data.superni import derive_superni, read_split, read_task
from ftrepro.data.synthetic import SUPERNI_REAL_SIZE, write_synthetic_raw

SHARED = REPO.parent / "shared" / "data"
ARENA_ROWS = 57_477
GOALS_S = {"20newsgroups": 10, "massive": 10, "superni": 60, "arena": None}


def raw_inputs(root: Path) -> dict[str, tuple[Path, str]]:
    """{dataset: (raw path, where it came from)}, written under `root`."""
    inputs = {}
    tar = SHARED / "20newsgroups" / "20news-bydate.tar.gz"
    if tar.is_file():
        inputs["20newsgroups"] = (tar, "real copy")
    else:
        write_synthetic_raw("20newsgroups", root / "20newsgroups", seed=1)
        inputs["20newsgroups"] = (root / "20newsgroups" / "20news-bydate.tar.gz", "synthetic (no real copy)")
    massive = root / "massive" / "en-US.jsonl"
    if (SHARED / "massive" / "en-US.jsonl.gz").is_file():
        massive.parent.mkdir(parents=True)
        with gzip.open(SHARED / "massive" / "en-US.jsonl.gz", "rb") as f, open(massive, "wb") as out:
            shutil.copyfileobj(f, out)
        inputs["massive"] = (massive, "real copy")
    else:
        write_synthetic_raw("massive", root / "massive", seed=1)
        inputs["massive"] = (massive, "synthetic (no real copy)")
    write_synthetic_raw("superni", root / "superni", seed=1, **SUPERNI_REAL_SIZE)
    inputs["superni"] = (root / "superni", "synthetic, real size")
    write_synthetic_raw("arena", root / "arena", seed=1, n_rows=ARENA_ROWS)
    inputs["arena"] = (root / "arena" / "train.csv", f"synthetic, {ARENA_ROWS:,} rows")
    return inputs


def derivations(out: Path) -> dict[str, tuple[Callable[[Path], object], Callable[[Path], object]]]:
    """{dataset: (derive from raw, read the raw only)}."""
    return {
        "20newsgroups": (lambda raw: derive_newsgroups(raw, out / "20newsgroups"), read_newsgroups_tar),
        "massive": (lambda raw: derive_massive(raw, out / "massive"), read_massive),
        "superni": (
            lambda raw: derive_superni(raw, out / "superni", test_tasks=read_split(raw, "test")),
            lambda raw: [read_task(p) for p in sorted((raw / "tasks").glob("*.json"))],
        ),
        "arena": (
            lambda raw: derive_arena(raw, out / "arena"),
            lambda raw: pd.read_csv(raw, dtype=str, keep_default_na=False),
        ),
    }


def median_seconds(fn: Callable[[Path], object], raw: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ftrepro-bench-data-"))
    print("writing inputs ...", flush=True)
    inputs = raw_inputs(root / "raw")
    print(f"{'dataset':<14}{'derive s':>10}{'read only s':>13}{'goal s':>8}  input")
    for dataset, (derive, read) in derivations(root / "derived").items():
        raw, origin = inputs[dataset]
        derive_s = median_seconds(derive, raw, args.repeats)
        read_s = median_seconds(read, raw, args.repeats)
        goal = GOALS_S[dataset]
        verdict = "" if goal is None else ("  ok" if derive_s < goal else "  MISSED")
        print(f"{dataset:<14}{derive_s:>10.2f}{read_s:>13.2f}{goal or '-':>8}  {origin}{verdict}", flush=True)
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
