"""Corrupted raw files and interrupted writes (issue 17, findings 5, 6 and 8).

Raw data is checked on the way in: a malformed MASSIVE slot annotation, a truncated archive, a
bad JSON line, bytes that are not UTF-8 and a file that no longer matches SHA256SUMS each give
an error naming the file and line or field. What a killed writer leaves behind is cleaned up
by the next write of the same file.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import snakemake

from ftrepro.data.massive import read_massive
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.sources import CHECKSUMS, fetch, verify_checksums
from ftrepro.fit import prepare_work_dir
from ftrepro.io import (
    DataError,
    atomic_path,
    iter_jsonl,
    read_appended_jsonl,
    read_jsonl,
    remove_stale_temporaries,
    write_jsonl,
)

pytestmark = pytest.mark.faults


def massive_row(utt: str, annot_utt: str, id_: str = "7") -> dict:
    return {
        "id": id_,
        "locale": "en-US",
        "partition": "train",
        "scenario": "alarm",
        "intent": "alarm_set",
        "utt": utt,
        "annot_utt": annot_utt,
        "worker_id": "1",
    }


def massive_file(tmp_path: Path, bad: dict) -> Path:
    path = tmp_path / "en-US.jsonl"
    good = massive_row("wake me at five am", "wake me at [time : five am]", "1")
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# --- MASSIVE slot annotations -------------------------------------------------------------------


@pytest.mark.parametrize(
    "utt, annot_utt, problem",
    [
        ("wake me at five am", "wake me at [time : five am", "slot 'time' is never closed"),
        ("set x y", "set [time : [date : x] y]", "opens inside slot 'time'"),
        (
            "wake me at five am",
            "wake me at [time : six am]",
            "word 4 is 'six' in annot_utt but 'five' in utt",
        ),
        ("wake me at five am", "wake me at five am]", "'am]' closes no slot"),
        ("wake me at five am", "wake me [time five am]", "not followed by ' : '"),
        ("wake me at five am", "wake me at [time : five] am]", "'am]' closes no slot"),
        ("wake me at five", "wake me at [time : ]", "stray bracket"),
    ],
    ids=["unclosed", "nested", "other-words", "stray-close", "no-colon", "closed-twice", "empty-slot"],
)
def test_a_malformed_slot_annotation_names_file_line_and_field(tmp_path, utt, annot_utt, problem):
    """Finding 5: unclosed and nested brackets and words that differ from the utterance were
    accepted silently, as long as the word count matched."""
    path = massive_file(tmp_path, massive_row(utt, annot_utt))
    with pytest.raises(DataError) as error:
        read_massive(path)
    message = str(error.value)
    assert f"{path}: line 2: field 'annot_utt'" in message and "id 7" in message
    assert problem in message


def test_well_formed_annotations_still_read_the_protocol_way(tmp_path):
    good = massive_row("wake me at five am this week", "wake me at [time : five am] [date : this week]")
    splits = read_massive(massive_file(tmp_path, good))
    assert splits["train"][1]["labels"]["slots"] == ["Other"] * 3 + ["time", "time", "date", "date"]


# --- other corrupted raw files ------------------------------------------------------------------


def test_a_bad_json_line_names_file_and_line(tmp_path):
    path = massive_file(tmp_path, massive_row("a", "a"))
    path.write_text(path.read_text().replace('"id": "7"', '"id": 7,,'), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}: line 2: invalid JSON"):
        read_massive(path)


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path):
    path = massive_file(tmp_path, massive_row("caf\u00e9", "caf\u00e9"))
    path.write_bytes(path.read_bytes().replace("\u00e9".encode(), b"\xe9"))
    with pytest.raises(DataError, match=rf"{path}: line 2: not UTF-8"):
        read_massive(path)


def test_a_truncated_gzip_file_is_named(tmp_path):
    path = tmp_path / "train.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps({"id": str(i), "text": "x" * 200}) + "\n" for i in range(500))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match=rf"{path}: after line \d+: truncated"):
        list(iter_jsonl(path))


def test_a_truncated_archive_is_named(tmp_path):
    raw = tmp_path / "raw"
    fetch("20newsgroups", raw, source="synthetic", seed=1)
    archive = raw / "20news-bydate.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match=f"{CHECKSUMS}"):
        verify_checksums(raw)  # caught before any reading
    with pytest.raises(DataError, match=rf"{archive}: not a readable 20news-bydate tar.gz"):
        derive_newsgroups(archive, tmp_path / "derived")
    assert not (tmp_path / "derived" / "train.jsonl").exists()


# --- SHA256SUMS ---------------------------------------------------------------------------------


@pytest.fixture
def raw_massive(tmp_path) -> Path:
    raw = tmp_path / "resources" / "raw" / "massive"
    fetch("massive", raw, source="synthetic", seed=3)
    return raw


def test_raw_files_are_verified_against_sha256sums(raw_massive):
    """Finding 6: SHA256SUMS was written at download and never read again."""
    assert verify_checksums(raw_massive) == 1
    data = raw_massive / "en-US.jsonl"
    data.write_bytes(data.read_bytes().replace(b"alarm", b"alarn", 1))
    with pytest.raises(DataError) as error:
        verify_checksums(raw_massive)
    message = str(error.value)
    assert str(data) in message and "SHA256SUMS" in message
    assert f"delete {raw_massive} and rerun" in message  # how to fetch it again


def test_a_raw_directory_without_its_checksums_or_files_is_refused(raw_massive):
    (raw_massive / "en-US.jsonl").unlink()
    with pytest.raises(DataError, match="listed in .*SHA256SUMS but missing"):
        verify_checksums(raw_massive)
    (raw_massive / CHECKSUMS).unlink()
    with pytest.raises(DataError, match="SHA256SUMS: missing"):
        verify_checksums(raw_massive)


def test_only_the_files_a_job_reads_are_checked(raw_massive):
    with pytest.raises(DataError, match="not listed"):
        verify_checksums(raw_massive, ["tasks/x.json"])
    assert verify_checksums(raw_massive, ["en-US.jsonl"]) == 1


@pytest.mark.slow
def test_the_derive_job_refuses_a_raw_file_changed_after_download(workdir):
    target = "resources/derived/massive/labels.json"
    args = [target, "--profile", "profiles/local", "--cores", "1", "--config", "preset=tiny"]
    first = snakemake(args, workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    raw = workdir / "resources/raw/massive/en-US.jsonl"
    raw.write_bytes(raw.read_bytes() + raw.read_bytes().splitlines(keepends=True)[0])
    again = snakemake([*args, "--forcerun", "derive_massive"], workdir)
    assert again.returncode != 0
    log = (workdir / "logs/derive/massive.log").read_text()
    assert f"{Path('resources/raw/massive/en-US.jsonl')}: sha256" in log
    assert "delete resources/raw/massive and rerun" in log


# --- interrupted writes -------------------------------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from ftrepro.io import write_jsonl

    def records():
        yield {"id": "1"}
        os.kill(os.getpid(), signal.SIGKILL)

    write_jsonl(sys.argv[1], records())
    """
)


