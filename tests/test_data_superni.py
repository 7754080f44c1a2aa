"""SuperNI derivation: the def-pos encoding (docs/protocols.md 1.2) to the character, the official test
selection on real task files, nested seeded subsets, Tk-Instruct's training-task sampling, bad input."""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import SUPERNI_SAMPLE_TASKS, superni_sample

from ftrepro.data.superni import def_pos_prompt, derive_superni, missing_negatives, read_split, read_task
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.io import DataError

SUPERNI = Path(__file__).resolve().parents[2] / "shared" / "data" / "superni"
SAMPLE_TASKS = SUPERNI_SAMPLE_TASKS
RECORD_KEYS = ["task", "category", "id", "input", "references", "encodings"]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _ids(path: Path) -> list[str]:
    return [r["id"] for r in _read(path)]


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def _task(definition=("Answer the question.",), examples=(("Is it?", "Yes!"), ("Was it?", "No!"))) -> dict:
    return {
        "Definition": list(definition) if isinstance(definition, tuple) else definition,
        "Positive Examples": [{"input": i, "output": o, "explanation": "e"} for i, o in examples],
    }


# --- the def-pos encoding -------------------------------------------------------------------


def test_def_pos_keeps_punctuation_already_there():
    assert def_pos_prompt(_task(), "Why?") == (
        "Definition: Answer the question.\n\n"
        " Positive Example 1 -\nInput: Is it?\n Output: Yes!\n\n"
        " Positive Example 2 -\nInput: Was it?\n Output: No!\n\n"
        "Now complete the following example -\nInput: Why?\nOutput: "
    )


def test_def_pos_adds_periods_and_strips_fields():
    task = _task(definition=("  Answer the question \n",), examples=((" is it ", "\tyes"), ("was it", "no ")))
    assert def_pos_prompt(task, "  why\n") == (
        "Definition: Answer the question.\n\n"
        " Positive Example 1 -\nInput: is it.\n Output: yes.\n\n"
        " Positive Example 2 -\nInput: was it.\n Output: no.\n\n"
        "Now complete the following example -\nInput: why.\nOutput: "
    )


def test_def_pos_period_rule_looks_at_the_last_character_built_so_far():
    # an empty field leaves "Input: " (a space: add "."); a quote is ASCII punctuation; "…" is not
    task = _task(definition=('Say it "loud"',), examples=(("", ""), ("wait…", "ok")))
    assert def_pos_prompt(task, "") == (
        'Definition: Say it "loud"\n\n'
        " Positive Example 1 -\nInput: .\n Output: .\n\n"
        " Positive Example 2 -\nInput: wait….\n Output: ok.\n\n"
        "Now complete the following example -\nInput: .\nOutput: "
    )


def test_def_pos_definition_is_element_0_of_a_list_or_the_string():
    query = "Now complete the following example -\nInput: x.\nOutput: "
    assert (
        def_pos_prompt(_task(definition=("First", "Second"), examples=()), "x")
        == "Definition: First.\n\n" + query
    )
    assert def_pos_prompt(_task(definition="Whole", examples=()), "x") == "Definition: Whole.\n\n" + query
    assert def_pos_prompt(_task(definition=("",), examples=()), "x") == "Definition: .\n\n" + query


def test_def_pos_uses_at_most_two_positive_examples():
    one = _task(examples=(("a", "b"),))
    assert def_pos_prompt(one, "x") == (
        "Definition: Answer the question.\n\n Positive Example 1 -\nInput: a.\n Output: b.\n\n"
        "Now complete the following example -\nInput: x.\nOutput: "
    )
    three = _task(examples=(("a", "b"), ("c", "d"), ("e", "f")))
    assert def_pos_prompt(three, "x") == (
        "Definition: Answer the question.\n\n Positive Example 1 -\nInput: a.\n Output: b.\n\n"
        " Positive Example 2 -\nInput: c.\n Output: d.\n\n"
        "Now complete the following example -\nInput: x.\nOutput: "
    )


