"""20 Newsgroups "bydate": the release tar.gz -> train/test JSONL in the shared format.

Documents are decoded as latin-1 and kept whole by default (headers included), as scikit-learn's
`fetch_20newsgroups(remove=())` does (docs/protocols.md 3).
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from pathlib import Path

from sklearn.datasets._twenty_newsgroups import (
    strip_newsgroup_footer,
    strip_newsgroup_header,
    strip_newsgroup_quoting,
)

from ftrepro.data import cap_rows, check_row_count, hold_out
from ftrepro.io import DataError, write_json, write_jsonl

SPLITS = ("train", "test")
# Applied in scikit-learn's order.
_STRIPPERS = {
    "headers": strip_newsgroup_header,
    "footers": strip_newsgroup_footer,
    "quotes": strip_newsgroup_quoting,
}
_MEMBER = re.compile(r"20news-bydate-(train|test)/([^/]+)/([^/]+)")


def root_label(group: str) -> str:
    """The 7-class label: the group's first dot-component (comp.graphics -> comp)."""
    return group.split(".", 1)[0]


def read_newsgroups_tar(raw_tar: Path) -> dict[str, list[tuple[str, str, str]]]:
    """{split: [(group, msgid, latin-1 text)]} sorted by group then numeric id."""
    docs: dict[str, list[tuple[str, str, str]]] = {s: [] for s in SPLITS}
    try:
        with tarfile.open(raw_tar, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                match = _MEMBER.fullmatch(member.name)
                if not match:
                    raise DataError(
                        f"{raw_tar}: member {member.name!r}: expected "
                        "20news-bydate-{train,test}/<group>/<id>"
                    )
                split, group, msgid = match.groups()
                docs[split].append((group, msgid, tar.extractfile(member).read().decode("latin-1")))
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{raw_tar}: not a readable 20news-bydate tar.gz archive: {e}") from e
    for split, rows in docs.items():
        if not rows:
            raise DataError(f"{raw_tar}: no 20news-bydate-{split}/ documents in the archive")
        rows.sort(key=lambda d: (d[0], int(d[1]) if d[1].isdigit() else float("inf"), d[1]))
    return docs


def derive_newsgroups(
    raw_tar: Path,
    out_dir: Path,
    *,
    max_rows: dict[str, int] | None = None,
    seed: int = 42,
    remove: tuple[str, ...] = (),
    dev_rows: int | None = None,
    pinned_rows: int | None = None,
) -> dict[str, int]:
    """Write train.jsonl, test.jsonl and labels.json into `out_dir`; return rows written per split.

    `remove` strips "headers" / "footers" / "quotes" like scikit-learn; `max_rows` caps a split
    by a seeded sample that keeps file order (labels.json always covers the uncapped data);
    caps of splits 20NG lacks do not apply, since a preset caps every dataset at once.
    `dev_rows`: a seeded sample of that many train documents becomes dev.jsonl (the release has
    no dev split) before the caps apply; their ids keep "train/". Fewer documents than
    `pinned_rows` (the pinned release's) are refused.
    """
    unknown = set(remove) - set(_STRIPPERS)
    if unknown:
        raise ValueError(f"remove: unknown parts {sorted(unknown)}; expected some of {list(_STRIPPERS)}")
    raw_tar, out_dir = Path(raw_tar), Path(out_dir)
    docs = read_newsgroups_tar(raw_tar)
    check_row_count(raw_tar, sum(map(len, docs.values())), pinned_rows)
    groups = sorted({group for rows in docs.values() for group, _, _ in rows})
    released = {split: (split, docs[split]) for split in SPLITS}
    if dev_rows:
        train, dev = hold_out(docs["train"], dev_rows, seed)
        released.update(train=("train", train), dev=("train", dev))
    counts = {}
    for split, (release_split, docs_of_split) in released.items():
        rows = cap_rows(docs_of_split, (max_rows or {}).get(split), seed)
        records = (_record(release_split, group, msgid, text, remove) for group, msgid, text in rows)
        counts[split] = write_jsonl(out_dir / f"{split}.jsonl", records)
    write_json(
        out_dir / "labels.json", {"20class": groups, "7class": sorted({root_label(g) for g in groups})}
    )
    return counts


def _record(split: str, group: str, msgid: str, text: str, remove: tuple[str, ...]) -> dict:
    for part, strip in _STRIPPERS.items():
        if part in remove:
            text = strip(text)
    return {
        "id": f"{split}/{group}/{msgid}",
        "text": text,
        "labels": {"20class": group, "7class": root_label(group)},
    }