def killed_write(target: Path) -> set[Path]:
    """What a writer of `target` killed with SIGKILL in the middle of the write left behind."""
    before = set(target.parent.iterdir())
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], env=os.environ)
    assert result.returncode == -signal.SIGKILL
    return set(target.parent.iterdir()) - before


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """Finding 8: interrupted writes left .tmp files behind that nothing cleaned up."""
    target, other = tmp_path / "predictions.jsonl", tmp_path / "predictions.jsonl.gz"
    leftover, other_leftover = killed_write(target), killed_write(other)
    assert len(leftover) == len(other_leftover) == 1 and not target.exists()
    write_jsonl(target, [{"id": "a"}])
    assert read_jsonl(target) == [{"id": "a"}]
    assert set(tmp_path.iterdir()) == {target, *other_leftover}  # another file's leftover is not ours
    write_jsonl(other, [{"id": "b"}])
    assert set(tmp_path.iterdir()) == {target, other}


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "model"
    with atomic_path(target) as mine:
        mine.mkdir()
        assert remove_stale_temporaries(target) == []
        assert mine.exists()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom ftrepro.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('x'); print(tmp, flush=True); time.sleep(60)",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        theirs = Path(writer.stdout.readline().strip())
        assert theirs.exists() and remove_stale_temporaries(target) == []
    finally:
        writer.kill()
        writer.wait()
    assert remove_stale_temporaries(target) == [theirs] and not theirs.exists()


def test_a_damaged_line_in_a_partial_file_is_redone_not_fatal(tmp_path, caplog):
    """A resumable job's cache with a bad line inside (not just a torn last line) used to stop
    every rerun; its record is now dropped, to be redone, and the file as found kept aside."""
    partial = tmp_path / "answers.partial.jsonl"
    lines = [
        '{"id": "1", "output": "a"}',
        '{"id": "2", "outp\x00',
        '{"id": "3", "output": "c"}',
        '{"id": "4"',
    ]
    partial.write_text("\n".join(lines))
    assert read_appended_jsonl(partial) == {"1": {"id": "1", "output": "a"}, "3": {"id": "3", "output": "c"}}
    assert partial.read_text() == lines[0] + "\n" + lines[2] + "\n"
    [aside] = tmp_path.glob("answers.partial.jsonl.corrupt-*")
    assert aside.read_text() == "\n".join(lines) and "1 unreadable line(s)" in caplog.text


def test_a_last_record_without_its_newline_is_kept(tmp_path):
    partial = tmp_path / "answers.partial.jsonl"
    partial.write_text('{"id": "1"}\n{"id": "2"}')
    assert list(read_appended_jsonl(partial)) == ["1", "2"]
    with open(partial, "a") as f:  # the next append starts on a line of its own
        f.write('{"id": "3"}\n')
    assert list(read_appended_jsonl(partial)) == ["1", "2", "3"]


def test_an_unreadable_job_stamp_starts_the_work_afresh(tmp_path):
    work = tmp_path / "work"
    prepare_work_dir(work, {"run": 1})
    (work / "checkpoints").mkdir()
    (work / "job.json").write_text('{"run": ')  # damaged by hand or by a full disk
    prepare_work_dir(work, {"run": 1})
    assert sorted(p.name for p in work.iterdir()) == ["job.json"]
    (work / "checkpoints").mkdir()
    prepare_work_dir(work, {"run": 1})  # stamped anew: resumed from then on
    assert (work / "checkpoints").is_dir()