def test_def_pos_length_check_sees_what_the_collator_checks_and_stops_at_the_first_misfit():
    task = _task(examples=(("a", "b"), ("c", "d")))
    definition = "Definition: Answer the question.\n\n"
    ex1 = " Positive Example 1 -\nInput: a.\n Output: b.\n\n"
    ex2 = " Positive Example 2 -\nInput: c.\n Output: d.\n\n"
    query = "Now complete the following example -\nInput: x.\nOutput: "
    seen: list[str] = []

    def fits_one(text: str) -> bool:
        seen.append(text)
        return len(seen) == 1

    assert def_pos_prompt(task, "x", fits=fits_one) == definition + ex1 + query
    assert seen == [definition + ex1 + query, definition + ex1 + ex2 + query]
    seen.clear()
    # a first example that does not fit ends example-adding, even if the second would fit
    assert (
        def_pos_prompt(task, "x", fits=lambda text: seen.append(text) or len(seen) > 1) == definition + query
    )
    assert seen == [definition + ex1 + query]


def test_a_negative_example_takes_the_second_positive_one_s_place_after_the_positives():
    # Tk-Instruct's collator: positive examples, then negative ones, each block as the positives'
    task = {**_task(), "Negative Examples": [{"input": "Is not?", "output": "Maybe", "explanation": "e"}]}
    assert def_pos_prompt(task, "Why?", prompt="def-pos1-neg1") == (
        "Definition: Answer the question.\n\n"
        " Positive Example 1 -\nInput: Is it?\n Output: Yes!\n\n"
        " Negative Example 1 -\nInput: Is not?\n Output: Maybe.\n\n"
        "Now complete the following example -\nInput: Why?\nOutput: "
    )
    assert def_pos_prompt(task, "Why?") == def_pos_prompt(_task(), "Why?")  # def-pos ignores them
    assert missing_negatives(task, "def-pos1-neg1") == 0 and missing_negatives(_task(), "def-pos1-neg1") == 1


def test_the_negative_example_s_length_check_sees_the_kept_positives_as_the_collator_does():
    task = {**_task(), "Negative Examples": [{"input": "n", "output": "m"}]}
    seen: list[str] = []
    prompt = def_pos_prompt(
        task, "x", fits=lambda text: seen.append(text) or len(seen) == 1, prompt="def-pos1-neg1"
    )
    definition, pos = (
        "Definition: Answer the question.\n\n",
        " Positive Example 1 -\nInput: Is it?\n Output: Yes!\n\n",
    )
    query = "Now complete the following example -\nInput: x.\nOutput: "
    neg = " Negative Example 1 -\nInput: n.\n Output: m.\n\n"
    assert seen == [definition + pos + query, definition + pos + neg + query]
    assert prompt == definition + pos + query  # the negative did not fit


def test_a_malformed_negative_example_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "task.json"
    task = {**_task(), "Categories": ["c"], "Instances": [], "Negative Examples": [{"input": "n"}]}
    path.write_text(json.dumps(task))
    with pytest.raises(DataError, match=r"field 'Negative Examples' \[0\]: 'output' missing"):
        read_task(path)


def test_def_pos_on_a_real_task_file():
    task = read_task(SUPERNI / "tasks-sample" / "task1345_glue_qqp_question_paraprashing.json")
    expected = (
        "Definition: In this task you're given a question and you have to paraphrase the question to create the "
        "output question while retaining the meaning of the original question.\n\n"
        " Positive Example 1 -\nInput: What can one do after MBBS?\n Output: What do i do after my MBBS ?\n\n"
        " Positive Example 2 -\nInput: Which is the best book to study TENSOR for general relativity from basic?\n"
        " Output: Which is the best book for tensor calculus?\n\n"
        "Now complete the following example -\n"
        "Input: How is the life of a math student? Could you describe your own experiences?\nOutput: "
    )
    assert def_pos_prompt(task, task["Instances"][0]["input"]) == expected


# --- the real splits and the real task files ------------------------------------------------


def test_real_split_files():
    test, train = read_split(SUPERNI, "test"), read_split(SUPERNI, "train")
    assert len(test) == len(set(test)) == 119
    assert len(train) == len(set(train)) == 756
    assert not set(test) & set(train)


@pytest.fixture(scope="module")
def references() -> dict[str, list[dict]]:
    """The official default-track references, per task in file order."""
    per_task = defaultdict(list)
    with gzip.open(SUPERNI / "test_references.jsonl.gz", "rt", encoding="utf-8") as f:
        for row in map(json.loads, f):
            if row["track"] == "default":
                per_task[row["task_id"]].append(row)
    return per_task


@pytest.fixture(scope="module")
def derived(tmp_path_factory) -> Path:
    return superni_sample(tmp_path_factory.mktemp("superni"))[1]


