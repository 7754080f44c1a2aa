"""Super-NaturalInstructions: task JSON files -> per-task splits and the pre-finetuning set.

A test task's 100 test instances are the official, label-balanced test selection (docs/protocols.md
1.1): where the raw directory holds the official reference file (test_references.jsonl, from
natural-instructions' create_reference_file.py), the instances it names for the task, in its
order; otherwise the first 100 of the task file, which the official reordering put first (a copy
of a task file in another order gives other instances then: the reference file makes it exact).
The first 10 other instances are validation, and the rest is the training pool in a seeded
order, so the N-sample subset of a setting is the first N lines of train.jsonl (nested,
deterministic).
Every record carries two encodings of its input: Tk-Instruct's "definition + 2 positive
examples" (`DataCollatorForNI`, docs/protocols.md 1.2) and the bare input of the baselines.
Other mixes of positive and negative examples (PROMPTS) are built from the task file on demand.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ftrepro.data import cap_rows
from ftrepro.io import DataError, atomic_path, iter_jsonl, read_json, read_jsonl, write_json, write_jsonl

TEST_SIZE = 100  # the official test selection leads each test task's Instances
VALIDATION_SIZE = 10
# the official test references (ids of each task's test instances), where the raw data has them
REFERENCES = "test_references.jsonl"
REFERENCE_TRACK = "default"  # the English track; the file also holds the cross-lingual one
NUM_POS_EXAMPLES = 2
# Tk-Instruct encodings of a task's instructions: (positive, negative) examples after the
# definition. def-pos is Tk-Instruct's evaluation and the thesis's prompt; def-pos1-neg1 substitutes
# the task's first negative example for the second positive one (the thesis's task-242 ablation,
# §5.2.5), placed where Tk-Instruct's collator places negative examples (docs/protocols.md 1.2).
DEF_POS = "def-pos"
PROMPTS = {DEF_POS: (NUM_POS_EXAMPLES, 0), "def-pos1-neg1": (1, 1)}
SAMPLE_SIZES = (100, 200, 500, 1000, "all")  # the thesis' training-set sizes per task


# --- reading ----------------------------------------------------------------------------------


def read_split(raw_dir: Path, split: str) -> list[str]:
    """Task names of `splits/default/<split>_tasks.txt`, in file order."""
    path = Path(raw_dir) / "splits" / "default" / f"{split}_tasks.txt"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_task(path: Path) -> dict:
    """One task file, with the fields the derivation reads checked; bad input raises DataError."""
    path = Path(path)
    task = read_json(path)
    if not isinstance(task, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(task).__name__}")
    definition = task.get("Definition")
    if not (isinstance(definition, str) or _is_str_list(definition)):
        raise _field_error(path, "Definition", definition, "a non-empty list of strings")
    if not _is_str_list(task.get("Categories")):
        raise _field_error(path, "Categories", task.get("Categories"), "a non-empty list of strings")
    # negative examples only where a prompt asks for them (PROMPTS): a task may have none
    for field, examples in (
        ("Positive Examples", task.get("Positive Examples")),
        ("Negative Examples", task.get("Negative Examples", [])),
    ):
        if not isinstance(examples, list):
            raise _field_error(path, field, examples, "a list")
        for i, example in enumerate(examples):
            for key in ("input", "output"):
                if not isinstance(example, dict) or not isinstance(example.get(key), str):
                    raise DataError(f"{path}: field {field!r} [{i}]: {key!r} missing or not a string")
    instances = task.get("Instances")
    if not isinstance(instances, list):
        raise _field_error(path, "Instances", instances, "a list")
    for i, instance in enumerate(instances):
        if not (
            isinstance(instance, dict)
            and isinstance(instance.get("id"), str)
            and isinstance(instance.get("input"), str)
            and _is_str_list(instance.get("output"))
        ):
            raise _instance_error(path, i, instance)
    return task


def _is_str_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _field_error(path: Path, field: str, value, expected: str) -> DataError:
    problem = "missing" if value is None else f"got {value!r:.80}"
    return DataError(f"{path}: field {field!r}: expected {expected}, {problem}")


def _instance_error(path: Path, index: int, instance) -> DataError:
    where = f"{path}: Instances[{index}]"
    if not isinstance(instance, dict):
        return DataError(f"{where}: expected an object, got {type(instance).__name__}")
    checks = {
        "id": isinstance(instance.get("id"), str),
        "input": isinstance(instance.get("input"), str),
        "output": _is_str_list(instance.get("output")),
    }
    field = next(name for name, ok in checks.items() if not ok)
    expected = "a non-empty list of strings" if field == "output" else "a string"
    return DataError(
        f"{where} (id {instance.get('id')!r}): field {field!r}: expected {expected}, "
        f"got {instance.get(field)!r:.80}"
    )


# --- encodings --------------------------------------------------------------------------------


def _with_period(text: str) -> str:
    """The collator's rule: end with "." unless the text built so far ends in punctuation."""
    return text if text[-1] in string.punctuation else text + "."


