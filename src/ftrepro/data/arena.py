"""LMSYS Chatbot Arena (Kaggle train.csv) -> a seeded, label-stratified train/validation split.

`prompt`, `response_a` and `response_b` are JSON lists with one string per turn (null possible,
protocols.md section 4). Rows that cannot be read are listed in `malformed_rows.md` rather than
dropped silently or failing the whole derivation.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ftrepro.data import cap_rows, check_row_count, check_splits
from ftrepro.io import DataError, atomic_path, write_json, write_jsonl

SPLITS = ("train", "validation")
LABELS = ("A", "B", "tie")
TURN_COLUMNS = ("prompt", "response_a", "response_b")
WINNER_COLUMNS = {"winner_model_a": "A", "winner_model_b": "B", "winner_tie": "tie"}
COLUMNS = ("id", "model_a", "model_b", *TURN_COLUMNS, *WINNER_COLUMNS)
# Reasons a row is left out, as named in malformed_rows.md and in the returned counts.
MALFORMED_REASONS = (
    "invalid_json",
    "not_a_list_of_strings",
    "bad_winner_value",
    "no_winner",
    "several_winners",
    "duplicate_id",
)


class MalformedRow(Exception):
    """One row that cannot enter the splits; `reason` is one of MALFORMED_REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def decode_turns(column: str, text: str) -> list[str]:
    """The turns of one JSON-list cell, null turns as ""; anything else raises MalformedRow."""
    try:
        turns = json.loads(text)
    except json.JSONDecodeError as e:
        raise MalformedRow("invalid_json", f"{column}: {e}") from e
    if not isinstance(turns, list):
        raise MalformedRow("not_a_list_of_strings", f"{column}: a JSON {type(turns).__name__}")
    for i, turn in enumerate(turns):
        if turn is not None and not isinstance(turn, str):
            raise MalformedRow("not_a_list_of_strings", f"{column}: turn {i} is a JSON {type(turn).__name__}")
    return ["" if turn is None else turn for turn in turns]


def winner_label(row: dict[str, str]) -> str:
    """A / B / tie from the one-hot winner columns; anything but exactly one "1" raises MalformedRow."""
    values = {column: row[column] for column in WINNER_COLUMNS}
    detail = ", ".join(f"{column}={value!r}" for column, value in values.items())
    if not set(values.values()) <= {"0", "1"}:
        raise MalformedRow("bad_winner_value", detail)
    winners = [label for column, label in WINNER_COLUMNS.items() if values[column] == "1"]
    if len(winners) != 1:
        raise MalformedRow("no_winner" if not winners else "several_winners", detail)
    return winners[0]


def arena_record(row: dict[str, str]) -> dict:
    """The shared-format record of one raw row (all cells strings); raises MalformedRow."""
    turns = {column: decode_turns(column, row[column]) for column in TURN_COLUMNS}
    return {
        "id": row["id"],
        "model_a": row["model_a"],
        "model_b": row["model_b"],
        **turns,
        "label": winner_label(row),
    }


def read_arena_csv(raw_csv: Path) -> pd.DataFrame:
    """Every cell as a string exactly as written (ids like "007" and empty cells survive)."""
    try:
        frame = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{raw_csv}: not a readable CSV file: {e}") from e
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"{raw_csv}: missing column(s) {missing}; expected {list(COLUMNS)}")
    return frame


def read_arena(raw_csv: Path) -> tuple[list[dict], list[tuple[str, str, str]], int]:
    """(records in file order, malformed rows as (id, reason, detail), rows read). A file whose
    last row is malformed and has no line end was cut inside that row: DataError."""
    frame = read_arena_csv(raw_csv)
    records, malformed, seen = [], [], set()
    for n, row in enumerate(frame[list(COLUMNS)].to_dict("records"), start=1):
        try:
            if row["id"] in seen:
                raise MalformedRow("duplicate_id", "an earlier row has this id")
            seen.add(row["id"])
            records.append(arena_record(row))
        except MalformedRow as e:
            malformed.append((row["id"], e.reason, e.detail))
            if n == len(frame) and not _ends_with_line_end(raw_csv):
                raise DataError(
                    f"{raw_csv}: ends inside row {n} (id {row['id']!r}, {e}): the file was cut "
                    f"short; delete {raw_csv.parent} and rerun"
                ) from e
    return records, malformed, len(frame)


