"""Raw datasets: fetching (sources), synthetic stand-ins (synthetic) and derivation into the
shared JSONL format (newsgroups, massive). Helpers shared by every dataset live here."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence, Sized
from pathlib import Path
from typing import TypeVar

from ftrepro.io import DataError

T = TypeVar("T")

DATASETS = ("20newsgroups", "massive", "superni", "arena")
# classification datasets whose release has a dev split; 20 Newsgroups gets one only when a preset holds
# train rows out (presets.<preset>.data.held_out_dev)
RELEASE_DEV = frozenset({"massive"})
# Subtasks labelled per word (token heads, seqeval); every other subtask labels a whole text.
WORD_SUBTASKS = frozenset({"slots"})
# The word label of a word outside every slot (MASSIVE's derived labels; seqeval's "O").
OUTSIDE = "Other"


def cap_rows(records: Sequence[T], n: int | None, seed: int) -> list[T]:
    """A seeded random sample of `n` records, kept in their original order.

    `n=None` or `n >= len(records)` keeps everything. The sample is the first `n` of one seeded
    permutation, so a smaller cap is a subset of a larger one with the same seed.
    """
    if n is None or n >= len(records):
        return list(records)
    if n < 0:
        raise ValueError(f"cap_rows: n must be >= 0, got {n}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    return [records[i] for i in sorted(order[:n])]


def hold_out(records: Sequence[T], n: int, seed: int) -> tuple[list[T], list[T]]:
    """(the rest, a seeded random sample of `n` records), each in the original order."""
    if not 0 <= n <= len(records):
        raise ValueError(f"hold_out: n must be between 0 and {len(records)}, got {n}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = set(order[:n])
    return [r for i, r in enumerate(records) if i not in held], [records[i] for i in sorted(held)]


# --- what derive refuses ------------------------------------------------------------------------


def check_row_count(path: str | Path, rows: int, pinned: int | None) -> None:
    """A raw file with fewer rows than the pinned release has (config data.hub.<dataset>.rows)
    was cut short: refused, never derived into smaller splits."""
    if pinned is not None and rows < pinned:
        raise DataError(
            f"{path}: {rows:,} rows, fewer than the {pinned:,} of the pinned release (config "
            f"data.hub.<dataset>.rows): the file is incomplete; delete {Path(path).parent} and rerun"
        )


def check_splits(path: str | Path, splits: Mapping[str, Sized]) -> None:
    """Every split of a raw file has rows; an empty one is refused, naming the file."""
    empty = [split for split, rows in splits.items() if not len(rows)]
    if empty:
        counts = ", ".join(f"{split} {len(rows)}" for split, rows in splits.items())
        raise DataError(
            f"{path}: no {' or '.join(empty)} rows (rows per split: {counts}); expected some in each"
        )
