"""LMSYS Chatbot Arena (Kaggle train.csv) -> three disjoint, seeded, label-stratified splits.

train (what the models learn from), dev (where they choose their checkpoint and stop) and test
(where the tables score them; no run sees it before). The paper scores on Kaggle's hidden test
set, which cannot be scored offline; our test split stands in for it. When the raw directory
also holds the competition's test.csv (rows without labels), its rows become
competition_test.jsonl, which the models predict for a Kaggle submission.

`prompt`, `response_a` and `response_b` are JSON lists with one string per turn (null possible,
docs/protocols.md 4). Rows that cannot be read are listed in `malformed_rows.md` rather than
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

SPLITS = ("train", "dev", "test")
LABELS = ("A", "B", "tie")
TURN_COLUMNS = ("prompt", "response_a", "response_b")
WINNER_COLUMNS = {"winner_model_a": "A", "winner_model_b": "B", "winner_tie": "tie"}
COLUMNS = ("id", "model_a", "model_b", *TURN_COLUMNS, *WINNER_COLUMNS)
# the competition's test.csv: its rows have no winner (and no model names)
COMPETITION_TEST = "test.csv"
COMPETITION_COLUMNS = ("id", *TURN_COLUMNS)
COMPETITION_SPLIT = "competition_test"
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


def read_arena_csv(raw_csv: Path, columns: tuple[str, ...] = COLUMNS) -> pd.DataFrame:
    """Every cell as a string exactly as written (ids like "007" and empty cells survive)."""
    try:
        frame = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{raw_csv}: not a readable CSV file: {e}") from e
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{raw_csv}: missing column(s) {missing}; expected {list(columns)}")
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


def split_arena(records: list[dict], *, fractions: dict[str, float], seed: int) -> dict[str, list[dict]]:
    """Disjoint train / dev / test splits, seeded and stratified by label: test and dev take
    `fractions["test"]` and `fractions["dev"]` of the rows (rounded), train the rest; each split
    keeps file order."""
    labels = [r["label"] for r in records]
    n_test, n_dev = (round(fractions[split] * len(records)) for split in ("test", "dev"))
    rest, test = train_test_split(
        list(range(len(records))), test_size=n_test, random_state=seed, stratify=labels
    )
    train, dev = train_test_split(
        rest, test_size=n_dev, random_state=seed, stratify=[labels[i] for i in rest]
    )
    return {name: [records[i] for i in sorted(idx)] for name, idx in zip(SPLITS, (train, dev, test))}


def read_competition_test(raw_csv: Path) -> list[dict]:
    """The competition's test.csv as records without a label (its prompt and responses decoded);
    a row that cannot be read is an error naming its id, since a submission needs every row."""
    records = []
    for row in read_arena_csv(raw_csv, COMPETITION_COLUMNS).to_dict("records"):
        try:
            turns = {column: decode_turns(column, row[column]) for column in TURN_COLUMNS}
        except MalformedRow as e:
            raise DataError(f"{raw_csv}: row id {row['id']!r}: {e}") from e
        records.append({"id": row["id"], **turns})
    return records


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
    splits: dict[str, float] | None = None,
    max_rows: dict[str, int] | None = None,
    seed: int = 42,
    pinned_rows: int | None = None,
) -> dict:
    """Write {train,dev,test}.jsonl, competition_test.jsonl, labels.json and malformed_rows.md
    into `out_dir`; return counts.

    `splits` {dev, test} are the fractions held out (default 0.1 each). `max_rows` caps a split
    after splitting, by a seeded sample that keeps file order (caps of splits the arena lacks do
    not apply: a preset caps every dataset at once). competition_test.jsonl holds the rows of
    the competition's test.csv beside `raw_csv` (never capped), and is empty without one. The
    result has "rows_read", "rows" and "labels" per split written, "malformed" rows per reason and
    the "competition_test" rows written. A file cut inside a row, with fewer rows than
    `pinned_rows` (the pinned release's), or without a readable row to split is refused.
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
        splits = split_arena(records, fractions=splits or {"dev": 0.1, "test": 0.1}, seed=seed)
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
    competition_csv = raw_csv.with_name(COMPETITION_TEST)
    competition = read_competition_test(competition_csv) if competition_csv.is_file() else []
    counts[COMPETITION_SPLIT] = write_jsonl(out_dir / f"{COMPETITION_SPLIT}.jsonl", competition)
    write_json(out_dir / "labels.json", {"label": list(LABELS)})
    with atomic_path(out_dir / "malformed_rows.md") as tmp:
        tmp.write_text(malformed_report(raw_csv, malformed, n_rows), encoding="utf-8")
    return counts