def _ends_with_line_end(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) in (b"\n", b"\r")


def split_arena(records: list[dict], *, validation_fraction: float, seed: int) -> dict[str, list[dict]]:
    """A seeded split stratified by label; each split keeps file order."""
    train_idx, validation_idx = train_test_split(
        list(range(len(records))),
        test_size=validation_fraction,
        random_state=seed,
        stratify=[r["label"] for r in records],
    )
    return {
        "train": [records[i] for i in sorted(train_idx)],
        "validation": [records[i] for i in sorted(validation_idx)],
    }


def malformed_report(raw_csv: Path, malformed: list[tuple[str, str, str]], n_rows: int) -> str:
    """Markdown: rows per reason, then one table row per malformed row."""
    lines = [
        f"# Malformed rows of `{raw_csv.name}`",
        "",
        f"{len(malformed)} of {n_rows} rows were left out of the splits.",
        "",
    ]
    if malformed:
        table = pd.DataFrame(malformed, columns=["id", "reason", "detail"])
        per_reason = table["reason"].value_counts().rename_axis("reason").reset_index(name="rows")
        # a "|" inside a cell would end it
        table = table.map(lambda cell: cell.replace("|", r"\|"))
        lines += [
            "## Rows per reason",
            "",
            per_reason.to_markdown(index=False),
            "",
            "## Rows",
            "",
            table.to_markdown(index=False),
            "",
        ]
    return "\n".join(lines)


def derive_arena(
    raw_csv: Path,
    out_dir: Path,
    *,
    validation_fraction: float = 0.1,
    max_rows: dict[str, int] | None = None,
    seed: int = 42,
    pinned_rows: int | None = None,
) -> dict:
    """Write train/validation.jsonl, labels.json and malformed_rows.md into `out_dir`; return counts.

    `max_rows` caps a split after splitting, by a seeded sample that keeps file order (caps of
    splits the arena lacks do not apply: a preset caps every dataset at once). The result has
    "rows_read", "rows" and "labels" per split written, and "malformed" rows per reason. A file
    cut inside a row, with fewer rows than `pinned_rows` (the pinned release's), or without a
    readable row to split is refused.
    """
    raw_csv, out_dir = Path(raw_csv), Path(out_dir)
    records, malformed, n_rows = read_arena(raw_csv)
    check_row_count(raw_csv, n_rows, pinned_rows)
    if not records:
        reasons = Counter(reason for _, reason, _ in malformed)
        raise DataError(
            f"{raw_csv}: none of its {n_rows} rows can be read"
            + (f" ({', '.join(f'{r}: {n}' for r, n in reasons.items())})" if reasons else "")
            + f"; expected rows with columns {list(COLUMNS)} and exactly one winner"
        )
    try:
        splits = split_arena(records, validation_fraction=validation_fraction, seed=seed)
    except ValueError as e:  # too few rows of a label to stratify
        raise DataError(f"{raw_csv}: its {len(records)} readable rows cannot be split by label: {e}") from e
    check_splits(raw_csv, splits)
    counts: dict = {
        "rows_read": n_rows,
        "rows": {},
        "labels": {},
        "malformed": dict.fromkeys(MALFORMED_REASONS, 0) | Counter(r for _, r, _ in malformed),
    }
    for split, rows in splits.items():
        rows = cap_rows(rows, (max_rows or {}).get(split), seed)
        counts["rows"][split] = write_jsonl(out_dir / f"{split}.jsonl", rows)
        counts["labels"][split] = dict.fromkeys(LABELS, 0) | Counter(r["label"] for r in rows)
    write_json(out_dir / "labels.json", {"label": list(LABELS)})
    with atomic_path(out_dir / "malformed_rows.md") as tmp:
        tmp.write_text(malformed_report(raw_csv, malformed, n_rows), encoding="utf-8")
    return counts
