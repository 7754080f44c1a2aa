"""Arena derivation: record schema, labels, stratified seeded split, malformed-row report, caps."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from ftrepro.data.arena import COLUMNS, derive_arena
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import DataError

N_ROWS = 300
RECORD_KEYS = {"id", "model_a", "model_b", "prompt", "response_a", "response_b", "label"}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _raw_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_rows(path: Path, rows: list[dict], columns=COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(
    row_id: str, winners=("1", "0", "0"), prompt='["hi"]', response_a='["a"]', response_b='["b"]'
) -> dict:
    return {
        "id": row_id,
        "model_a": "m1",
        "model_b": "m2",
        "prompt": prompt,
        "response_a": response_a,
        "response_b": response_b,
        "winner_model_a": winners[0],
        "winner_model_b": winners[1],
        "winner_tie": winners[2],
    }


@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory) -> Path:
    return write_synthetic_raw("arena", tmp_path_factory.mktemp("raw"), seed=7, n_rows=N_ROWS)[0]


@pytest.fixture(scope="module")
def derived(raw_csv, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("arena")
    return out, derive_arena(raw_csv, out, seed=42)


def test_records_decode_the_raw_rows(raw_csv, derived):
    out, counts = derived
    expected_label = {("1", "0", "0"): "A", ("0", "1", "0"): "B", ("0", "0", "1"): "tie"}
    raw = {r["id"]: r for r in _raw_rows(raw_csv)}
    records = _read(out / "train.jsonl") + _read(out / "dev.jsonl") + _read(out / "test.jsonl")
    assert counts["rows_read"] == N_ROWS and len(records) == N_ROWS
    assert sorted(r["id"] for r in records) == sorted(raw)
    for record in records:
        row = raw[record["id"]]
        assert set(record) == RECORD_KEYS
        assert record["model_a"] == row["model_a"] and record["model_b"] == row["model_b"]
        for column in ("prompt", "response_a", "response_b"):
            assert record[column] == [t if t is not None else "" for t in json.loads(row[column])]
        assert (
            record["label"] == expected_label[row["winner_model_a"], row["winner_model_b"], row["winner_tie"]]
        )
    assert json.loads((out / "labels.json").read_text()) == {"label": ["A", "B", "tie"]}


def test_null_turns_become_empty_strings_and_ids_stay_strings(tmp_path):
    raw = _write_rows(
        tmp_path / "train.csv",
        [
            _row(
                f"0{i}",
                winners=("0", "0", "1") if i % 2 else ("0", "1", "0"),
                response_a='["first", null]',
                prompt='["q1", "q2"]',
            )
            for i in range(20)
        ],
    )
    derive_arena(raw, tmp_path / "out", seed=0)
    records = [r for s in ("train", "dev", "test") for r in _read(tmp_path / "out" / f"{s}.jsonl")]
    assert {r["id"] for r in records} == {f"0{i}" for i in range(20)}  # "00" not 0
    assert all(r["response_a"] == ["first", ""] for r in records)
    assert Counter(r["label"] for r in records) == {"B": 10, "tie": 10}


def test_split_sizes_stratification_and_file_order(raw_csv, derived):
    out, counts = derived
    file_order = {r["id"]: i for i, r in enumerate(_raw_rows(raw_csv))}
    splits = {s: _read(out / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert abs(len(splits["dev"]) - 0.1 * N_ROWS) <= 1 and abs(len(splits["test"]) - 0.1 * N_ROWS) <= 1
    assert counts["rows"] == {s: len(rows) for s, rows in splits.items()}
    overall = Counter(r["label"] for rows in splits.values() for r in rows)
    for split, rows in splits.items():
        labels = Counter(r["label"] for r in rows)
        assert counts["labels"][split] == {label: labels[label] for label in ("A", "B", "tie")}
        for label, n in overall.items():
            assert abs(labels[label] - n / N_ROWS * len(rows)) <= 1, (split, label)
        positions = [file_order[r["id"]] for r in rows]
        assert positions == sorted(positions)


def test_split_is_deterministic_for_a_seed_and_differs_for_another(raw_csv, derived, tmp_path):
    out, _ = derived
    derive_arena(raw_csv, tmp_path / "same", seed=42)
    derive_arena(raw_csv, tmp_path / "other", seed=43)
    for split in ("train", "dev", "test"):
        assert (tmp_path / "same" / f"{split}.jsonl").read_bytes() == (out / f"{split}.jsonl").read_bytes()
    ids = {
        name: {r["id"] for r in _read(d / "dev.jsonl")}
        for name, d in (("42", out), ("43", tmp_path / "other"))
    }
    assert ids["42"] != ids["43"]


def test_malformed_rows_are_reported_by_id_and_left_out(raw_csv, tmp_path):
    bad = {
        "bad-json": _row("bad-json", prompt='["unclosed'),
        "two-winners": _row("two-winners", winners=("1", "1", "0")),
        "no-winner": _row("no-winner", winners=("0", "0", "0")),
        "not-a-list": _row("not-a-list", response_b='{"turn": "x"}'),
        "int-turn": _row("int-turn", response_a='["ok", 3]'),
        "winner-2": _row("winner-2", winners=("2", "0", "0")),
    }
    rows = _raw_rows(raw_csv)
    rows[10:10] = bad.values()
    rows.append(dict(rows[0]))  # a second row with the first row's id
    raw = _write_rows(tmp_path / "train.csv", rows)
    counts = derive_arena(raw, tmp_path / "out", seed=1)
    expected = {
        "bad-json": "invalid_json",
        "two-winners": "several_winners",
        "no-winner": "no_winner",
        "not-a-list": "not_a_list_of_strings",
        "int-turn": "not_a_list_of_strings",
        "winner-2": "bad_winner_value",
        rows[0]["id"]: "duplicate_id",
    }
    assert counts["rows_read"] == len(rows)
    assert counts["malformed"] == {
        "invalid_json": 1,
        "not_a_list_of_strings": 2,
        "bad_winner_value": 1,
        "no_winner": 1,
        "several_winners": 1,
        "duplicate_id": 1,
    }
    report = (tmp_path / "out" / "malformed_rows.md").read_text()
    table = [
        line.split("|")[1:3] for line in report.splitlines() if line.startswith("| ") and "|" in line[2:]
    ]
    listed = {cells[0].strip(): cells[1].strip() for cells in table if cells[0].strip() in expected}
    assert listed == expected
    assert "7 of 307 rows were left out" in report
    kept = [r["id"] for s in ("train", "dev", "test") for r in _read(tmp_path / "out" / f"{s}.jsonl")]
    assert len(kept) == N_ROWS and not set(bad) & set(kept) and kept.count(rows[0]["id"]) == 1


def test_clean_input_reports_no_malformed_rows(derived):
    out, counts = derived
    assert set(counts["malformed"].values()) == {0}
    assert f"0 of {N_ROWS} rows were left out" in (out / "malformed_rows.md").read_text()


def test_missing_column_names_file_and_column(tmp_path):
    raw = _write_rows(tmp_path / "train.csv", [_row("1")], columns=[c for c in COLUMNS if c != "winner_tie"])
    with pytest.raises(DataError, match=r"train\.csv: missing column\(s\) \['winner_tie'\]"):
        derive_arena(raw, tmp_path / "out")
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_unparseable_csv_names_file_and_line(tmp_path):
    raw = _write_rows(tmp_path / "train.csv", [_row("1"), _row("2")])
    raw.write_text(raw.read_text() + "3,m1,m2,x,y,z,1,0,0,extra\n")
    with pytest.raises(DataError, match=r"train\.csv: not a readable CSV file: .*line 4"):
        derive_arena(raw, tmp_path / "out")


def test_caps_are_ordered_subsets_of_each_split(raw_csv, derived, tmp_path):
    out, _ = derived
    caps = {"train": 50, "dev": 7, "test": 5, "validation": 3}  # a split the arena lacks is ignored
    counts = derive_arena(raw_csv, tmp_path / "capped", max_rows=caps, seed=42)
    assert counts["rows"] == {"train": 50, "dev": 7, "test": 5}
    for split in ("train", "dev", "test"):
        full = [r["id"] for r in _read(out / f"{split}.jsonl")]
        capped = _read(tmp_path / "capped" / f"{split}.jsonl")
        positions = [full.index(r["id"]) for r in capped]
        assert positions == sorted(positions) and len(positions) == caps[split]
        assert sum(counts["labels"][split].values()) == caps[split]


# --- train / dev / test (issue 24: scored on rows no run selected on) ---------------------------


def test_train_dev_and_test_are_disjoint_stratified_and_sized_by_the_config(raw_csv, tmp_path):
    counts = derive_arena(raw_csv, tmp_path / "out", splits={"dev": 0.2, "test": 0.1}, seed=42)
    splits = {s: _read(tmp_path / "out" / f"{s}.jsonl") for s in ("train", "dev", "test")}
    ids = {s: {r["id"] for r in rows} for s, rows in splits.items()}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
    assert len(ids["train"] | ids["dev"] | ids["test"]) == N_ROWS
    assert counts["rows"] == {"train": 210, "dev": 60, "test": 30}
    overall = Counter(r["label"] for rows in splits.values() for r in rows)
    for split, rows in splits.items():
        labels = Counter(r["label"] for r in rows)
        for label, n in overall.items():
            assert abs(labels[label] - n / N_ROWS * len(rows)) <= 1, (split, label)


def test_the_competitions_test_rows_are_read_without_labels(raw_csv, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "train.csv").write_bytes(raw_csv.read_bytes())
    counts = derive_arena(raw / "train.csv", tmp_path / "none")
    assert counts["competition_test"] == 0 and _read(tmp_path / "none" / "competition_test.jsonl") == []
    (raw / "test.csv").write_text(
        'id,prompt,response_a,response_b\n136060,"[""hi""]","[""a"", null]","[""b""]"\n', encoding="utf-8"
    )
    counts = derive_arena(raw / "train.csv", tmp_path / "out")
    assert counts["competition_test"] == 1
    assert _read(tmp_path / "out" / "competition_test.jsonl") == [
        {"id": "136060", "prompt": ["hi"], "response_a": ["a", ""], "response_b": ["b"]}
    ]
    (raw / "test.csv").write_text('id,prompt,response_a,response_b\n7,"[""unclosed",x,y\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.csv: row id '7': invalid_json"):
        derive_arena(raw / "train.csv", tmp_path / "bad")
