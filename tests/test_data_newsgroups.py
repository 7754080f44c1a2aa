"""20 Newsgroups derivation: real counts and labels, order, capping, stripping, bad archives."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from ftrepro.data import cap_rows
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.io import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_TAR = SHARED / "20newsgroups" / "20news-bydate.tar.gz"

POST = (
    "From: ann@cs.cmu.edu (Ann Lee)\nSubject: Re: orbit\nLines: 7\n\n"
    "In article <bob@mit.edu> bob@mit.edu writes:\n> the moon is far.\n"
    "the shuttle reached orbit.\nnasa says so.\n\n-- \nAnn Lee\n"
)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    if not REAL_TAR.is_file():
        pytest.skip(f"real 20 Newsgroups archive not found at {REAL_TAR}")
    out = tmp_path_factory.mktemp("ng")
    assert derive_newsgroups(REAL_TAR, out, max_rows=None, seed=42) == {"train": 11314, "test": 7532}
    return out


def test_real_counts_and_labels(real):
    labels = json.loads((real / "labels.json").read_text())
    assert len(labels["20class"]) == 20 and labels["7class"] == [
        "alt",
        "comp",
        "misc",
        "rec",
        "sci",
        "soc",
        "talk",
    ]
    # per-root counts straight from the archive's member names
    with tarfile.open(REAL_TAR, "r:gz") as tar:
        names = [m.name.split("/") for m in tar if m.isfile()]
    for split in ("train", "test"):
        expected = Counter(group.split(".")[0] for top, group, _ in names if top == f"20news-bydate-{split}")
        records = _read(real / f"{split}.jsonl")
        assert Counter(r["labels"]["7class"] for r in records) == expected
        assert all(r["labels"]["7class"] == r["labels"]["20class"].split(".")[0] for r in records)
        assert len({r["labels"]["20class"] for r in records}) == 20


def test_real_records_are_ordered_by_group_then_numeric_id_and_keep_headers(real):
    records = _read(real / "train.jsonl")
    keys = [(r["id"].split("/")[1], int(r["id"].split("/")[2])) for r in records]
    assert keys == sorted(keys)
    assert records[0]["id"] == "train/alt.atheism/49960"
    assert all("Subject:" in r["text"].partition("\n\n")[0] for r in records)  # headers kept
    with tarfile.open(REAL_TAR, "r:gz") as tar:
        member = tar.extractfile("20news-bydate-train/alt.atheism/49960").read()
    assert records[0]["text"] == member.decode("latin-1")


def test_real_matches_the_shared_jsonl_reconstruction(real):
    reference = SHARED / "20newsgroups" / "20news-bydate.jsonl.gz"
    if not reference.is_file():
        pytest.skip(f"{reference} not found")
    with gzip.open(reference, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for split in ("train", "test"):
        expected = [
            (f"{split}/{r['label_name']}/{r['doc_id']}", r["text"]) for r in rows if r["split"] == split
        ]
        assert [(r["id"], r["text"]) for r in _read(real / f"{split}.jsonl")] == expected


def test_real_capping_is_a_deterministic_ordered_subset(real, tmp_path):
    full = _read(real / "train.jsonl")
    counts = derive_newsgroups(REAL_TAR, tmp_path / "a", max_rows={"train": 300}, seed=5)
    derive_newsgroups(REAL_TAR, tmp_path / "b", max_rows={"train": 300}, seed=5)
    assert counts == {"train": 300, "test": 7532}
    capped = _read(tmp_path / "a" / "train.jsonl")
    assert capped == _read(tmp_path / "b" / "train.jsonl")
    positions = [full.index(r) for r in capped]
    assert positions == sorted(positions)
    # labels.json describes the uncapped data
    assert json.loads((tmp_path / "a" / "labels.json").read_text()) == json.loads(
        (real / "labels.json").read_text()
    )
    derive_newsgroups(REAL_TAR, tmp_path / "c", max_rows={"train": 300}, seed=6)
    assert _read(tmp_path / "c" / "train.jsonl") != capped


def test_cap_rows():
    rows = list(range(50))
    assert cap_rows(rows, None, 1) == rows and cap_rows(rows, 80, 1) == rows
    small, large = cap_rows(rows, 10, 3), cap_rows(rows, 20, 3)
    assert len(small) == 10 and small == sorted(small) and set(small) <= set(large)
    assert cap_rows(rows, 10, 3) == small and cap_rows(rows, 10, 4) != small
    with pytest.raises(ValueError):
        cap_rows(rows, -1, 0)


def test_remove_strips_like_scikit_learn(tmp_path):
    raw = _tar(
        tmp_path / "ng.tar.gz",
        {
            "20news-bydate-train/sci.space/61000": POST.encode("latin-1"),
            "20news-bydate-test/sci.space/62000": "From: x\n\ncaf\xe9 au lait\n".encode("latin-1"),
        },
    )
    derive_newsgroups(raw, tmp_path / "kept", max_rows=None, seed=0)
    assert _read(tmp_path / "kept" / "train.jsonl")[0]["text"] == POST
    assert _read(tmp_path / "kept" / "test.jsonl")[0]["text"] == "From: x\n\ncafé au lait\n"
    derive_newsgroups(raw, tmp_path / "bare", max_rows=None, seed=0, remove=("headers", "footers", "quotes"))
    assert (
        _read(tmp_path / "bare" / "train.jsonl")[0]["text"] == "the shuttle reached orbit.\nnasa says so.\n"
    )
    derive_newsgroups(raw, tmp_path / "noquote", max_rows=None, seed=0, remove=("quotes",))
    assert "writes:" not in _read(tmp_path / "noquote" / "train.jsonl")[0]["text"]
    with pytest.raises(ValueError, match="signatures"):
        derive_newsgroups(raw, tmp_path / "x", max_rows=None, seed=0, remove=("signatures",))
    # a preset caps every dataset at once: a cap of a split 20NG lacks changes nothing
    capped_dev = derive_newsgroups(raw, tmp_path / "dev", max_rows={"dev": 1}, seed=0)
    assert capped_dev == derive_newsgroups(raw, tmp_path / "all", max_rows=None, seed=0)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not_gzip"])
def test_corrupt_archive_is_a_data_error_naming_the_file(damage, tmp_path):
    good = _tar(
        tmp_path / "good.tar.gz",
        {f"20news-bydate-train/sci.space/{i}": POST.encode() * 50 for i in range(20)},
    )
    data = good.read_bytes()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "garbage": data[:20] + bytes(range(256)) * 4 + data[1044:],
            "not_gzip": b"this is not an archive\n" * 10,
        }[damage]
    )
    with pytest.raises(DataError, match="bad.tar.gz"):
        derive_newsgroups(bad, tmp_path / "out", max_rows=None, seed=0)
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_unexpected_layout_is_a_data_error(tmp_path):
    raw = _tar(tmp_path / "odd.tar.gz", {"20news-bydate-train/sci.space/1": b"x", "README": b"hello"})
    with pytest.raises(DataError, match="odd.tar.gz.*README"):
        derive_newsgroups(raw, tmp_path / "out", max_rows=None, seed=0)
    raw = _tar(tmp_path / "half.tar.gz", {"20news-bydate-train/sci.space/1": b"x"})
    with pytest.raises(DataError, match="half.tar.gz.*test"):
        derive_newsgroups(raw, tmp_path / "out", max_rows=None, seed=0)
