"""MASSIVE en-US: the release JSONL -> train/dev/test JSONL in the shared format.

Word labels are raw slot names per word ("Other" outside), derived from `annot_utt` exactly as
the MASSIVE repo's `create_hf_dataset.py` does for whitespace-split locales (docs/protocols.md 2.1).
"""

from __future__ import annotations

from pathlib import Path

from ftrepro.data import OUTSIDE, cap_rows, check_row_count, check_splits
from ftrepro.io import DataError, iter_jsonl, write_json, write_jsonl

SPLITS = ("train", "dev", "test")
REQUIRED_FIELDS = ("id", "locale", "partition", "intent", "utt", "annot_utt")
LOCALE = "en-US"  # the file derived; every row must be of it


def word_slot_labels(utt: str, annot_utt: str, *, record_id: str | None = None) -> list[str]:
    """One slot name per word of `utt.split()`, read left to right off `annot_utt`.

    A chunk starting with "[" opens a slot (its name is the chunk without "[") and the ":" after
    it is skipped; a chunk ending with "]" is the slot's last word. The release format is read
    strictly, where create_hf_dataset.py would mislabel silently: a nested, unclosed or stray
    bracket, a slot without " : " or without words, and annotated words that differ from
    `utt.split()` raise DataError naming `record_id` and the word.
    """
    words, labels = _annotated_words(annot_utt, f"id {record_id}")
    utt_words = utt.split()
    if len(labels) != len(utt_words):
        raise DataError(
            f"id {record_id}: annot_utt gives {len(labels)} word labels but utt has {len(utt_words)} words "
            f"(utt={utt!r}, annot_utt={annot_utt!r})"
        )
    for n, (annotated, word) in enumerate(zip(words, utt_words), start=1):
        if annotated != word:
            raise DataError(f"id {record_id}: word {n} is {annotated!r} in annot_utt but {word!r} in utt")
    return labels


def _annotated_words(annot_utt: str, where: str) -> tuple[list[str], list[str]]:
    """(words, slot label per word) of an annot_utt, brackets and slot syntax taken off."""
    chunks = annot_utt.split()
    words, labels, slot, i = [], [], None, 0
    while i < len(chunks):
        chunk = chunks[i]
        if chunk.startswith("["):
            if slot is not None:
                raise DataError(f"{where}: slot {chunk[1:]!r} opens inside slot {slot!r} (nested brackets)")
            slot = chunk[1:]
            if not slot or i + 1 >= len(chunks) or chunks[i + 1] != ":":
                raise DataError(f"{where}: {chunk!r} is not followed by ' : ' (expected '[slot : words]')")
            i += 2  # the "[slot" chunk and the ":" after it
            continue
        word = chunk[:-1] if chunk.endswith("]") else chunk
        if "[" in word or "]" in word or not word:
            raise DataError(f"{where}: stray bracket in {chunk!r}")
        if chunk.endswith("]") and slot is None:
            raise DataError(f"{where}: {chunk!r} closes no slot")
        words.append(word)
        labels.append(slot or OUTSIDE)
        if chunk.endswith("]"):
            slot = None
        i += 1
    if slot is not None:
        raise DataError(f"{where}: slot {slot!r} is never closed (no ']')")
    return words, labels


def read_massive(raw_jsonl: Path) -> dict[str, list[dict]]:
    """{split: [shared-format record]} in file order; bad lines or fields, a repeated id or a row
    of another locale raise DataError."""
    raw_jsonl = Path(raw_jsonl)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    id_lines: dict[str, list[int]] = {}  # id -> the lines it is on
    # line numbers count records: the release has no blank lines
    for lineno, row in enumerate(iter_jsonl(raw_jsonl), start=1):
        where = f"{raw_jsonl}: line {lineno}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        for field in REQUIRED_FIELDS:
            if not isinstance(row.get(field), str):
                problem = "missing" if field not in row else f"not a string ({row[field]!r})"
                raise DataError(f"{where}: field {field!r} {problem}")
        if row["locale"] != LOCALE:
            raise DataError(f"{where}: field 'locale' is {row['locale']!r}; expected {LOCALE!r}")
        if row["partition"] not in splits:
            raise DataError(
                f"{where}: field 'partition' is {row['partition']!r}; expected one of {list(SPLITS)}"
            )
        try:
            slots = word_slot_labels(row["utt"], row["annot_utt"], record_id=row["id"])
        except DataError as e:
            raise DataError(f"{where}: field 'annot_utt': {e}") from e
        id_lines.setdefault(row["id"], []).append(lineno)
        splits[row["partition"]].append(
            {
                "id": row["id"],
                "text": row["utt"],
                "words": row["utt"].split(),
                "labels": {"intent": row["intent"], "slots": slots},
            }
        )
    repeated = next((lines for lines in id_lines.values() if len(lines) > 1), None)
    if repeated:
        raise DataError(f"{raw_jsonl}: line {repeated[1]}: field 'id' repeats the id of line {repeated[0]}")
    return splits


def derive_massive(
    raw_jsonl: Path,
    out_dir: Path,
    *,
    max_rows: dict[str, int] | None = None,
    seed: int = 42,
    pinned_rows: int | None = None,
) -> dict[str, int]:
    """Write train/dev/test.jsonl and labels.json into `out_dir`; return rows written per split.

    `max_rows` caps a split by a seeded sample that keeps file order (a preset caps every
    dataset at once, so caps of splits MASSIVE lacks do not apply); labels.json always covers
    all splits of the uncapped data. An empty split, or fewer rows than `pinned_rows` (the
    pinned release's), is refused.
    """
    out_dir = Path(out_dir)
    splits = read_massive(raw_jsonl)
    rows = [r for records in splits.values() for r in records]
    check_row_count(raw_jsonl, len(rows), pinned_rows)
    check_splits(raw_jsonl, splits)
    labels = {
        "intent": sorted({r["labels"]["intent"] for r in rows}),
        "slots": sorted({s for r in rows for s in r["labels"]["slots"]} | {OUTSIDE}),
    }
    counts = {}
    for split, records in splits.items():
        counts[split] = write_jsonl(
            out_dir / f"{split}.jsonl", cap_rows(records, (max_rows or {}).get(split), seed)
        )
    write_json(out_dir / "labels.json", labels)
    return counts
