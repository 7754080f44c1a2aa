"""Training data as `datasets`: split files become memory-mapped Arrow tables, tokenized once per
tokenizer, split and arguments (the cache), in a pool of processes only when large."""

from __future__ import annotations

import os

import datasets
import pytest

from ftrepro.io import DataError, write_jsonl
from ftrepro.train.data import columns, load_split, processes, rows, tokenize

CALLS: list[int] = []


def lengths(batch: dict, scale: int) -> dict:
    CALLS.append(len(batch["text"]))
    return {"length": [scale * len(text) for text in batch["text"]]}


def test_a_split_is_tokenized_once_per_arguments_and_file_version(tmp_path, datasets_cache):
    split = tmp_path / "train.jsonl"
    write_jsonl(split, [{"id": str(i), "text": "x" * i} for i in range(5)])
    CALLS.clear()
    first = tokenize(load_split(split), lengths, desc="lengths", scale=2)
    assert first["length"] == [0, 2, 4, 6, 8] and CALLS == [5]
    assert all(f["filename"].startswith(str(datasets_cache)) for f in first.cache_files)  # memory-mapped
    again = tokenize(load_split(split), lengths, desc="lengths", scale=2)  # another job, same inputs
    assert again["length"] == first["length"] and CALLS == [5]
    assert tokenize(load_split(split), lengths, desc="lengths", scale=3)["length"][1] == 3
    write_jsonl(split, [{"id": "0", "text": "xyz"}])
    os.utime(split, ns=(10**18, 10**18))  # a rewritten split file is tokenized again
    assert tokenize(load_split(split), lengths, desc="lengths", scale=2)["length"] == [6]
    assert CALLS == [5, 5, 1]


def test_an_empty_split_is_an_error_naming_it(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="empty.jsonl: no records"):
        load_split(tmp_path / "empty.jsonl")


def test_large_tables_are_tokenized_on_the_jobs_cpus(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert processes(100_000) == 4 and processes(12_000) == 2 and processes(3_000) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert processes(100_000) is None


def test_rows_and_columns_are_inverse():
    batch = {"a": [1, 2], "b": ["x", "y"]}
    assert rows(batch) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert columns(rows(batch)) == batch and isinstance(datasets.Dataset.from_dict(batch), datasets.Dataset)