@pytest.fixture(scope="module")
def mirror(derived) -> Path:
    """The raw directory the sample was derived from: the real task files and split lists."""
    return derived.parent / "raw"


def test_test_split_is_the_official_selection(derived, references):
    for task in SAMPLE_TASKS:
        ours, official = _read(derived / "tasks" / task / "test.jsonl"), references[task][:100]
        assert [r["references"] for r in ours] == [r["references"] for r in official]
        differences = [
            (i, a["id"], b["id"]) for i, (a, b) in enumerate(zip(ours, official)) if a["id"] != b["id"]
        ]
        if task == "task1345_glue_qqp_question_paraprashing":
            # a tie in the official reorder step: the reference's instance is at index 100 of the file
            [(index, ours_id, official_id)] = differences
            assert index == 58
            assert ours_id.startswith("task1345-06132aca") and official_id.startswith("task1345-01f6e143")
            assert _ids(derived / "tasks" / task / "validation.jsonl")[0] == official_id
        else:
            assert differences == []


def test_categories_match_the_category_table_and_the_references(derived, references):
    with open(SUPERNI / "task_categories.tsv", newline="", encoding="utf-8") as f:
        table = {row["task"]: row["category"] for row in csv.DictReader(f, delimiter="\t")}
    manifest = json.loads((derived / "manifest.json").read_text())
    for task in SAMPLE_TASKS:
        assert manifest["test_tasks"][task]["category"] == table[task] == references[task][0]["task_category"]
        for split in ("test", "validation", "train"):
            assert {r["category"] for r in _read(derived / "tasks" / task / f"{split}.jsonl")} == {
                table[task]
            }


def test_validation_is_the_next_ten_and_train_the_rest_reordered(derived, mirror):
    manifest = json.loads((derived / "manifest.json").read_text())
    for task in SAMPLE_TASKS:
        instances = json.loads((mirror / "tasks" / f"{task}.json").read_text(encoding="utf-8"))["Instances"]
        ids = [i["id"] for i in instances]
        assert _ids(derived / "tasks" / task / "validation.jsonl") == ids[100:110]
        train = _read(derived / "tasks" / task / "train.jsonl")
        assert sorted(r["id"] for r in train) == sorted(ids[110:]) and [r["id"] for r in train] != ids[110:]
        by_id = {i["id"]: i for i in instances}
        assert all(
            r["input"] == by_id[r["id"]]["input"] and r["references"] == by_id[r["id"]]["output"]
            for r in train
        )
        n_train = len(instances) - 110
        assert manifest["test_tasks"][task]["counts"] == {"test": 100, "validation": 10, "train": n_train}
        assert manifest["test_tasks"][task]["subsets"] == {
            "100": min(100, n_train),
            "200": n_train,
            "500": n_train,
            "1000": n_train,
            "all": n_train,
        }
    assert manifest["prefinetune"] == {"tasks": 0, "listed_tasks": 756, "per_task": 100, "rows": 0}


def test_records_carry_both_encodings(derived, mirror):
    task = read_task(mirror / "tasks" / "task645_summarization.json")
    record = _read(derived / "tasks" / "task645_summarization" / "test.jsonl")[3]
    instance = task["Instances"][3]
    assert list(record) == RECORD_KEYS
    assert record["encodings"] == {
        "def_pos": def_pos_prompt(task, instance["input"]),
        "input_only": instance["input"],
    }
    assert (record["task"], record["id"], record["input"]) == (
        "task645_summarization",
        instance["id"],
        instance["input"],
    )


