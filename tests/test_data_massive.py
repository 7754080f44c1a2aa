"""MASSIVE derivation: word slot labels (docs/protocols.md 2.1), real counts, capping, bad input."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from ftrepro.data.massive import derive_massive, word_slot_labels
from ftrepro.io import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_GZ = SHARED / "massive" / "en-US.jsonl.gz"

ROW = {
    "id": "7",
    "locale": "en-US",
    "partition": "train",
    "scenario": "alarm",
    "intent": "alarm_set",
    "utt": "wake me up at five am",
    "annot_utt": "wake me up at [time : five am]",
    "worker_id": "1",
}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_rows(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_protocol_example():
    assert word_slot_labels(
        "wake me up at five am this week", "wake me up at [time : five am] [date : this week]"
    ) == ["Other"] * 4 + ["time", "time", "date", "date"]


def test_single_word_spans_adjacent_spans_and_no_spans():
    assert word_slot_labels("play jazz now", "play [music_genre : jazz] now") == [
        "Other",
        "music_genre",
        "Other",
    ]
    assert word_slot_labels("monday tuesday", "[date : monday] [date : tuesday]") == ["date", "date"]
    assert word_slot_labels("tell me a joke", "tell me a joke") == ["Other"] * 4


def test_length_mismatch_names_the_id():
    with pytest.raises(DataError, match="id 42"):
        word_slot_labels("wake me up at five", "wake me up at [time : five am]", record_id="42")


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    if not REAL_GZ.is_file():
        pytest.skip(f"real MASSIVE en-US file not found at {REAL_GZ}")
    out = tmp_path_factory.mktemp("massive")
    raw = out / "en-US.jsonl"
    raw.write_bytes(gzip.decompress(REAL_GZ.read_bytes()))
    assert derive_massive(raw, out, max_rows=None, seed=42) == {"train": 11514, "dev": 2033, "test": 2974}
    return out


def test_real_labels(real):
    labels = json.loads((real / "labels.json").read_text())
    raw = [json.loads(line) for line in (real / "en-US.jsonl").read_text().splitlines()]
    slot_types = {m for r in raw for m in re.findall(r"\[(\w+) :", r["annot_utt"])}  # counted independently
    assert len(labels["intent"]) == 60 and labels["intent"] == sorted({r["intent"] for r in raw})
    assert len(slot_types) == 55 and labels["slots"] == sorted(slot_types | {"Other"})


def test_real_rows_from_the_protocol(real):
    test = {r["id"]: r for r in _read(real / "test.jsonl")}
    train = {r["id"]: r for r in _read(real / "train.jsonl")}
    assert test["0"]["words"] == "wake me up at five am this week".split()
    assert test["0"]["labels"] == {
        "intent": "alarm_set",
        "slots": ["Other"] * 4 + ["time", "time", "date", "date"],
    }
    assert train["1"] == {
        "id": "1",
        "text": "wake me up at nine am on friday",
        "words": ["wake", "me", "up", "at", "nine", "am", "on", "friday"],
        "labels": {"intent": "alarm_set", "slots": ["Other"] * 4 + ["time", "time", "Other", "date"]},
    }
    for split in ("train", "dev", "test"):
        for r in _read(real / f"{split}.jsonl"):
            assert r["words"] == r["text"].split() and len(r["labels"]["slots"]) == len(r["words"])


def test_real_capping_is_a_deterministic_ordered_subset(real, tmp_path):
    raw = real / "en-US.jsonl"
    counts = derive_massive(raw, tmp_path / "a", max_rows={"train": 500, "test": 100}, seed=3)
    derive_massive(raw, tmp_path / "b", max_rows={"train": 500, "test": 100}, seed=3)
    assert counts == {"train": 500, "dev": 2033, "test": 100}
    full_ids = [r["id"] for r in _read(real / "train.jsonl")]
    capped = _read(tmp_path / "a" / "train.jsonl")
    assert capped == _read(tmp_path / "b" / "train.jsonl")
    positions = [full_ids.index(r["id"]) for r in capped]
    assert positions == sorted(positions)
    assert json.loads((tmp_path / "a" / "labels.json").read_text()) == json.loads(
        (real / "labels.json").read_text()
    )


def test_truncated_line_names_file_and_line(tmp_path):
    good = json.dumps(ROW)
    raw = _write_rows(tmp_path / "en-US.jsonl", [good, good, good[: len(good) // 2]])
    with pytest.raises(DataError, match=r"en-US\.jsonl: line 3"):
        derive_massive(raw, tmp_path / "out", max_rows=None, seed=0)
    assert not (tmp_path / "out" / "train.jsonl").exists()


@pytest.mark.parametrize("field", ["id", "partition", "intent", "utt", "annot_utt"])
def test_missing_field_names_file_line_and_field(field, tmp_path):
    broken = {k: v for k, v in ROW.items() if k != field}
    raw = _write_rows(tmp_path / "en-US.jsonl", [json.dumps(ROW), json.dumps(broken)])
    with pytest.raises(DataError, match=rf"en-US\.jsonl: line 2: field '{field}' missing"):
        derive_massive(raw, tmp_path / "out", max_rows=None, seed=0)


def test_bad_partition_and_bad_annotation_name_file_and_line(tmp_path):
    raw = _write_rows(tmp_path / "en-US.jsonl", [json.dumps({**ROW, "partition": "MMNLU-22"})])
    with pytest.raises(DataError, match=r"line 1: field 'partition'"):
        derive_massive(raw, tmp_path / "out", max_rows=None, seed=0)
    raw = _write_rows(tmp_path / "en-US.jsonl", [json.dumps(ROW), json.dumps({**ROW, "utt": "wake me up"})])
    with pytest.raises(DataError, match=r"line 2: field 'annot_utt': id 7"):
        derive_massive(raw, tmp_path / "out", max_rows=None, seed=0)
    raw = _write_rows(tmp_path / "en-US.jsonl", ["[1, 2]"])
    with pytest.raises(DataError, match="line 1: expected a JSON object"):
        derive_massive(raw, tmp_path / "out", max_rows=None, seed=0)