def query_block(input_text: str) -> str:
    """The part of the def-pos prompt that holds the instance itself."""
    return _with_period(f"Now complete the following example -\nInput: {input_text.strip()}") + "\nOutput: "


def _definition_block(task: dict) -> str:
    definition = task["Definition"]
    if isinstance(definition, list):
        definition = definition[0]
    return _with_period("Definition: " + definition.strip()) + "\n\n"


def _example_block(kind: str, number: int, example: dict) -> str:
    text = _with_period(f" {kind} Example {number} -\nInput: {example['input'].strip()}")
    return _with_period(f"{text}\n Output: {example['output'].strip()}") + "\n\n"


def def_pos_prefix(
    task: dict, *, query: str = "", fits: Callable[[str], bool] | None = None, prompt: str = DEF_POS
) -> str:
    """The definition and the examples that precede `query` in the prompt `prompt` (PROMPTS): its
    positive examples, then its negative ones, as the collator adds them.

    An example is kept only while `fits(definition + " ".join(kept) + example + query)` holds;
    the collator joins the kept examples with a space in this check only (a quirk kept as is),
    positive and negative ones apart. Without `fits` every example the prompt asks for is kept,
    and the prefix is the same for every instance of the task. A task with fewer examples gives
    what it has, as the collator does.
    """
    definition = _definition_block(task)
    kept: dict[str, list[str]] = {"Positive": [], "Negative": []}
    for kind, count in zip(kept, PROMPTS[prompt], strict=True):
        for number, example in enumerate(task.get(f"{kind} Examples", [])[:count], start=1):
            block = _example_block(kind, number, example)
            before = " ".join(kept["Positive"]) + " ".join(kept["Negative"])
            if fits is not None and not fits(definition + before + block + query):
                break
            kept[kind].append(block)
    return definition + "".join(kept["Positive"]) + "".join(kept["Negative"])


def missing_negatives(task: dict, prompt: str) -> int:
    """How many of the negative examples `prompt` asks for `task` lacks: a prompt with a negative
    example is an ablation, and silently without one it would ablate nothing."""
    return max(0, PROMPTS[prompt][1] - len(task.get("Negative Examples", [])))


def def_pos_prompt(
    task: dict, input_text: str, *, fits: Callable[[str], bool] | None = None, prompt: str = DEF_POS
) -> str:
    """Tk-Instruct's source text for one instance: by default "definition + 2 positive examples"."""
    query = query_block(input_text)
    return def_pos_prefix(task, query=query, fits=fits, prompt=prompt) + query


def _records(name: str, task: dict, instances: Iterable[dict]) -> Iterator[dict]:
    category, prefix = task["Categories"][0], def_pos_prefix(task)
    for instance in instances:
        yield {
            "task": name,
            "category": category,
            "id": instance["id"],
            "input": instance["input"],
            "references": instance["output"],
            "encodings": {
                "def_pos": prefix + query_block(instance["input"]),
                "input_only": instance["input"],
            },
        }


# --- derivation -------------------------------------------------------------------------------


def derive_superni(
    raw_dir: Path,
    out_dir: Path,
    *,
    test_tasks: Iterable[str],
    train_tasks: int | None = None,
    prefinetune_per_task: int = 100,
    max_rows: dict[str, int] | None = None,
    seed: int = 42,
) -> dict:
    """Write tasks/<task>/{test,validation,train}.jsonl, prefinetune.jsonl and manifest.json.

    `test_tasks` must be listed in splits/default/test_tasks.txt; `train_tasks` (None: all)
    takes the first N tasks of train_tasks.txt for the pre-finetuning set and `max_rows` caps
    each test task's splits (a preset's caps). `out_dir` appears only once complete. Returns
    the manifest.
    """
    raw_dir = Path(raw_dir)
    test_tasks = list(test_tasks)
    listed = set(read_split(raw_dir, "test"))
    unlisted = [name for name in test_tasks if name not in listed]
    if unlisted:
        split_file = raw_dir / "splits" / "default" / "test_tasks.txt"
        raise DataError(f"{split_file}: test tasks not listed there: {unlisted}")
    listed_train_tasks = read_split(raw_dir, "train")
    pretrain_tasks = listed_train_tasks[:train_tasks]
    _check_task_files(raw_dir, test_tasks + pretrain_tasks)
    references = read_reference_ids(raw_dir / REFERENCES) if (raw_dir / REFERENCES).is_file() else None
    with atomic_path(out_dir) as tmp:
        manifest = {
            "seed": seed,
            "test_selection": "reference ids" if references is not None else f"first {TEST_SIZE}",
            "test_tasks": {},
        }
        for name in test_tasks:
            ids = None if references is None else _task_reference_ids(references, name, raw_dir / REFERENCES)
            manifest["test_tasks"][name] = _derive_test_task(
                raw_dir, name, tmp / "tasks" / name, max_rows or {}, seed, ids
            )
        rows = write_jsonl(
            tmp / "prefinetune.jsonl",
            _prefinetune_records(raw_dir, pretrain_tasks, prefinetune_per_task, seed),
        )
        manifest["prefinetune"] = {
            "tasks": len(pretrain_tasks),
            "listed_tasks": len(listed_train_tasks),
            "per_task": prefinetune_per_task,
            "rows": rows,
        }
        write_json(tmp / "manifest.json", manifest)
    return manifest