def test_category_is_the_first_listed_one(mirror, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(mirror / "splits", raw / "splits")
    task = json.loads((mirror / "tasks" / f"{SAMPLE_TASKS[0]}.json").read_text(encoding="utf-8"))
    task["Categories"] = ["Question Rewriting", "Paraphrasing"]
    (raw / "tasks").mkdir()
    (raw / "tasks" / f"{SAMPLE_TASKS[0]}.json").write_text(json.dumps(task), encoding="utf-8")
    manifest = derive_superni(raw, tmp_path / "out", test_tasks=SAMPLE_TASKS[:1], train_tasks=0)
    assert manifest["test_tasks"][SAMPLE_TASKS[0]]["category"] == "Question Rewriting"
    assert {r["category"] for r in _read(tmp_path / "out" / "tasks" / SAMPLE_TASKS[0] / "train.jsonl")} == {
        "Question Rewriting"
    }


# --- subsets, caps and the pre-finetuning set on synthetic tasks ------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """12 synthetic test tasks (one with 1,500 instances) and 8 training tasks of 150 instances."""
    raw = tmp_path_factory.mktemp("synthetic") / "superni"
    write_synthetic_raw("superni", raw, seed=3)
    big = tmp_path_factory.mktemp("synthetic_big") / "superni"
    write_synthetic_raw(
        "superni", big, seed=3, test_tasks=["task1_big"], n_train_tasks=0, test_instances_per_task=1500
    )
    shutil.copy(big / "tasks" / "task1_big.json", raw / "tasks")
    with open(raw / "splits" / "default" / "test_tasks.txt", "a") as f:
        f.write("task1_big\n")
    return raw


def test_default_synthetic_tasks_fill_every_split(synthetic, tmp_path):
    names = read_split(synthetic, "test")[:2]
    manifest = derive_superni(synthetic, tmp_path / "out", test_tasks=names, train_tasks=0)
    assert [manifest["test_tasks"][n]["counts"] for n in names] == [
        {"test": 100, "validation": 10, "train": 40}
    ] * 2


def _train_positions(raw: Path, derived: Path, task: str) -> list[int]:
    """The positions in the task file of the train.jsonl instances, in line order."""
    instances = json.loads((raw / "tasks" / f"{task}.json").read_text(encoding="utf-8"))["Instances"]
    position = {instance["id"]: i for i, instance in enumerate(instances)}
    return [position[i] for i in _ids(derived / "tasks" / task / "train.jsonl")]


def test_subsets_are_nested_and_deterministic(synthetic, tmp_path):
    a, b = read_split(synthetic, "test")[:2]
    derive_superni(synthetic, tmp_path / "one", test_tasks=[a], train_tasks=2)
    derive_superni(synthetic, tmp_path / "again", test_tasks=[a], train_tasks=2)
    assert _files(tmp_path / "again") == _files(tmp_path / "one")
    # another task next to it does not change this task's order
    derive_superni(synthetic, tmp_path / "two", test_tasks=[b, a], train_tasks=2)
    assert _files(tmp_path / "two" / "tasks" / a) == _files(tmp_path / "one" / "tasks" / a)
    # tasks of one size get different orders: the seed derives from the task name too
    positions = [_train_positions(synthetic, tmp_path / "two", name) for name in (a, b)]
    assert sorted(positions[0]) == sorted(positions[1]) and positions[0] != positions[1]
    derive_superni(synthetic, tmp_path / "seed", test_tasks=[a], train_tasks=2, seed=7)
    assert _ids(tmp_path / "seed" / "tasks" / a / "train.jsonl") != _ids(
        tmp_path / "one" / "tasks" / a / "train.jsonl"
    )
    # a train cap keeps the first lines of the order: a smaller subset is inside a larger one
    derive_superni(synthetic, tmp_path / "capped", test_tasks=[a], train_tasks=0, max_rows={"train": 7})
    full = (tmp_path / "one" / "tasks" / a / "train.jsonl").read_text().splitlines()
    assert (tmp_path / "capped" / "tasks" / a / "train.jsonl").read_text().splitlines() == full[:7]


def test_manifest_reports_the_available_subsets(synthetic, tmp_path):
    manifest = derive_superni(synthetic, tmp_path / "out", test_tasks=["task1_big"], train_tasks=0)
    assert manifest["test_tasks"]["task1_big"]["subsets"] == {
        "100": 100,
        "200": 200,
        "500": 500,
        "1000": 1000,
        "all": 1390,
    }
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


def test_test_and_validation_caps_keep_file_order(synthetic, tmp_path):
    task = "task1_big"
    derive_superni(synthetic, tmp_path / "full", test_tasks=[task], train_tasks=0)
    manifest = derive_superni(
        synthetic,
        tmp_path / "capped",
        test_tasks=[task],
        train_tasks=0,
        max_rows={"test": 30, "validation": 4, "train": 50},
    )
    assert manifest["test_tasks"][task]["counts"] == {"test": 30, "validation": 4, "train": 50}
    assert manifest["test_tasks"][task]["subsets"] == {"100": 50, "200": 50, "500": 50, "1000": 50, "all": 50}
    for split, n in (("test", 30), ("validation", 4)):
        full, capped = (_ids(tmp_path / d / "tasks" / task / f"{split}.jsonl") for d in ("full", "capped"))
        assert len(capped) == n and capped == [i for i in full if i in set(capped)] and capped != full[:n]


def _ni_dataset_sample(raw: Path, n_tasks: int, per_task: int, seed: int) -> list[str]:
    """ni_dataset.py's training-task sampling, re-done on the global `random` that
    run_s2s.py's set_seed(seed) seeds."""
    state = random.getstate()
    random.seed(seed)
    ids = []
    try:
        with open(raw / "splits" / "default" / "train_tasks.txt", encoding="utf-8") as split_f:
            for line in list(split_f)[:n_tasks]:
                with open(raw / "tasks" / f"{line.strip()}.json", encoding="utf-8") as task_f:
                    instances = json.loads(task_f.read())["Instances"]
                random.shuffle(instances)
                ids += [i["id"] for i in instances[:per_task]]
    finally:
        random.setstate(state)
    return ids


def test_prefinetune_samples_as_tk_instruct_does(synthetic, tmp_path):
    manifest = derive_superni(synthetic, tmp_path / "out", test_tasks=[], seed=42)
    rows = _read(tmp_path / "out" / "prefinetune.jsonl")
    assert (
        manifest["prefinetune"] == {"tasks": 8, "listed_tasks": 8, "per_task": 100, "rows": 8 * 100}
        and len(rows) == 800
    )
    assert [r["id"] for r in rows] == _ni_dataset_sample(synthetic, 8, 100, seed=42)
    first = read_split(synthetic, "train")[0]
    task = read_task(synthetic / "tasks" / f"{first}.json")
    assert (
        list(rows[0]) == RECORD_KEYS
        and rows[0]["task"] == first
        and rows[0]["category"] == task["Categories"][0]
    )
    assert rows[0]["encodings"]["def_pos"] == def_pos_prompt(task, rows[0]["input"])
    # a preset's cap takes the first tasks of the split file; small tasks give all they have
    derive_superni(
        synthetic, tmp_path / "capped", test_tasks=[], train_tasks=3, prefinetune_per_task=120, seed=5
    )
    assert _ids(tmp_path / "capped" / "prefinetune.jsonl") == _ni_dataset_sample(synthetic, 3, 120, seed=5)


# --- bad input ------------------------------------------------------------------------------


def _edited_task(tmp_path: Path, edit) -> Path:
    task = json.loads((SUPERNI / "tasks-sample" / f"{SAMPLE_TASKS[0]}.json").read_text(encoding="utf-8"))
    edit(task)
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task, indent=4, ensure_ascii=False), encoding="utf-8")
    return path


