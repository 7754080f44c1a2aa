"""File I/O shared by every stage: atomic writes and JSON / JSONL reading with located errors.

Outputs are written under a temporary name next to the target and renamed into place, so a
killed job never leaves a half-written file that looks complete; the next write of the same
target removes what a killed writer left behind.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Temporary names of atomic_path: ".<target>.<pid>-<mkstemp's 8 characters>.tmp"
_TMP_TAIL = re.compile(r"\.(?:(\d+)-)?[a-z0-9_]{8}\.tmp")
_LIVE_TMPS: set[Path] = set()  # this process's temporaries still being written
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@'\"]+@")  # the user:password@ of scheme://user:password@host


class DataError(ValueError):
    """Bad input data; the message names the file and the line or field."""


def redact_urls(text: str | None) -> str | None:
    """`text` with the user:password part of every URL in it replaced by ***: what reaches a log,
    a rule's params (stored in .snakemake/metadata) or provenance."""
    return None if text is None else _URL_USERINFO.sub("***@", text)


def replace_lone_surrogates(text: str) -> tuple[str, int]:
    """`text` with each lone surrogate (undecodable input, e.g. a JSON "\\ud800" escape) replaced
    by U+FFFD, and how many there were: such a string cannot be written as UTF-8."""
    return _SURROGATE.subn("\ufffd", text)


def json_text(obj: Any, **kwargs: Any) -> str:
    """JSON of `obj` that is always valid UTF-8: non-ASCII characters as they are, unless a lone
    surrogate is in it, which is then written as a \\u escape (the whole text ASCII) and so
    round-trips instead of failing the write."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    return json.dumps(obj, **kwargs) if _SURROGATE.search(text) else text


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it to `target` only on success.

    Works for files and directories. On error the temporary is removed and an existing
    `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # the caller creates a file or a directory there
    tmp = Path(tmp)
    _LIVE_TMPS.add(tmp)
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        _LIVE_TMPS.discard(tmp)
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove what killed writers of `target` left beside it (atomic_path's temporaries): all but
    this process's live ones and those of another live process on this machine. One job writes
    a given output at a time (Snakemake), so a leftover of a process that is gone is garbage."""
    target = Path(target)
    prefix = f".{target.name}"
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in target.parent.iterdir():
            match = entry.name.startswith(prefix) and _TMP_TAIL.fullmatch(entry.name, len(prefix))
            if not match or entry in _LIVE_TMPS:
                continue
            pid = int(match.group(1)) if match.group(1) else None
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            _remove(entry)
            removed.append(entry)
    if removed:
        log.warning("removed %d leftover(s) of an interrupted write of %s", len(removed), target)
    return removed


def _open_text(path: Path, mode: str, gz: bool | None = None):
    if path.suffix == ".gz" if gz is None else gz:
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj, indent=2) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        with _open_text(path, "r") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from e


# A trained model's Trainer log_history (loss, learning rate, evaluation per logging step), one
# record a line: written beside the model (ftrepro.train) and kept beside a run's metrics (ftrepro.fit).
TRAIN_LOG = "train_log.jsonl"


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write one JSON object per line (gzip if the name ends in .gz); return the count."""
    path = Path(path)
    n = 0
    with atomic_path(path) as tmp, _open_text(tmp, "w", gz=path.suffix == ".gz") as f:
        for record in records:
            f.write(json_text(record) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield the objects of a JSONL file (gzip if the name ends in .gz); a bad line, bytes that
    are not UTF-8 or a truncated archive raise DataError naming the file and line."""
    path = Path(path)
    lineno = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if raw.strip():
                    yield _json_line(raw, path, lineno)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: after line {lineno}: truncated or not a gzip file ({e})") from e


def _json_line(raw: bytes, path: Path, lineno: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: line {lineno}: not UTF-8 text (byte {e.start} of the line)") from e
    except (json.JSONDecodeError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
        raise DataError(f"{path}: line {lineno}: invalid JSON: {msg}") from e
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise DataError(f"{path}: line {lineno}: invalid JSON: {e}") from e


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def read_appended_jsonl(
    path: str | os.PathLike, check: Callable[[dict], dict] | None = None
) -> dict[str, dict]:
    """{id: record} of an append-only JSONL file that a killed job may have left (resumable
    annotation and API runs). A torn last line, cut short mid-write, is cut off the file. Any
    other unreadable line is dropped as well, so that its record is done again rather than the
    job stopping for good; the file as found is kept as <name>.corrupt-<time> (a warning says
    so). `check` validates each record (ValueError when bad)."""
    path = Path(path)
    if not path.exists():
        return {}
    *lines, tail = path.read_bytes().split(b"\n")  # tail: b"" unless the last write was cut
    done, kept, bad = {}, [], 0
    for i, line in enumerate([*lines, tail]):
        record = _appended_record(line, check)
        if record is None:
            bad += i < len(lines) and line.strip() != b""  # a torn tail is no damage
            continue
        done[record["id"]] = record
        kept.append(line + b"\n")
    if bad:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        shutil.copyfile(path, aside)
        log.warning(
            "%s: %d unreadable line(s) dropped, to be redone; the file as found is %s", path, bad, aside
        )
    if bad or tail:
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"".join(kept))
    return done


def _appended_record(line: bytes, check: Callable[[dict], dict] | None) -> dict | None:
    try:
        record = json.loads(line)
        record = check(record) if check else record
    except (ValueError, RecursionError):  # DataError and JSONDecodeError included
        return None
    return record if isinstance(record, dict) and isinstance(record.get("id"), str | int) else None
