"""Corrupted raw files and interrupted writes (issue 17, findings 5, 6 and 8; issue 28, item 4).

Raw data is checked on the way in: a malformed MASSIVE slot annotation, a truncated archive, a
bad JSON line, bytes that are not UTF-8 and a file that no longer matches SHA256SUMS each give
an error naming the file and line or field. Derive refuses what it cannot vouch for: an empty
split, a SuperNI test task without instances, an Arena file whose rows are all malformed or that
ends inside a row, fewer rows than the pinned release, repeated ids, another locale. What a killed
writer leaves behind is cleaned up by the next write of the same file.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, SHARED_DATA, snakemake

from ftrepro import config as cfg
from ftrepro.data.arena import derive_arena
from ftrepro.data.massive import derive_massive, read_massive
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.sources import CHECKSUMS, fetch, verify_checksums
from ftrepro.data.superni import derive_superni
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
    target = "resources/tiny/derived/massive/labels.json"
    args = [target, "--profile", "profiles/local", "--cores", "1", "--config", "preset=tiny"]
    first = snakemake(args, workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    raw = workdir / "resources/tiny/raw/massive/en-US.jsonl"
    raw.write_bytes(raw.read_bytes() + raw.read_bytes().splitlines(keepends=True)[0])
    again = snakemake([*args, "--forcerun", "derive_massive"], workdir)
    assert again.returncode != 0
    log = (workdir / "logs/tiny/derive/massive.log").read_text()
    assert f"{Path('resources/tiny/raw/massive/en-US.jsonl')}: sha256" in log
    assert "delete resources/tiny/raw/massive and rerun" in log


# --- what derive refuses (issue 28, item 4) -----------------------------------------------------

PINS = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"}).data.hub


def massive_rows(n: int, partitions=("train", "dev", "test")) -> list[dict]:
    return [
        {
            **massive_row("wake me at five am", "wake me at [time : five am]", str(i)),
            "partition": partitions[i % len(partitions)],
        }
        for i in range(n)
    ]


def write_massive(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "rows, problem",
    [
        ([], "no train or dev or test rows"),
        (massive_rows(4, ("train", "test")), "no dev rows (rows per split: train 2, dev 0, test 2)"),
        (
            [*massive_rows(3), {**massive_rows(3)[1], "utt": "wake me at five am"}],
            "line 4: field 'id' repeats the id of line 2",
        ),
        (
            [*massive_rows(3), {**massive_rows(4)[3], "locale": "de-DE"}],
            "line 4: field 'locale' is 'de-DE'; expected 'en-US'",
        ),
    ],
    ids=["empty-file", "empty-split", "duplicate-id", "foreign-locale"],
)
def test_derive_refuses_massive_rows_it_cannot_vouch_for(tmp_path, rows, problem):
    """An empty file derived to empty splits (the fit failed later, naming the derived file);
    repeated ids and rows of another locale were accepted."""
    raw = write_massive(tmp_path / "en-US.jsonl", rows)
    with pytest.raises(DataError) as error:
        derive_massive(raw, tmp_path / "out")
    assert str(error.value).startswith(f"{raw}: ") and problem in str(error.value)
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_derive_refuses_fewer_rows_than_the_pinned_release(tmp_path):
    """The real MASSIVE file passes its pin (16,521 rows); one row short of it is refused."""
    real = SHARED_DATA / "massive" / "en-US.jsonl.gz"
    if not real.is_file():
        pytest.skip(f"no real MASSIVE file at {real}")
    rows = gzip.decompress(real.read_bytes()).splitlines(keepends=True)
    raw = tmp_path / "en-US.jsonl"
    raw.write_bytes(b"".join(rows))
    assert sum(derive_massive(raw, tmp_path / "whole", pinned_rows=PINS["massive"]["rows"]).values()) == 16521
    raw.write_bytes(b"".join(rows[:-1]))
    with pytest.raises(DataError, match=rf"{raw}: 16,520 rows, fewer than the 16,521 of the pinned release"):
        derive_massive(raw, tmp_path / "cut", pinned_rows=PINS["massive"]["rows"])


@pytest.fixture
def arena_csv(tmp_path) -> Path:
    fetch("arena", tmp_path / "raw", source="synthetic", seed=5)
    return tmp_path / "raw" / "train.csv"


def test_an_arena_file_cut_inside_a_row_is_refused(arena_csv, tmp_path):
    """Cut mid-row, 58 of the rows derived with exit 0; now the cut row is named."""
    text = arena_csv.read_bytes()
    line_ends = [i for i, byte in enumerate(text) if byte == ord("\n")]
    arena_csv.write_bytes(text[: line_ends[58] + 40])  # 58 whole rows, then 40 bytes of the next
    with pytest.raises(
        DataError, match=rf"{arena_csv}: ends inside row 59 \(id '\w+', .*\): the file was cut short"
    ):
        derive_arena(arena_csv, tmp_path / "out")
    with pytest.raises(
        DataError, match=rf"{arena_csv}: 58 rows, fewer than the 57,477 of the pinned release"
    ):
        arena_csv.write_bytes(text[: line_ends[58] + 1])  # cut at a row's end: only the pin can tell
        derive_arena(arena_csv, tmp_path / "out", pinned_rows=PINS["arena"]["rows"])
    assert not (tmp_path / "out" / "train.jsonl").exists()


@pytest.mark.parametrize("keep", ["header-only", "winners-all-zero"])
def test_an_arena_file_without_a_readable_row_names_the_file(arena_csv, tmp_path, keep):
    """Both stopped with scikit-learn's bare `ValueError: With n_samples=0`."""
    header, *rows = arena_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = [] if keep == "header-only" else [row.rsplit(",", 3)[0] + ",0,0,0\n" for row in rows]
    arena_csv.write_text(header + "".join(rows), encoding="utf-8")
    expected = (
        "none of its 0 rows"
        if keep == "header-only"
        else "none of its 1000 rows can be read (no_winner: 1000)"
    )
    with pytest.raises(DataError, match=rf"^{arena_csv}: {re.escape(expected)}"):
        derive_arena(arena_csv, tmp_path / "out")


def test_a_superni_test_task_without_instances_is_refused(tmp_path):
    """ "Instances": [] derived with exit 0; anchors then scored 128 rows instead of 192 and the
    task's category vanished."""
    raw = tmp_path / "raw"
    fetch("superni", raw, source="synthetic", seed=3, superni_tasks=None)
    task = (raw / "splits" / "default" / "test_tasks.txt").read_text().split()[0]
    path = raw / "tasks" / f"{task}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "Instances": []}), encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: field 'Instances' is empty"):
        derive_superni(raw, tmp_path / "out", test_tasks=[task], train_tasks=0)
    assert not (tmp_path / "out").exists()


def test_fewer_newsgroups_documents_than_the_pinned_release_are_refused(tmp_path):
    raw = tmp_path / "raw"
    fetch("20newsgroups", raw, source="synthetic", seed=1)
    with pytest.raises(
        DataError, match=r"20news-bydate.tar.gz: \d+ rows, fewer than the 18,846 of the pinned"
    ):
        derive_newsgroups(
            raw / "20news-bydate.tar.gz", tmp_path / "out", pinned_rows=PINS["20newsgroups"]["rows"]
        )


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