def test_truncated_task_file_names_file_and_line(tmp_path):
    text = (SUPERNI / "tasks-sample" / f"{SAMPLE_TASKS[0]}.json").read_text(encoding="utf-8")
    cut = text.index("How is the life of a math student") + 10  # inside a string
    path = tmp_path / "truncated.json"
    path.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}: line {text[:cut].count(chr(10)) + 1}\b"):
        read_task(path)


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda t: t.pop("Definition"), "field 'Definition'"),
        (lambda t: t.update(Definition=[]), "field 'Definition'"),
        (lambda t: t.update(Categories="Question Rewriting"), "field 'Categories'"),
        (lambda t: t["Positive Examples"][1].pop("output"), r"field 'Positive Examples' \[1\]: 'output'"),
        (lambda t: t.pop("Instances"), "field 'Instances'"),
        (
            lambda t: t["Instances"][3].pop("output"),
            r"Instances\[3\] \(id 'task1345-[0-9a-f]+'\): field 'output'",
        ),
        (lambda t: t["Instances"][4].update(output="one answer"), r"Instances\[4\] .*field 'output'"),
        (lambda t: t["Instances"][5].update(input=None), r"Instances\[5\] .*field 'input'"),
        (lambda t: t["Instances"][6].pop("id"), r"Instances\[6\] \(id None\): field 'id'"),
    ],
)
def test_missing_or_ill_typed_field_names_file_and_field(tmp_path, edit, where):
    path = _edited_task(tmp_path, edit)
    with pytest.raises(DataError, match=rf"^{path}: .*{where}"):
        read_task(path)


