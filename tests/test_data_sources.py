"""Raw data sources: pinned downloads (resume, retries, checksums) and `data.source: hub` for
every dataset against a local HTTP server that can cut connections, fail and ignore Range
requests; `data.source: local` selecting SuperNI task files."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED_DATA

from ftrepro.data.download import DownloadError, download
from ftrepro.data.sources import CHECKSUMS, fetch
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import DataError

HUB_PINS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data"]["hub"]
PAYLOAD = bytes(range(256)) * 400  # 100 KiB


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """Serves `files` {path: bytes}; `cut[path] = n` sends only n bytes of the next response,
    `fail[path] = k` answers 503 k times, `ignore_range` answers every request with 200."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.fail: dict[str, int] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, str | None, str | None]] = []  # (path, Range, Authorization)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(
                    (self.path, self.headers.get("Range"), self.headers.get("Authorization"))
                )
                if server.fail.get(self.path, 0) > 0:
                    server.fail[self.path] -= 1
                    return self.send_error(503)
                if self.path not in server.files:
                    return self.send_error(404)
                self._send(server.files[self.path])

            def _send(self, data: bytes):
                start = 0
                wanted = self.headers.get("Range")
                if wanted and not server.ignore_range:
                    start = int(wanted.removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        return self.send_error(416)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                n = server.cut.pop(self.path, None)
                self.wfile.write(body if n is None else body[:n])
                if n is not None:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def fast(**kw):
    return {"retries": 3, "backoff_s": 0.0, "progress": False, **kw}


def test_download_writes_the_verified_file_and_no_partial(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    dest = download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=sha(PAYLOAD), **fast())
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_cut_connection_is_resumed_from_where_it_stopped(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.cut["/f.bin"] = 30_000
    dest = download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=sha(PAYLOAD), **fast())
    assert dest.read_bytes() == PAYLOAD
    first, second = (r[1] for r in server.requests)
    resumed_at = int(second.removeprefix("bytes=").rstrip("-"))
    assert first is None and 0 < resumed_at <= 30_000  # whole chunks of what arrived are kept


def test_a_partial_file_of_an_earlier_run_is_resumed(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:12_345])
    download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=sha(PAYLOAD), **fast())
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == ["bytes=12345-"]


def test_a_server_that_ignores_range_gets_the_whole_file_again(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes")
    download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=sha(PAYLOAD), **fast())
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_a_verified_file_is_not_downloaded_again(server, tmp_path):
    (tmp_path / "f.bin").write_bytes(PAYLOAD)
    download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=sha(PAYLOAD), **fast())
    assert server.requests == []