def _task_path(raw_dir: Path, name: str) -> Path:
    return raw_dir / "tasks" / f"{name}.json"


def _check_task_files(raw_dir: Path, names: list[str]) -> None:
    missing = [str(_task_path(raw_dir, n)) for n in names if not _task_path(raw_dir, n).is_file()]
    if missing:
        raise DataError(f"{len(missing)} task file(s) listed in the splits are missing: {', '.join(missing)}")


def read_reference_ids(path: Path) -> dict[str, list[str]]:
    """{task: the ids of its test instances, in the file's order} of the official reference file
    (its English track); a line that is no reference raises DataError naming the file and line."""
    ids: dict[str, list[str]] = {}
    for lineno, row in enumerate(iter_jsonl(path), start=1):
        if not (
            isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("id", "task_id", "track"))
        ):
            raise DataError(f"{path}: line {lineno}: expected an object with string id, task_id and track")
        if row["track"] == REFERENCE_TRACK:
            ids.setdefault(row["task_id"], []).append(row["id"])
    return ids


def _task_reference_ids(references: dict[str, list[str]], name: str, path: Path) -> list[str]:
    if name not in references:
        raise DataError(f"{path}: names no test instances of {name} (track {REFERENCE_TRACK!r})")
    return references[name]


def _split_test(
    path: Path, instances: list[dict], reference_ids: list[str] | None
) -> tuple[list[dict], list[dict]]:
    """(the test instances, the others in file order): those `reference_ids` name, in their
    order, or without them the first TEST_SIZE."""
    if reference_ids is None:
        return instances[:TEST_SIZE], instances[TEST_SIZE:]
    by_id = {instance["id"]: instance for instance in instances}
    missing = [i for i in reference_ids if i not in by_id]
    if missing:
        raise DataError(
            f"{path}: {len(missing)} test instance id(s) of the reference file are not in the task "
            f"file, e.g. {missing[:3]}"
        )
    chosen = set(reference_ids)
    return [by_id[i] for i in reference_ids], [x for x in instances if x["id"] not in chosen]


def _derive_test_task(
    raw_dir: Path,
    name: str,
    out_dir: Path,
    max_rows: dict[str, int],
    seed: int,
    reference_ids: list[str] | None = None,
) -> dict:
    """A test task's splits; one without instances is refused (its category would vanish from
    every score)."""
    path = _task_path(raw_dir, name)
    task = read_task(path)
    if not task["Instances"]:
        raise DataError(f"{path}: field 'Instances' is empty; a test task needs its test instances")
    test, rest = _split_test(path, task["Instances"], reference_ids)
    pool = rest[VALIDATION_SIZE:]
    # a per-task seed: adding or removing other tasks never changes this task's order
    random.Random(f"{seed}:{name}").shuffle(pool)
    splits = {
        "test": cap_rows(test, max_rows.get("test"), seed),
        "validation": cap_rows(rest[:VALIDATION_SIZE], max_rows.get("validation"), seed),
        "train": pool[: max_rows.get("train")],
    }  # the first n of the order keeps subsets nested
    counts = {
        split: write_jsonl(out_dir / f"{split}.jsonl", _records(name, task, rows))
        for split, rows in splits.items()
    }
    subsets = {
        str(size): counts["train"] if size == "all" else min(size, counts["train"]) for size in SAMPLE_SIZES
    }
    return {"category": task["Categories"][0], "counts": counts, "subsets": subsets}


def _prefinetune_records(raw_dir: Path, names: list[str], per_task: int, seed: int) -> Iterator[dict]:
    """Tk-Instruct's training-task sampling (ni_dataset.py): one seeded stream, in split-file
    order each task's instances are shuffled and the first `per_task` kept."""
    rng = random.Random(seed)
    for name in names:
        task = read_task(_task_path(raw_dir, name))
        instances = task["Instances"]
        rng.shuffle(instances)
        yield from _records(name, task, instances[:per_task])


# --- reading the derived layout -------------------------------------------------------------


def task_records(
    derived_dir: Path, tasks: Iterable[str], split: str = "train", samples: int | str = "all"
) -> list[dict]:
    """The first `samples` lines ("all": every line) of each task's derived `split` file, tasks
    in order: for train, the N-sample subset (all a task has when it has fewer)."""
    if samples != "all" and not (isinstance(samples, int) and samples > 0):
        raise ValueError(f"samples must be a positive int or 'all', got {samples!r}")
    records = []
    for task in tasks:
        lines = iter_jsonl(Path(derived_dir) / "tasks" / task / f"{split}.jsonl")
        records += list(lines if samples == "all" else itertools.islice(lines, samples))
    return records


def prefinetune_records(derived_dir: Path) -> list[dict]:
    """The pre-finetuning set: every train task x 100 instances."""
    return read_jsonl(Path(derived_dir) / "prefinetune.jsonl")