def test_test_task_not_in_the_split_file(mirror, tmp_path):
    split_file = mirror / "splits" / "default" / "test_tasks.txt"
    with pytest.raises(DataError, match=rf"{split_file}.*task1_not_a_test_task"):
        derive_superni(
            mirror, tmp_path / "out", test_tasks=[SAMPLE_TASKS[0], "task1_not_a_test_task"], train_tasks=0
        )


def test_missing_task_files_are_all_named(mirror, tmp_path):
    test_task = read_split(mirror, "test")[0]  # listed, but not among the sample files
    with pytest.raises(DataError, match=str(mirror / "tasks" / f"{test_task}.json")):
        derive_superni(mirror, tmp_path / "out", test_tasks=[test_task], train_tasks=0)
    with pytest.raises(DataError) as err:
        derive_superni(mirror, tmp_path / "out", test_tasks=SAMPLE_TASKS, train_tasks=3)
    assert all(str(mirror / "tasks" / f"{t}.json") in str(err.value) for t in read_split(mirror, "train")[:3])
    assert not (tmp_path / "out").exists()


def test_failed_derivation_leaves_no_complete_looking_output(mirror, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(mirror, raw)
    out = tmp_path / "derived"
    derive_superni(raw, out, test_tasks=SAMPLE_TASKS, train_tasks=0)
    before = _files(out)
    broken = raw / "tasks" / f"{SAMPLE_TASKS[2]}.json"  # fails after two tasks were written
    broken.write_text(broken.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    with pytest.raises(DataError, match=str(broken)):
        derive_superni(raw, out, test_tasks=SAMPLE_TASKS, train_tasks=0)
    assert _files(out) == before  # the good output is untouched
    with pytest.raises(DataError):
        derive_superni(raw, tmp_path / "fresh", test_tasks=SAMPLE_TASKS, train_tasks=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derived", "raw"]  # no new dir, no temp left


# --- test instances by the official reference ids (issue 24 item 5) ---------------------------


def test_test_instances_are_the_reference_files_ids_in_its_order(references, tmp_path):
    """The three complete real task files of ../shared/data/superni/tasks/: two keep an instance
    order other than the official one, so "the first 100" would pick other instances there."""
    from conftest import SHARED_DATA

    from ftrepro.data.sources import fetch

    tasks = sorted(p.stem for p in (SHARED_DATA / "superni" / "tasks").glob("*.json"))
    assert len(tasks) == 3
    raw = tmp_path / "raw"
    fetch(
        "superni", raw, source="local", local_dir=str(SHARED_DATA), superni_tasks=tasks, superni_train_tasks=0
    )
    manifest = derive_superni(raw, tmp_path / "derived", test_tasks=tasks, train_tasks=0)
    assert manifest["test_selection"] == "reference ids"
    first_100_differs = 0
    for task in tasks:
        official = [r["id"] for r in references[task]]
        derived = tmp_path / "derived" / "tasks" / task
        assert _ids(derived / "test.jsonl") == official
        file_order = [i["id"] for i in read_task(raw / "tasks" / f"{task}.json")["Instances"]]
        first_100_differs += file_order[:100] != official
        others = [i for i in file_order if i not in set(official)]
        assert _ids(derived / "validation.jsonl") == others[:10]
        assert sorted(_ids(derived / "train.jsonl")) == sorted(others[10:])
    assert first_100_differs == 2


def test_a_task_the_reference_file_does_not_name_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    write_synthetic_raw("superni", raw, seed=1)
    task = read_split(raw, "test")[0]
    (raw / "test_references.jsonl").write_text(
        json.dumps({"id": "x-1", "task_id": "task999_other", "track": "default", "references": ["a"]}) + "\n"
    )
    with pytest.raises(DataError, match=rf"test_references\.jsonl: names no test instances of {task}"):
        derive_superni(raw, tmp_path / "out", test_tasks=[task], train_tasks=0)
    (raw / "test_references.jsonl").write_text(
        json.dumps({"id": "x-1", "task_id": task, "track": "default", "references": ["a"]}) + "\n"
    )
    with pytest.raises(
        DataError, match=r"1 test instance id\(s\) of the reference file are not in the task file"
    ):
        derive_superni(raw, tmp_path / "out", test_tasks=[task], train_tasks=0)
    assert not (tmp_path / "out").exists()
