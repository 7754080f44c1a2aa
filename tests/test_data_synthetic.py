"""Synthetic raw data: real file formats, determinism, learnable signal, closed vocabulary;
plus fetch_local on a local directory built from it."""

from __future__ import annotations

import csv
import json
import re
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from ftrepro.data import DATASETS
from ftrepro.data.massive import derive_massive, word_slot_labels
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.sources import RAW_FILES, fetch_local
from ftrepro.data.synthetic import NEWSGROUP_WORDS, vocabulary, write_synthetic_raw

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TASK_KEYS = [
    "Contributors",
    "Source",
    "URL",
    "Categories",
    "Reasoning",
    "Definition",
    "Input_language",
    "Output_language",
    "Instruction_language",
    "Domains",
    "Positive Examples",
    "Negative Examples",
    "Instances",
]
ARENA_COLUMNS = [
    "id",
    "model_a",
    "model_b",
    "prompt",
    "response_a",
    "response_b",
    "winner_model_a",
    "winner_model_b",
    "winner_tie",
]
TEST_TASKS = [
    "task1356_xlsum_title_generation",
    "task641_esnli_classification",
    "task1557_jfleg_answer_generation",
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """A raw root with all four synthetic datasets (seed 7)."""
    root = tmp_path_factory.mktemp("raw")
    for dataset in DATASETS:
        sizes = {"test_tasks": TEST_TASKS} if dataset == "superni" else {}
        write_synthetic_raw(dataset, root / dataset, seed=7, **sizes)
    return root


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def _newsgroup_docs(tar_path: Path) -> dict[str, str]:
    with tarfile.open(tar_path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode("latin-1") for m in tar if m.isfile()}


def _arena(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def _emitted_texts(root: Path) -> list[str]:
    """Every piece of text a model could read from the four raw datasets."""
    texts = list(_newsgroup_docs(root / "20newsgroups" / "20news-bydate.tar.gz").values())
    for line in (root / "massive" / "en-US.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts += [row["utt"], row["annot_utt"], row["intent"]]
    for path in (root / "superni" / "tasks").glob("*.json"):
        task = json.loads(path.read_text())
        examples = task["Positive Examples"] + task["Negative Examples"]
        texts += task["Definition"] + [e[k] for e in examples for k in ("input", "output", "explanation")]
        texts += [i["input"] for i in task["Instances"]] + [o for i in task["Instances"] for o in i["output"]]
    arena = _arena(root / "arena" / "train.csv")
    for column in ("prompt", "response_a", "response_b"):
        texts += [turn for cell in arena[column] for turn in json.loads(cell) if turn is not None]
    return texts + list(arena.model_a) + list(arena.model_b)


def test_vocabulary_is_sorted_unique_and_covers_every_emitted_token(raw):
    vocab = vocabulary()
    assert vocab == sorted(set(vocab))
    emitted = {tok for text in _emitted_texts(raw) for tok in re.findall(r"\w+|[^\w\s]+", text)}
    assert emitted - set(vocab) == set()
    # label names are listed too (decoders generate them)
    assert {"alarm_set", "place_name", "sports"} <= set(vocab)


def test_newsgroups_raw_is_a_bydate_archive(raw):
    docs = _newsgroup_docs(raw / "20newsgroups" / "20news-bydate.tar.gz")
    for split in ("train", "test"):
        per_group = {
            g: [n for n in docs if n.startswith(f"20news-bydate-{split}/{g}/")] for g in NEWSGROUP_WORDS
        }
        assert len(per_group) == 20 and min(len(v) for v in per_group.values()) >= 15
    for name, text in docs.items():
        assert re.fullmatch(r"20news-bydate-(train|test)/[a-z.-]+/\d+", name)
        headers, _, body = text.partition("\n\n")
        fields = dict(line.split(": ", 1) for line in headers.splitlines())
        assert {"From", "Subject", "Organization", "Lines"} <= set(fields)
        assert int(fields["Lines"]) == len(body.rstrip("\n").split("\n"))
    assert any("é" in text for text in docs.values())  # latin-1 bytes, decoded as the real loader does


def test_newsgroups_derive_keeps_a_learnable_signal(raw, tmp_path):
    counts = derive_newsgroups(raw / "20newsgroups" / "20news-bydate.tar.gz", tmp_path, max_rows=None, seed=1)
    assert counts == {"train": 20 * 20, "test": 20 * 15}
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["20class"] == sorted(NEWSGROUP_WORDS) and len(labels["7class"]) == 7
    # a bag-of-words baseline separates the groups once headers are stripped: the body carries the signal
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    derive_newsgroups(raw / "20newsgroups" / "20news-bydate.tar.gz", tmp_path, seed=1, remove=("headers",))
    train, test = (
        [json.loads(x) for x in (tmp_path / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "test")
    )
    assert not any(r["text"].startswith("From:") for r in train)
    vectorizer = CountVectorizer()
    x_train = vectorizer.fit_transform([r["text"] for r in train])
    model = MultinomialNB().fit(x_train, [r["labels"]["20class"] for r in train])
    accuracy = model.score(
        vectorizer.transform([r["text"] for r in test]), [r["labels"]["20class"] for r in test]
    )
    assert accuracy > 0.9


def test_newsgroups_dev_split_is_held_out_of_train_before_the_caps(raw, tmp_path):
    tar = raw / "20newsgroups" / "20news-bydate.tar.gz"
    counts = derive_newsgroups(tar, tmp_path, max_rows={"train": 100, "dev": 30}, seed=1, dev_rows=40)
    assert counts == {"train": 100, "test": 20 * 15, "dev": 30}
    train, dev = (
        [json.loads(x) for x in (tmp_path / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "dev")
    )
    assert not {r["id"] for r in train} & {r["id"] for r in dev}
    assert all(r["id"].startswith("train/") for r in dev)  # documents of the release's train split
    whole = derive_newsgroups(tar, tmp_path / "whole", seed=1, dev_rows=40)
    assert whole == {"train": 20 * 20 - 40, "test": 20 * 15, "dev": 40}
    derive_newsgroups(tar, tmp_path / "none", seed=1)
    assert not (tmp_path / "none" / "dev.jsonl").exists()


def test_massive_raw_has_the_release_fields_and_consistent_annotations(raw, tmp_path):
    rows = [json.loads(line) for line in (raw / "massive" / "en-US.jsonl").read_text().splitlines()]
    assert len(rows) >= 300
    for row in rows:
        assert list(row) == [
            "id",
            "locale",
            "partition",
            "scenario",
            "intent",
            "utt",
            "annot_utt",
            "worker_id",
        ]
        # removing the "[slot :" and "]" marks from annot_utt gives utt back exactly
        assert re.sub(r"\[\w+ : ([^\]]*)\]", r"\1", row["annot_utt"]) == row["utt"]
        assert len(word_slot_labels(row["utt"], row["annot_utt"], record_id=row["id"])) == len(
            row["utt"].split()
        )
    assert {r["partition"] for r in rows} == {"train", "dev", "test"}
    assert [r["id"] for r in rows] == [str(i) for i in range(len(rows))]
    counts = derive_massive(raw / "massive" / "en-US.jsonl", tmp_path, max_rows=None, seed=1)
    assert sum(counts.values()) == len(rows)
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert "Other" in labels["slots"] and {"time", "date", "place_name"} <= set(labels["slots"])


def test_superni_raw_has_the_task_json_format(raw):
    splits = raw / "superni" / "splits" / "default"
    names = {s: (splits / f"{s}_tasks.txt").read_text().split() for s in ("train", "test", "excluded")}
    assert names["test"] == TEST_TASKS and names["train"] and names["excluded"]
    expected_keys = TASK_KEYS
    sample = sorted((SHARED / "superni" / "tasks-sample").glob("*.json"))
    if sample:  # compare with a real task file when the shared data is there
        expected_keys = list(json.loads(sample[0].read_text()))
    for name in sum(names.values(), []):
        task = json.loads((raw / "superni" / "tasks" / f"{name}.json").read_text())
        assert list(task) == expected_keys
        assert len(task["Definition"]) == 1 and len(task["Positive Examples"]) >= 2
        assert all(set(e) == {"input", "output", "explanation"} for e in task["Positive Examples"])
        prefix = name.split("_")[0]
        for instance in task["Instances"]:
            assert re.fullmatch(rf"{prefix}-[0-9a-f]{{32}}", instance["id"])
            assert isinstance(instance["input"], str) and instance["output"]
            assert all(isinstance(o, str) for o in instance["output"])
    assert len(list((raw / "superni" / "tasks").glob("*.json"))) == sum(len(v) for v in names.values())


def test_superni_outputs_are_functions_of_the_inputs(raw):
    title = json.loads((raw / "superni" / "tasks" / "task1356_xlsum_title_generation.json").read_text())
    # test tasks get categories in the order of the 12 evaluation categories
    assert title["Categories"] == ["Textual Entailment"]
    for instance in title["Instances"]:  # contains-the-word task: yes iff the word is in the sentence
        sentence, word = re.fullmatch(r"Sentence: (.*)\. Word: (\w+)\.", instance["input"]).groups()
        assert instance["output"] == ["yes" if word in sentence.split() else "no"]
    reverse = next((raw / "superni" / "tasks").glob("*_synthetic_reverse.json"))
    for instance in json.loads(reverse.read_text())["Instances"]:
        assert instance["output"] == [" ".join(reversed(instance["input"].rstrip(".").split()))]


def test_superni_categories_can_be_given(tmp_path):
    write_synthetic_raw(
        "superni",
        tmp_path,
        seed=1,
        test_tasks=["task1_a"],
        categories={"task1_a": "Title Generation"},
        n_train_tasks=2,
        instances_per_task=5,
    )
    task = json.loads((tmp_path / "tasks" / "task1_a.json").read_text())
    assert task["Categories"] == ["Title Generation"] and len(task["Instances"]) == 5


def test_arena_raw_is_a_kaggle_csv_with_a_preference_signal(raw):
    with open(raw / "arena" / "train.csv", newline="") as f:
        assert next(csv.reader(f)) == ARENA_COLUMNS
    df = _arena(raw / "arena" / "train.csv")
    assert len(df) >= 200 and df["id"].is_unique
    assert (df[["winner_model_a", "winner_model_b", "winner_tie"]].sum(axis=1) == 1).all()
    turns = [
        (json.loads(p), json.loads(a), json.loads(b))
        for p, a, b in zip(df.prompt, df.response_a, df.response_b)
    ]
    assert all(len(p) == len(a) == len(b) >= 1 for p, a, b in turns)
    assert any(None in a + b for _, a, b in turns)  # null turns, as in the real data

    def helpful(turns):
        return sum(t is not None and t.startswith(("sure", "great")) for t in turns)

    # the side with more helpful answers wins far more often than chance (1/3)
    guess = ["a" if helpful(a) > helpful(b) else "b" if helpful(b) > helpful(a) else "t" for _, a, b in turns]
    gold = ["a" if ra else "b" if rb else "t" for ra, rb in zip(df.winner_model_a, df.winner_model_b)]
    assert sum(g == p for g, p in zip(gold, guess)) / len(gold) > 0.6


@pytest.mark.parametrize("dataset", DATASETS)
def test_same_seed_same_bytes_other_seed_other_bytes(dataset, raw, tmp_path):
    sizes = {"test_tasks": TEST_TASKS} if dataset == "superni" else {}
    write_synthetic_raw(dataset, tmp_path / "again", seed=7, **sizes)
    write_synthetic_raw(dataset, tmp_path / "other", seed=8, **sizes)
    assert _files(tmp_path / "again") == _files(raw / dataset)
    assert _files(tmp_path / "other") != _files(raw / dataset)


def test_sizes_are_honoured(tmp_path):
    write_synthetic_raw("massive", tmp_path / "m", seed=1, n_rows=40)
    write_synthetic_raw("arena", tmp_path / "a", seed=1, n_rows=12)
    write_synthetic_raw("20newsgroups", tmp_path / "n", seed=1, train_per_group=2, test_per_group=1)
    assert len((tmp_path / "m" / "en-US.jsonl").read_text().splitlines()) == 40
    assert len(_arena(tmp_path / "a" / "train.csv")) == 12
    assert len(_newsgroup_docs(tmp_path / "n" / "20news-bydate.tar.gz")) == 20 * 3
    with pytest.raises(ValueError, match="unknown dataset"):
        write_synthetic_raw("imdb", tmp_path, seed=1)


@pytest.mark.parametrize("dataset", DATASETS)
def test_fetch_local_copies_the_raw_files(dataset, raw, tmp_path):
    written = fetch_local(dataset, raw, tmp_path / dataset)
    assert written == [tmp_path / p for p in RAW_FILES[dataset]]
    assert _files(tmp_path / dataset) == _files(raw / dataset)


def test_fetch_local_decompresses_gzipped_massive(raw, tmp_path):
    import gzip

    local = tmp_path / "local"
    (local / "massive").mkdir(parents=True)
    data = (raw / "massive" / "en-US.jsonl").read_bytes()
    (local / "massive" / "en-US.jsonl.gz").write_bytes(gzip.compress(data))
    fetch_local("massive", local, tmp_path / "out")
    assert (tmp_path / "out" / "en-US.jsonl").read_bytes() == data


@pytest.mark.parametrize(
    "dataset, missing, hint",
    [
        ("20newsgroups", "20news-bydate.tar.gz", "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz"),
        ("massive", "en-US.jsonl", "AmazonScience/massive"),
        ("superni", "tasks/*.json", "https://github.com/allenai/natural-instructions"),
        ("arena", "train.csv", "lmsys/lmsys-arena-human-preference-55k"),
    ],
)
def test_fetch_local_names_the_missing_file_where_it_looked_and_how_to_get_it(
    dataset, missing, hint, tmp_path
):
    with pytest.raises(FileNotFoundError) as err:
        fetch_local(dataset, tmp_path / "empty", tmp_path / "out")
    message = str(err.value)
    assert missing in message and str(tmp_path / "empty" / dataset) in message and hint in message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_fetch_local_superni_needs_the_split_files(raw, tmp_path):
    local = tmp_path / "local" / "superni"
    local.mkdir(parents=True)
    (local / "tasks").symlink_to(raw / "superni" / "tasks")
    with pytest.raises(FileNotFoundError, match="splits/default/train_tasks.txt"):
        fetch_local("superni", tmp_path / "local", tmp_path / "out")
