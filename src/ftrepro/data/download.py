"""Downloading pinned files over HTTP(S): resume, retries, a progress bar and a checksum.

A download goes to `<dest>.part`, which survives a failure: the next attempt (or the next run)
asks the server for the remaining bytes only. The file gets its final name only once it is
complete and its sha256 matches the pin, so a name without `.part` is always a verified file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import requests
from tqdm.auto import tqdm

from ftrepro.io import DataError

log = logging.getLogger(__name__)

# Small enough that a cut connection loses little: a chunk that does not arrive whole is lost.
CHUNK_BYTES = 1 << 14
# Status codes worth another try: the server or a proxy may recover.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(RuntimeError):
    """A download that failed for good (after retries, or with a status retrying cannot fix)."""


def sha256_of(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def auth_headers(token_env: str | None) -> dict[str, str]:
    """A bearer token from the environment variable `token_env`, if it is set (never logged)."""
    token = os.environ.get(token_env) if token_env else None
    return {"Authorization": f"Bearer {token}"} if token else {}


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    headers: Mapping[str, str] | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest` and return `dest`; a verified `dest` already there is kept.

    `sha256=None` accepts any content (the caller records the digest). A checksum mismatch
    keeps the bytes as `<dest>.sha256-mismatch` for inspection and raises DataError.
    """
    dest = Path(dest)
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    check_resolves(url)  # offline: fail now, before anything is written or retried
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with requests.Session() as session:
        for attempt in range(1, retries + 1):
            try:
                _fetch_rest(session, url, part, dict(headers or {}), timeout_s, progress)
                break
            except _Retryable as e:
                if attempt == retries:
                    raise DownloadError(
                        f"{url}: failed after {retries} attempts ({e}); {part} is kept "
                        "and the next run resumes it"
                    ) from e
                wait = backoff_s * 2 ** (attempt - 1)
                log.warning("%s: %s; retry %d/%d in %.0f s", url, e, attempt, retries - 1, wait)
                time.sleep(wait)
    _verify(part, url, sha256, dest)
    os.replace(part, dest)
    return dest


class _Retryable(Exception):
    pass


def check_resolves(url: str) -> None:
    """DownloadError at once when the host of `url` does not resolve (no network, or no DNS):
    retrying cannot help. Behind a proxy (HTTP(S)_PROXY) the proxy resolves it: not checked."""
    host = urlsplit(url).hostname
    if not host or requests.utils.get_environ_proxies(url):
        return
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as e:
        raise DownloadError(f"{url}: the host {host} does not resolve ({e}): no network here") from e


def _fetch_rest(
    session: requests.Session, url: str, part: Path, headers: dict, timeout_s: float, progress: bool
) -> None:
    """Append the bytes `part` lacks (all of them if the server ignores the Range request)."""
    have = part.stat().st_size if part.exists() else 0
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            if response.status_code == 416:  # nothing left to send: `part` is whole
                return
            _raise_for_status(response, url)
            if have and response.status_code != 206:
                have = 0  # the server sent the whole file again
            size = response.headers.get("Content-Length")
            total = have + int(size) if size else None
            with (
                open(part, "ab" if have else "wb") as f,
                tqdm(
                    total=total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    desc=part.name[:-5],
                    disable=not progress,
                ) as bar,
            ):
                for chunk in response.iter_content(CHUNK_BYTES):
                    f.write(chunk)
                    bar.update(len(chunk))
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
        raise _Retryable(f"connection lost: {e}") from e
    if total is not None and part.stat().st_size < total:
        raise _Retryable(f"got {part.stat().st_size} of {total} bytes")


def _raise_for_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in RETRYABLE_STATUS:
        raise _Retryable(f"HTTP {status}")
    hint = {
        401: "the source needs a token: set the variable named by the pin's token_env",
        403: "access denied: accept the dataset's terms on its page, and check the token",
        404: "not found: check the pinned revision or commit",
    }.get(status, "")
    raise DownloadError(f"{url}: HTTP {status} {response.reason}" + (f"; {hint}" if hint else ""))


def _verify(part: Path, url: str, sha256: str | None, dest: Path) -> None:
    if sha256 is None:
        return
    got = sha256_of(part)
    if got != sha256:
        kept = dest.with_name(dest.name + ".sha256-mismatch")
        os.replace(part, kept)
        raise DataError(
            f"{url}: checksum mismatch: sha256 {got}, pinned {sha256}; the bytes are kept in {kept}. "
            "If the source changed on purpose, check it and update the pin in config/config.yaml "
            "(data.hub)"
        )
