"""Data statistics: counts and token-length percentiles against counts made here, Markdown, CLI, real MASSIVE."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ftrepro.cli import main
from ftrepro.data import cap_rows
from ftrepro.data.arena import derive_arena
from ftrepro.data.massive import derive_massive
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.stats import dataset_stats, write_stats_md
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import DataError
from ftrepro.models.tiny import tiny_tokenizer

REAL_MASSIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "massive" / "en-US.jsonl.gz"
SPLITS = {
    "20newsgroups": ("train", "test"),
    "massive": ("train", "dev", "test"),
    "arena": ("train", "dev", "test"),
}
# (task, category, rows in train / validation / test)
SUPERNI_TASKS = [
    ("task001_a", "Question Rewriting", 7, 2, 5),
    ("task002_b", "Question Rewriting", 0, 1, 4),
    ("task003_c", "Title Generation", 3, 2, 6),
]
PREFINETUNE_TASKS = {
    "task100_x": "Text Categorization",
    "task101_y": "Text Categorization",
    "task102_z": "Misc.",
}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _superni_record(task: str, category: str, i: int) -> dict:
    words = " ".join(["word"] * (i % 5 + 1))
    return {
        "task": task,
        "category": category,
        "id": f"{task}-{i}",
        "input": words,
        "references": [words],
        "encodings": {
            "def_pos": f"Definition : rewrite it . Now complete the following example - Input : {words}",
            "input_only": words,
        },
    }


def _write_superni(out: Path) -> None:
    for task, category, *sizes in SUPERNI_TASKS:
        for split, n in zip(("train", "validation", "test"), sizes):
            _write(
                out / "tasks" / task / f"{split}.jsonl",
                [_superni_record(task, category, i) for i in range(n)],
            )
    _write(
        out / "prefinetune.jsonl",
        [
            _superni_record(task, category, i)
            for task, category in PREFINETUNE_TASKS.items()
            for i in range(4)
        ],
    )
    (out / "manifest.json").write_text(
        json.dumps({"tasks": {t: {"category": c} for t, c, *_ in SUPERNI_TASKS}})
    )


@pytest.fixture(scope="module")
def derived(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    raw = {
        d: write_synthetic_raw(d, root / "raw" / d, seed=3, **sizes)[0]
        for d, sizes in (
            ("20newsgroups", {"train_per_group": 4, "test_per_group": 3}),
            ("massive", {"n_rows": 200}),
            ("arena", {"n_rows": 150}),
        )
    }
    derive_newsgroups(raw["20newsgroups"], root / "derived" / "20newsgroups")
    derive_massive(raw["massive"], root / "derived" / "massive")
    derive_arena(raw["arena"], root / "derived" / "arena")
    _write_superni(root / "derived" / "superni")
    return root / "derived"


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer("bert")


def _model_input(dataset: str, record: dict) -> str:
    if dataset == "arena":
        return "\n".join(record["prompt"] + record["response_a"] + record["response_b"])
    return record["text"]


def _percentiles(tokenizer, texts: list[str]) -> dict:
    lengths = [len(tokenizer(text)["input_ids"]) for text in texts]  # one text at a time
    return dict(zip(("p50", "p90", "p99"), np.percentile(lengths, [50, 90, 99]).tolist()))


@pytest.mark.parametrize("dataset", ["20newsgroups", "massive", "arena"])
def test_rows_and_labels_equal_counts_of_the_files(dataset, derived):
    stats = dataset_stats(dataset, derived / dataset)
    records = {split: _read(derived / dataset / f"{split}.jsonl") for split in SPLITS[dataset]}
    assert stats["rows"] == {split: len(rows) for split, rows in records.items()}
    if dataset == "arena":
        expected = {"label": {s: Counter(r["label"] for r in rows) for s, rows in records.items()}}
    elif dataset == "20newsgroups":
        expected = {
            k: {s: Counter(r["labels"][k] for r in rows) for s, rows in records.items()}
            for k in ("20class", "7class")
        }
    else:
        expected = {
            "intent": {s: Counter(r["labels"]["intent"] for r in rows) for s, rows in records.items()},
            "slots": {
                s: Counter(w for r in rows for w in r["labels"]["slots"] if w != "Other")
                for s, rows in records.items()
            },
        }
        assert stats["outside_words"] == {
            s: sum(r["labels"]["slots"].count("Other") for r in rows) for s, rows in records.items()
        }
    assert stats["labels"] == expected
    assert "tokens" not in stats


def test_superni_tasks_categories_and_prefinetune(derived):
    stats = dataset_stats("superni", derived / "superni")
    assert stats["tasks"] == {
        t: {"category": c, "train": a, "validation": b, "test": n} for t, c, a, b, n in SUPERNI_TASKS
    }
    assert stats["categories"] == {
        "Question Rewriting": {"tasks": 2, "train": 7, "validation": 3, "test": 9},
        "Title Generation": {"tasks": 1, "train": 3, "validation": 2, "test": 6},
    }
    assert stats["rows"] == {"train": 10, "validation": 5, "test": 15, "prefinetune": 12}
    assert stats["prefinetune"] == {"rows": 12, "tasks": 3, "categories": 2}


@pytest.mark.parametrize("dataset", ["20newsgroups", "massive", "arena"])
def test_token_percentiles_equal_numpy_percentiles(dataset, derived, tokenizer):
    stats = dataset_stats(dataset, derived / dataset, tokenizer, sample=10_000)
    for split in SPLITS[dataset]:
        texts = [_model_input(dataset, r) for r in _read(derived / dataset / f"{split}.jsonl")]
        (measured,) = [by_split[split] for by_split in stats["tokens"]["lengths"].values()]
        assert measured == {"rows": len(texts), "of": len(texts), **_percentiles(tokenizer, texts)}


def test_superni_percentiles_of_both_encodings(derived, tokenizer):
    stats = dataset_stats("superni", derived / "superni", tokenizer)
    for encoding in ("def_pos", "input_only"):
        test_rows = [
            r for t, *_ in SUPERNI_TASKS for r in _read(derived / "superni" / "tasks" / t / "test.jsonl")
        ]
        expected = _percentiles(tokenizer, [r["encodings"][encoding] for r in test_rows])
        assert stats["tokens"]["lengths"][encoding]["test"] == {"rows": 15, "of": 15, **expected}
    assert (
        stats["tokens"]["lengths"]["def_pos"]["test"]["p50"]
        > stats["tokens"]["lengths"]["input_only"]["test"]["p50"]
    )


def test_percentiles_over_a_seeded_sample(derived, tokenizer):
    stats = dataset_stats("massive", derived / "massive", tokenizer, sample=40, seed=5)
    texts = [r["text"] for r in _read(derived / "massive" / "train.jsonl")]
    expected = _percentiles(tokenizer, cap_rows(texts, 40, 5))
    assert stats["tokens"]["lengths"]["text"]["train"] == {"rows": 40, "of": len(texts), **expected}
    assert dataset_stats("massive", derived / "massive", tokenizer, sample=40, seed=5) == stats
    assert dataset_stats("massive", derived / "massive", tokenizer, sample=40, seed=6) != stats


def test_markdown_names_tokenizer_counts_and_sampling(derived, tokenizer, tmp_path):
    stats = {d: dataset_stats(d, derived / d, tokenizer, sample=50) for d in ("massive", "superni")}
    stats["arena"] = dataset_stats("arena", derived / "arena")
    out = tmp_path / "stats.md"
    write_stats_md(
        stats,
        out,
        tokenizer_names={"massive": "tiny-bert", "superni": "tiny-t5"},
        skipped={"20newsgroups": "not derived"},
    )
    text = out.read_text()
    for dataset in ("massive", "superni", "arena"):
        assert f"## {dataset}\n" in text
    assert "Tokenizer: `tiny-bert`" in text and "Tokenizer: `tiny-t5`" in text
    assert "- 20newsgroups: not derived" in text and "Token lengths not computed" in text
    n_train = stats["massive"]["rows"]["train"]
    assert re.search(rf"\| train +\| +{n_train:,} \|", text)
    assert f"| 50 of {n_train:,} (sample) " in text and "| 15 (all) " in text
    assert re.search(r"\| task003_c +\| Title Generation +\| +3 \| +2 \| +6 \|", text)


def test_bad_record_names_file_and_line(tmp_path):
    _write(tmp_path / "arena" / "train.jsonl", [{"id": "1", "label": "A"}, {"id": "2"}])
    _write(tmp_path / "arena" / "dev.jsonl", [])
    _write(tmp_path / "arena" / "test.jsonl", [])
    with pytest.raises(DataError, match=r"train\.jsonl: line 2: unexpected record layout"):
        dataset_stats("arena", tmp_path / "arena")


def test_cli_writes_stats_and_reports_missing_datasets(derived, tokenizer, tmp_path, capsys):
    tokenizer.save_pretrained(tmp_path / "tok")
    derived_copy = tmp_path / "derived"
    derived_copy.mkdir()
    (derived_copy / "massive").symlink_to(derived / "massive")
    out = tmp_path / "results" / "stats.md"
    status = main(
        [
            "stats",
            "--derived",
            str(derived_copy),
            "--out",
            str(out),
            "--tokenizer",
            str(tmp_path / "tok"),
            "--datasets",
            "massive",
            "arena",
            "--sample",
            "30",
        ]
    )
    assert status == 0
    text = out.read_text()
    assert "## massive" in text and f"Tokenizer: `{tmp_path / 'tok'}`" in text and "(sample)" in text
    assert f"- arena: `{derived_copy / 'arena'}` not found" in text and "## arena" not in text
    assert "skipping arena" in capsys.readouterr().err


def test_cli_takes_a_tokenizer_per_dataset(derived, tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path / "tok")
    tiny_tokenizer("t5").save_pretrained(tmp_path / "t5")
    out = tmp_path / "stats.md"
    main(
        [
            "stats",
            "--derived",
            str(derived),
            "--out",
            str(out),
            "--datasets",
            "massive",
            "superni",
            "--tokenizer",
            str(tmp_path / "tok"),
            "--tokenizer",
            f"superni={tmp_path / 't5'}",
        ]
    )
    text = out.read_text()
    massive_part, superni_part = text.split("## superni")
    assert (
        f"Tokenizer: `{tmp_path / 'tok'}`" in massive_part
        and f"Tokenizer: `{tmp_path / 't5'}`" in superni_part
    )


def test_cli_bad_data_exits_with_the_error(tmp_path, capsys):
    _write(tmp_path / "arena" / "train.jsonl", [{"id": "1"}])
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["stats", "--derived", str(tmp_path), "--out", str(tmp_path / "stats.md"), "--datasets", "arena"]
        )
    assert exit_info.value.code == 1 and "train.jsonl: line 1" in capsys.readouterr().err
    assert not (tmp_path / "stats.md").exists()


def test_cli_prints_by_default_and_never_writes_the_pipeline_s_file(derived, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["stats", "--derived", str(derived), "--datasets", "massive"]) == 0
    assert "## massive" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # results/<preset>/data/stats.md is the pipeline's, not written


def test_cli_a_missing_directory_is_an_error(tmp_path, capsys):
    for derived in (tmp_path / "nothing", tmp_path):  # no directory; one without any dataset
        with pytest.raises(SystemExit) as exit_info:
            main(["stats", "--derived", str(derived), "--out", str(tmp_path / "stats.md")])
        err = capsys.readouterr().err
        assert exit_info.value.code == 1 and str(derived) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "stats.md").exists()


def test_cli_a_wrong_tokenizer_is_one_line_naming_it(derived, tmp_path, capsys):
    wrong = "resources/models/base/no-such-model"
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--derived", str(derived), "--datasets", "massive", "--tokenizer", wrong])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"ftrepro stats: error: tokenizer {wrong!r}: not a model directory")


def test_real_massive(tmp_path, tokenizer):
    raw = tmp_path / "en-US.jsonl"
    raw.write_bytes(gzip.decompress(REAL_MASSIVE.read_bytes()))
    derive_massive(raw, tmp_path / "massive")
    stats = dataset_stats("massive", tmp_path / "massive", tokenizer)
    rows = _read(raw)
    assert stats["rows"] == {"train": 11_514, "dev": 2_033, "test": 2_974}
    for split in ("train", "dev", "test"):
        assert stats["labels"]["intent"][split] == Counter(
            r["intent"] for r in rows if r["partition"] == split
        )
        words = sum(len(r["utt"].split()) for r in rows if r["partition"] == split)
        assert sum(stats["labels"]["slots"][split].values()) + stats["outside_words"][split] == words
    assert len({i for counts in stats["labels"]["intent"].values() for i in counts}) == 60
    assert len({s for counts in stats["labels"]["slots"].values() for s in counts}) == 55
    assert stats["tokens"]["lengths"]["text"]["train"]["rows"] == 10_000
    assert stats["tokens"]["lengths"]["text"]["test"]["rows"] == 2_974