def test_checksum_mismatch_names_the_url_and_both_digests_and_keeps_the_bytes_aside(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    wrong = "0" * 64
    with pytest.raises(DataError) as err:
        download(f"{server.url}/f.bin", tmp_path / "f.bin", sha256=wrong, **fast())
    assert (
        f"{server.url}/f.bin" in str(err.value) and wrong in str(err.value) and sha(PAYLOAD) in str(err.value)
    )
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.sha256-mismatch").read_bytes() == PAYLOAD


def test_server_errors_are_retried(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.fail["/f.bin"] = 2
    download(f"{server.url}/f.bin", tmp_path / "f.bin", **fast())
    assert len(server.requests) == 3 and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_not_found_fails_at_once_with_a_hint(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404.*pinned revision"):
        download(f"{server.url}/missing", tmp_path / "f.bin", **fast())
    assert len(server.requests) == 1


def test_after_the_last_retry_the_partial_file_is_kept_for_the_next_run(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.fail["/f.bin"] = 5
    with pytest.raises(DownloadError, match=r"after 3 attempts.*f\.bin\.part is kept"):
        download(f"{server.url}/f.bin", tmp_path / "f.bin", **fast())


# --- data.source: hub, per dataset ---------------------------------------------------------


def test_the_20newsgroups_pin_is_scikit_learns_checksum():
    from sklearn.datasets._twenty_newsgroups import ARCHIVE

    # and the release's documents, which derive checks a raw file against (data.hub.*.rows)
    assert HUB_PINS["20newsgroups"] == {"url": ARCHIVE.url, "sha256": ARCHIVE.checksum, "rows": 18846}


def _hub(dataset, server, tmp_path, pin, **kw):
    return fetch(
        dataset, tmp_path / "raw" / dataset, source="hub", pin=pin, download_dir=tmp_path / "dl", **kw
    )


def _checksums(raw: Path) -> dict[str, str]:
    lines = (raw / CHECKSUMS).read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def test_hub_20newsgroups(server, tmp_path):
    write_synthetic_raw("20newsgroups", tmp_path / "src", seed=1)
    data = (tmp_path / "src" / "20news-bydate.tar.gz").read_bytes()
    server.files["/files/5975967"] = data
    _hub("20newsgroups", server, tmp_path, {"url": f"{server.url}/files/5975967", "sha256": sha(data)})
    raw = tmp_path / "raw" / "20newsgroups"
    assert (raw / "20news-bydate.tar.gz").read_bytes() == data
    assert _checksums(raw) == {"20news-bydate.tar.gz": sha(data)}


def _massive_tarball(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_hub_massive_checks_the_real_member_against_the_configured_pin(server, tmp_path):
    real = gzip.decompress((SHARED_DATA / "massive" / "en-US.jsonl.gz").read_bytes())
    server.files["/amazon-massive-dataset-1.1.tar.gz"] = _massive_tarball("1.1/data/en-US.jsonl", real)
    pin = {**HUB_PINS["massive"], "url": f"{server.url}/amazon-massive-dataset-1.1.tar.gz"}
    _hub("massive", server, tmp_path, pin)
    assert (tmp_path / "raw" / "massive" / "en-US.jsonl").read_bytes() == real


def test_hub_massive_names_a_changed_member_a_missing_member_and_a_corrupt_archive(server, tmp_path):
    url = f"{server.url}/m.tar.gz"
    pin = {**HUB_PINS["massive"], "url": url}
    server.files["/m.tar.gz"] = _massive_tarball("1.1/data/en-US.jsonl", b'{"id": "1"}\n')
    with pytest.raises(DataError, match=r"member 1\.1/data/en-US\.jsonl: checksum mismatch"):
        _hub("massive", server, tmp_path / "a", pin)
    server.files["/m.tar.gz"] = _massive_tarball("1.0/data/en-US.jsonl", b"{}\n")
    with pytest.raises(DataError, match=r"member '1\.1/data/en-US\.jsonl'.*not in the archive"):
        _hub("massive", server, tmp_path / "b", pin)
    server.files["/m.tar.gz"] = b"\x1f\x8b not really gzip"
    with pytest.raises(DataError, match=r"m\.tar\.gz: not a readable tar archive"):
        _hub("massive", server, tmp_path / "c", pin)
    assert not (tmp_path / "c" / "raw" / "massive" / "en-US.jsonl").exists()


def test_hub_superni_fetches_the_split_lists_and_only_the_needed_task_files(server, tmp_path):
    src = tmp_path / "src"
    write_synthetic_raw("superni", src, seed=1)
    for path in src.rglob("*"):
        if path.is_file():
            server.files[f"/abc123/{path.relative_to(src).as_posix()}"] = path.read_bytes()
    test_tasks = (src / "splits/default/test_tasks.txt").read_text().split()[:2]
    train_tasks = (src / "splits/default/train_tasks.txt").read_text().split()[:3]
    pin = {"url": f"{server.url}/{{revision}}/{{path}}", "revision": "abc123"}
    _hub("superni", server, tmp_path, pin, superni_tasks=test_tasks, superni_train_tasks=3)
    raw = tmp_path / "raw" / "superni"
    assert sorted(p.stem for p in (raw / "tasks").iterdir()) == sorted(test_tasks + train_tasks)
    for name in _checksums(raw):
        assert (raw / name).read_bytes() == (src / name).read_bytes()
    assert len(_checksums(raw)) == 3 + 5


def test_hub_arena_sends_the_token_from_the_environment(server, tmp_path, monkeypatch):
    write_synthetic_raw("arena", tmp_path / "src", seed=1, n_rows=20)
    data = (tmp_path / "src" / "train.csv").read_bytes()
    server.files["/resolve/rev1/train.csv"] = data
    pin = {
        "url": f"{server.url}/resolve/{{revision}}/train.csv",
        "revision": "rev1",
        "sha256": sha(data),
        "token_env": "FTREPRO_TEST_TOKEN",
    }
    monkeypatch.setenv("FTREPRO_TEST_TOKEN", "s3cret")
    _hub("arena", server, tmp_path, pin)
    assert (tmp_path / "raw" / "arena" / "train.csv").read_bytes() == data
    assert server.requests[-1][2] == "Bearer s3cret"


def test_hub_needs_a_pin(tmp_path):
    with pytest.raises(ValueError, match="data.hub.arena"):
        fetch("arena", tmp_path / "raw", source="hub", pin=None)


# --- data.source: local --------------------------------------------------------------------


def test_local_superni_copies_the_split_lists_and_only_the_needed_task_files(tmp_path):
    src = tmp_path / "mirror" / "superni"
    write_synthetic_raw("superni", src, seed=1)
    test_tasks = (src / "splits/default/test_tasks.txt").read_text().split()[:2]
    train_tasks = (src / "splits/default/train_tasks.txt").read_text().split()[:3]
    fetch(
        "superni",
        tmp_path / "raw",
        source="local",
        local_dir=str(tmp_path / "mirror"),
        superni_tasks=test_tasks,
        superni_train_tasks=3,
    )
    assert sorted(p.stem for p in (tmp_path / "raw" / "tasks").iterdir()) == sorted(test_tasks + train_tasks)
    assert len(_checksums(tmp_path / "raw")) == 3 + 5


def test_local_superni_names_a_missing_task_file(tmp_path):
    src = tmp_path / "mirror" / "superni"
    write_synthetic_raw("superni", src, seed=1)
    with pytest.raises(
        FileNotFoundError, match=r"tasks/task1_not_there\.json not found.*natural-instructions"
    ):
        fetch(
            "superni",
            tmp_path / "raw",
            source="local",
            local_dir=str(tmp_path / "mirror"),
            superni_tasks=["task1_not_there"],
        )
    assert not (tmp_path / "raw").exists()


def test_an_unreachable_source_says_how_to_use_a_mirror(tmp_path, monkeypatch):
    monkeypatch.setattr("ftrepro.data.download.time.sleep", lambda s: None)
    pin = {"url": "http://127.0.0.1:9/nothing-listens-here/train.csv"}
    with pytest.raises(DownloadError, match=r"arena: .*data\.source: local.*kaggle\.com/competitions"):
        fetch("arena", tmp_path / "raw", source="hub", pin=pin, download_dir=tmp_path / "dl")


# --- offline: fail fast, name the mirror option (issue 24, issue 29 item 4) -----------------------

OFFLINE = "https://ftrepro-offline.invalid"  # .invalid never resolves (RFC 2606)


@pytest.mark.parametrize("dataset", ["20newsgroups", "massive", "superni", "arena"])
def test_an_unresolvable_host_fails_at_once_naming_the_dataset_the_url_and_the_mirror(tmp_path, dataset):
    pin = {**HUB_PINS[dataset], "url": f"{OFFLINE}/{dataset}/{{revision}}{{path}}"}
    started = time.monotonic()
    with pytest.raises(DownloadError) as error:
        fetch(dataset, tmp_path / "raw", source="hub", pin=pin, download_dir=tmp_path / "dl")
    assert time.monotonic() - started < 5  # no retries: 31-39 s before
    message = str(error.value)
    assert message.startswith(f"{dataset}: ") and "ftrepro-offline.invalid" in message
    assert "does not resolve" in message and "data.local_dir" in message and "data.source: local" in message
    assert "set data.source: hub" not in message  # it is set
    assert not (tmp_path / "raw").exists() and not (tmp_path / "dl").exists()  # nothing written


def test_behind_a_proxy_the_host_is_left_to_the_proxy(monkeypatch):
    from ftrepro.data.download import check_resolves

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    check_resolves(f"{OFFLINE}/x")  # no error: the proxy resolves names


def test_a_missing_local_file_still_says_how_to_download_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"arena: train\.csv not found.*or set data\.source: hub"):
        fetch("arena", tmp_path / "raw", source="local", local_dir=str(tmp_path / "empty"))


def test_local_copies_the_optional_reference_and_competition_files_where_the_mirror_has_them(tmp_path):
    mirror = tmp_path / "mirror"
    write_synthetic_raw("arena", mirror / "arena", seed=1)
    fetch("arena", tmp_path / "raw" / "arena", source="local", local_dir=str(mirror))
    assert sorted(_checksums(tmp_path / "raw" / "arena")) == ["test.csv", "train.csv"]
    (mirror / "arena" / "test.csv").unlink()
    fetch("arena", tmp_path / "bare", source="local", local_dir=str(mirror))
    assert sorted(_checksums(tmp_path / "bare")) == ["train.csv"]
    tasks = sorted(p.stem for p in (SHARED_DATA / "superni" / "tasks").glob("*.json"))
    fetch(
        "superni",
        tmp_path / "superni",
        source="local",
        local_dir=str(SHARED_DATA),
        superni_tasks=tasks,
        superni_train_tasks=0,
    )
    references = tmp_path / "superni" / "test_references.jsonl"  # unpacked from the mirror's .gz
    with gzip.open(SHARED_DATA / "superni" / "test_references.jsonl.gz", "rb") as f:
        assert references.read_bytes() == f.read()
    assert "test_references.jsonl" in _checksums(tmp_path / "superni")


def test_a_paper_run_offline_stops_at_the_download_and_writes_no_data(workdir):
    """issue 24: `snakemake --config preset=paper -- derive_massive` without internet fails at the
    download naming the dataset and the mirror option; nothing synthetic (or anything) is written."""
    from conftest import snakemake

    offline = f"data={{'hub': {{'massive': {{'url': '{OFFLINE}/amazon-massive-dataset-1.1.tar.gz'}}}}}}"
    result = snakemake(["--cores", "1", "--config", "preset=paper", offline, "--", "derive_massive"], workdir)
    assert result.returncode != 0
    log = (workdir / "logs/paper/download/massive.log").read_text()
    assert "DownloadError: massive: " in log and "ftrepro-offline.invalid" in log and "data.local_dir" in log
    assert not (workdir / "resources").exists()  # no raw, derived or downloaded file
