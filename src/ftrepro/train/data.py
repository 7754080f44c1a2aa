"""Training data as Hugging Face `datasets`, for every Trainer here: derived JSONL splits loaded
as Arrow tables (memory-mapped, not Python lists), tokenized with a batched `.map`, cached.

The cache (resources/cache/datasets, or `FTREPRO_DATASETS_CACHE`) keys each tokenized table of a
split file by a fingerprint of its input (the split file's path and modification time, or
the rows themselves), the tokenizer, the function's arguments and this package's source: jobs that
share a tokenizer and a split tokenize it once, and a code change tokenizes again. `datasets`
alone would hash a function of an installed module by its name, not its code. Rows built in
memory (rendered prompts) are tokenized in memory, uncached.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import datasets
from datasets.fingerprint import Hasher

from ftrepro.io import DataError

log = logging.getLogger(__name__)

CACHE_ENV = "FTREPRO_DATASETS_CACHE"
CACHE_DIR = "resources/cache/datasets"  # relative to the workflow's working directory
# below this many rows a pool of tokenizing processes costs more than it saves
ROWS_PER_PROCESS = 5000


def cache_dir() -> str:
    """Where split tables and tokenized ones are kept."""
    return os.environ.get(CACHE_ENV) or CACHE_DIR


def load_split(path: str | Path) -> datasets.Dataset:
    """A derived JSONL split as an Arrow dataset, converted once (per path and modification time)
    into the cache and memory-mapped from there."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise DataError(f"{path}: no records")
    return datasets.load_dataset("json", data_files=str(path.resolve()), split="train", cache_dir=cache_dir())


def from_rows(rows: Sequence[dict]) -> datasets.Dataset:
    """Rows built in memory (rendered prompts, joined records) as a dataset."""
    if not rows:
        raise DataError("no training examples")
    return datasets.Dataset.from_list(list(rows))


def tokenize(
    dataset: datasets.Dataset,
    function: Callable[..., dict],
    *,
    desc: str,
    with_indices: bool = False,
    batch_size: int = 1000,
    **kwargs,
) -> datasets.Dataset:
    """`dataset.map(function, batched=True)` with `kwargs` bound: the input columns give way to
    what `function` returns. Cached (see the module) when the dataset is a split file's;
    tokenized on the job's CPUs when it is large."""
    cached = bool(dataset.cache_files)
    fingerprint = Hasher.hash([dataset._fingerprint, _source_hash(), function.__qualname__, kwargs])
    return dataset.map(
        functools.partial(function, **kwargs),
        batched=True,
        batch_size=batch_size,
        with_indices=with_indices,
        remove_columns=dataset.column_names,
        num_proc=processes(len(dataset)),
        new_fingerprint=fingerprint,
        load_from_cache_file=cached,
        keep_in_memory=not cached,
        desc=desc,
    )


def rows(batch: dict[str, list]) -> list[dict]:
    """The records of a batch that `.map` hands over as columns."""
    return [dict(zip(batch, values)) for values in zip(*batch.values())]


def columns(features: list[dict]) -> dict[str, list]:
    """Features as the columns `.map` takes back (every feature has the first one's keys)."""
    return {key: [f[key] for f in features] for key in features[0]} if features else {}


def tokenize_split(path: str | Path, function: Callable[..., dict], **kwargs) -> datasets.Dataset:
    """A derived split file through `tokenize`: `function` also gets the file's `path`, for its
    errors (records are numbered from 1 with `with_indices`)."""
    return tokenize(load_split(path), function, desc=f"encoding {path}", path=str(path), **kwargs)


def processes(rows: int) -> int | None:
    """The job's CPUs (its OMP_NUM_THREADS, ftrepro.workflow.limit_threads) for large tables."""
    cpus = int(os.environ.get("OMP_NUM_THREADS") or 1)
    n = min(cpus, rows // ROWS_PER_PROCESS)
    return n if n > 1 else None


@functools.cache
def _source_hash() -> str:
    """One hash of every module of this package: tokenized tables of older code are not reused."""
    package = Path(__file__).resolve().parents[1]
    return Hasher.hash([p.read_bytes() for p in sorted(package.rglob("*.py"))])
