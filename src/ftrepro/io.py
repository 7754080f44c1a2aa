"""File I/O shared by every stage: atomic writes and JSON / JSONL reading with located errors.

Outputs are written under a temporary name next to the target and renamed into place, so a
killed job never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Bad input data; the message names the file and the line or field."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it to `target` only on success.

    Works for files and directories. On error the temporary is removed and an existing
    `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # the caller creates a file or a directory there
    tmp = Path(tmp)
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _open_text(path: Path, mode: str, gz: bool | None = None):
    if path.suffix == ".gz" if gz is None else gz:
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        with _open_text(path, "r") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from e


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write one JSON object per line (gzip if the name ends in .gz); return the count."""
    path = Path(path)
    n = 0
    with atomic_path(path) as tmp, _open_text(tmp, "w", gz=path.suffix == ".gz") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the objects of a JSONL file; a bad line raises DataError naming file and line."""
    path = Path(path)
    with _open_text(path, "r") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {lineno}: invalid JSON: {e.msg}") from e


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def read_appended_jsonl(
    path: str | os.PathLike, check: Callable[[dict], dict] | None = None
) -> dict[str, dict]:
    """{id: record} of an append-only JSONL file that a killed job may have left (resumable
    annotation and API runs). A torn last line, cut short mid-write, is cut off the file; a
    malformed line before it is an error. `check` validates each record (ValueError when bad)."""
    path = Path(path)
    if not path.exists():
        return {}
    done, good_bytes = {}, 0
    with open(path, "rb") as f:
        for line in f:
            try:
                record = json.loads(line)
                record = check(record) if check else record
            except ValueError:
                if line.endswith(b"\n"):
                    raise DataError(
                        f"{path}: byte {good_bytes}: a malformed line before the last one"
                    ) from None
                break  # no newline: the write was cut short
            done[record["id"]] = record
            good_bytes += len(line)
    os.truncate(path, good_bytes)
    return done
