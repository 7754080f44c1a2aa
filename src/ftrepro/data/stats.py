"""Statistics of the derived datasets (results/data/stats.md): rows, labels, input lengths in tokens.

Everything is counted from the derived JSONL files themselves, not from labels.json or manifests,
so the report also checks what the derivation wrote. MASSIVE slot counts are words per slot type
("Other", outside every slot, is reported apart). Token lengths include the tokenizer's special
tokens and, in splits larger than `sample`, are measured on a seeded sample of rows.
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ftrepro.data import DATASETS, WORD_SUBTASKS, arena, cap_rows, massive, newsgroups
from ftrepro.io import DataError, atomic_path, iter_jsonl

SUPERNI_SPLITS = ("train", "validation", "test")
PERCENTILES = (50, 90, 99)
_TOKENIZER_BATCH = 1000  # texts per tokenizer call: bounds the memory the encodings take


def arena_input_text(record: dict) -> str:
    """The prompt turns, then response A's, then response B's, one per line (no template)."""
    return "\n".join(record["prompt"] + record["response_a"] + record["response_b"])


@dataclass(frozen=True)
class Layout:
    """Where a derived dataset's splits are and what to count in one record."""

    split_files: Callable[[Path], dict[str, list[Path]]]
    labels: Callable[
        [dict], dict[str, list]
    ]  # subtask -> the record's labels (one per word for word subtasks)
    inputs: dict[str, Callable[[dict], str]]  # input encoding -> the text a model reads


def _flat_files(splits: tuple[str, ...]) -> Callable[[Path], dict[str, list[Path]]]:
    return lambda derived: {split: [derived / f"{split}.jsonl"] for split in splits}


def _superni_files(derived: Path) -> dict[str, list[Path]]:
    """Each split pooled over the test tasks (sorted by name), then the pre-finetuning set."""
    files = {split: sorted((derived / "tasks").glob(f"*/{split}.jsonl")) for split in SUPERNI_SPLITS}
    return files | {"prefinetune": [derived / "prefinetune.jsonl"]}


def _labels_field(record: dict) -> dict[str, list]:
    return {
        subtask: value if isinstance(value, list) else [value] for subtask, value in record["labels"].items()
    }


LAYOUTS = {
    "20newsgroups": Layout(
        _flat_files(newsgroups.SPLITS), _labels_field, {"text": operator.itemgetter("text")}
    ),
    "massive": Layout(_flat_files(massive.SPLITS), _labels_field, {"text": operator.itemgetter("text")}),
    "arena": Layout(
        _flat_files(arena.SPLITS), lambda r: {"label": [r["label"]]}, {"prompt+responses": arena_input_text}
    ),
    # (task, category) pairs, turned into the per-task table by _superni_tasks
    "superni": Layout(
        _superni_files,
        lambda r: {"task": [(r["task"], r["category"])]},
        {
            "def_pos": lambda r: r["encodings"]["def_pos"],
            "input_only": lambda r: r["encodings"]["input_only"],
        },
    ),
}


def _fields(paths: list[Path], extract: Callable[[dict], object]) -> Iterator:
    """extract(record) for every record of `paths` in order; a bad record raises DataError."""
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: derived file missing")
        for lineno, record in enumerate(iter_jsonl(path), start=1):
            try:
                value = extract(record)
            except (KeyError, TypeError) as e:
                raise DataError(
                    f"{path}: line {lineno}: unexpected record layout ({type(e).__name__}: {e})"
                ) from e
            yield value


def token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens per text, special tokens included, in batches through the tokenizer."""
    lengths: list[int] = []
    for start in range(0, len(texts), _TOKENIZER_BATCH):
        encoded = tokenizer(
            texts[start : start + _TOKENIZER_BATCH],
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        lengths += map(len, encoded["input_ids"])
    return np.array(lengths, dtype=int)


def _length_summary(lengths: np.ndarray, n_rows: int) -> dict:
    values = np.percentile(lengths, PERCENTILES) if len(lengths) else [None] * len(PERCENTILES)
    return {
        "rows": len(lengths),
        "of": n_rows,
        **{f"p{q}": None if v is None else float(v) for q, v in zip(PERCENTILES, values)},
    }


def _token_stats(
    layout: Layout, files: dict[str, list[Path]], rows: dict[str, int], tokenizer, sample: int, seed: int
) -> dict:
    """{encoding: {split: {"rows" measured, "of" rows in split, "p50", "p90", "p99"}}}."""
    lengths: dict = defaultdict(dict)
    for split, paths in files.items():
        chosen = set(cap_rows(range(rows[split]), sample, seed))
        texts = defaultdict(list)
        for i, record_texts in enumerate(
            _fields(paths, lambda r: {k: f(r) for k, f in layout.inputs.items()})
        ):
            if i in chosen:
                for encoding, text in record_texts.items():
                    texts[encoding].append(text)
        for encoding in layout.inputs:
            lengths[encoding][split] = _length_summary(token_lengths(tokenizer, texts[encoding]), rows[split])
    return dict(lengths)


def _superni_tasks(stats: dict) -> None:
    """Replace the (task, category) counts by per-task and per-category tables."""
    by_task = stats["labels"].pop("task")
    tasks: dict[str, dict] = {}
    for split in SUPERNI_SPLITS:
        for (task, category), n in by_task.get(split, {}).items():
            tasks.setdefault(task, {"category": category, **dict.fromkeys(SUPERNI_SPLITS, 0)})[split] += n
    categories: dict[str, dict] = {}
    for task in tasks.values():
        summary = categories.setdefault(task["category"], {"tasks": 0, **dict.fromkeys(SUPERNI_SPLITS, 0)})
        summary["tasks"] += 1
        for split in SUPERNI_SPLITS:
            summary[split] += task[split]
    prefinetune = by_task.get("prefinetune", {})
    stats["tasks"] = dict(sorted(tasks.items()))
    stats["categories"] = dict(sorted(categories.items()))
    stats["prefinetune"] = {
        "rows": stats["rows"]["prefinetune"],
        "tasks": len({t for t, _ in prefinetune}),
        "categories": len({c for _, c in prefinetune}),
    }


def dataset_stats(
    dataset: str, derived_dir: Path, tokenizer=None, *, sample: int = 10_000, seed: int = 0
) -> dict:
    """Rows, label counts and (with a tokenizer) input token-length percentiles of one derived dataset.

    Returns {"dataset", "rows": {split: n}, "labels": {subtask: {split: {label: n}}}}, plus
    "outside_words" {split: n} for word subtasks (MASSIVE slots, "Other" kept out of "labels"),
    "tasks", "categories" and "prefinetune" for SuperNI (whose splits pool the test tasks), and
    "tokens": {"sample", "seed", "lengths": {encoding: {split: {"rows", "of", "p50", "p90", "p99"}}}}
    when `tokenizer` (any transformers tokenizer) is given.
    """
    if dataset not in LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(LAYOUTS)}")
    layout = LAYOUTS[dataset]
    files = layout.split_files(Path(derived_dir))
    stats: dict = {"dataset": dataset, "rows": {}, "labels": defaultdict(dict)}
    for split, paths in files.items():
        counts: dict[str, Counter] = defaultdict(Counter)
        n_rows = 0
        for record_labels in _fields(paths, layout.labels):
            n_rows += 1
            for subtask, labels in record_labels.items():
                counts[subtask].update(labels)
        stats["rows"][split] = n_rows
        for subtask, counter in counts.items():
            stats["labels"][subtask][split] = dict(sorted(counter.items()))
    stats["labels"] = dict(stats["labels"])
    for subtask in WORD_SUBTASKS & stats["labels"].keys():
        stats["outside_words"] = {
            split: by_label.pop(massive.OUTSIDE, 0) for split, by_label in stats["labels"][subtask].items()
        }
    if dataset == "superni":
        _superni_tasks(stats)
    if tokenizer is not None:
        stats["tokens"] = {
            "sample": sample,
            "seed": seed,
            "lengths": _token_stats(layout, files, stats["rows"], tokenizer, sample, seed),
        }
    return stats


# --- Markdown ----------------------------------------------------------------------------


def _markdown(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_markdown(index=index, intfmt=",", floatfmt=".1f", missingval="-")


def _label_table(by_split: dict[str, dict[str, int]], splits: list[str]) -> str:
    """One row per label, one column per split: "count (share of the split)"."""
    counts = pd.DataFrame(by_split, columns=splits).fillna(0).astype(int).sort_index()
    shares = counts / counts.sum().replace(0, 1)
    cells = counts.map("{:,}".format) + shares.map(" ({:.1%})".format)
    return _markdown(cells.rename_axis("label"), index=True)


def _token_table(tokens: dict) -> str:
    rows = []
    for encoding, by_split in tokens["lengths"].items():
        for split, s in by_split.items():
            measured = (
                f"{s['rows']:,} of {s['of']:,} (sample)" if s["rows"] < s["of"] else f"{s['rows']:,} (all)"
            )
            rows.append(
                {
                    "input": encoding,
                    "split": split,
                    "rows measured": measured,
                    **{f"p{q}": s[f"p{q}"] for q in PERCENTILES},
                }
            )
    return _markdown(pd.DataFrame(rows))


def _superni_section(stats: dict) -> list[str]:
    pre = stats["prefinetune"]
    tasks = pd.DataFrame.from_dict(stats["tasks"], orient="index").rename_axis("task").reset_index()
    categories = (
        pd.DataFrame.from_dict(stats["categories"], orient="index").rename_axis("category").reset_index()
    )
    return [
        "### Pre-finetuning set",
        "",
        f"{pre['rows']:,} rows from {pre['tasks']:,} tasks in {pre['categories']:,} categories.",
        "",
        "### Test tasks per category",
        "",
        _markdown(categories),
        "",
        "### Test tasks",
        "",
        _markdown(tasks),
        "",
    ]


def _dataset_section(stats: dict, tokenizer_name: str | None) -> list[str]:
    splits = list(stats["rows"])
    rows = pd.DataFrame({"split": splits, "rows": [stats["rows"][s] for s in splits]})
    superni = stats["dataset"] == "superni"
    pooled = " (train/validation/test pooled over the test tasks)" if superni else ""
    lines = [f"## {stats['dataset']}", "", f"### Rows per split{pooled}", "", _markdown(rows), ""]
    if superni:
        lines += _superni_section(stats)
    for subtask, by_split in stats["labels"].items():
        word_note = " (words per slot type)" if subtask in WORD_SUBTASKS else ""
        lines += [f"### Labels: {subtask}{word_note}", "", _label_table(by_split, splits), ""]
    if "outside_words" in stats:
        outside = ", ".join(f"{split} {n:,}" for split, n in stats["outside_words"].items())
        lines += [f'Words outside every slot ("{massive.OUTSIDE}", not in the table): {outside}.', ""]
    if "tokens" in stats:
        tokens = stats["tokens"]
        note = (
            f"Tokenizer: `{tokenizer_name}`; special tokens included. Splits with more than "
            f"{tokens['sample']:,} rows are measured on a seeded sample of {tokens['sample']:,} rows "
            f"(seed {tokens['seed']}), marked (sample); the others on every row."
        )
        lines += ["### Input length in tokens", "", note, "", _token_table(tokens), ""]
    else:
        lines += ["Token lengths not computed (no tokenizer given).", ""]
    return lines


def stats_markdown(
    stats_by_dataset: Mapping[str, dict],
    *,
    tokenizer_names: Mapping[str, str],
    skipped: Mapping[str, str] | None = None,
) -> str:
    """One Markdown section per dataset of `dataset_stats` results, naming each one's tokenizer.

    `skipped` maps datasets that were not measured to the reason, listed at the top.
    """
    lines = ["# Data statistics", "", "Counted from the derived JSONL files.", ""]
    if skipped:
        lines += ["Skipped:", "", *(f"- {dataset}: {reason}" for dataset, reason in skipped.items()), ""]
    for dataset, stats in stats_by_dataset.items():
        lines += _dataset_section(stats, tokenizer_names[dataset] if "tokens" in stats else None)
    return "\n".join(lines)


def write_stats_md(
    stats_by_dataset: Mapping[str, dict],
    path: Path,
    *,
    tokenizer_names: Mapping[str, str],
    skipped: Mapping[str, str] | None = None,
) -> None:
    """Write `stats_markdown` to `path`."""
    text = stats_markdown(stats_by_dataset, tokenizer_names=tokenizer_names, skipped=skipped)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def superni_prompt_tokens(derived: Path, tokenizer, limit: int, encoding: str = "def_pos") -> dict:
    """{"max_source_length": limit, "tasks": {task: {"n", "median", "max", "over_limit"}}}: the
    tokens (special ones included) of every derived SuperNI test task's test prompts in `encoding`
    (def_pos: the definition, both positive examples and the input, uncut), and how many exceed
    `limit`."""
    found = {}
    for path in sorted(Path(derived).glob("tasks/*/test.jsonl")):
        lengths = token_lengths(tokenizer, list(_fields([path], lambda r: r["encodings"][encoding])))
        found[path.parent.name] = {
            "n": len(lengths),
            "median": float(np.median(lengths)) if len(lengths) else None,
            "max": int(lengths.max()) if len(lengths) else None,
            "over_limit": int((lengths > limit).sum()),
        }
    return {"max_source_length": limit, "tasks": found}


def load_tokenizer(name: str):
    """AutoTokenizer of a local model directory or a model name; DataError naming it if neither."""
    from transformers import AutoTokenizer  # slow to import: only when asked for

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"tokenizer {name!r}: not a model directory or a loadable model name ({first})"
        ) from e


def measure_datasets(
    derived_root: Path,
    *,
    tokenizers: Mapping[str, str | None],
    datasets: Iterable[str] = DATASETS,
    sample: int = 10_000,
    seed: int = 0,
) -> tuple[dict[str, dict], dict[str, str]]:
    """`dataset_stats` of each dataset under `derived_root/<dataset>/` with its tokenizer (a model
    directory or name for AutoTokenizer, or None: no token lengths), and {dataset: why} of those
    skipped because their directory is missing."""
    loaded: dict[str, object] = {}
    stats, skipped = {}, {}
    for dataset in datasets:
        derived = Path(derived_root) / dataset
        if not derived.is_dir():
            skipped[dataset] = f"`{derived}` not found"
            continue
        name = tokenizers.get(dataset)
        if name and name not in loaded:
            loaded[name] = load_tokenizer(name)
        stats[dataset] = dataset_stats(dataset, derived, loaded.get(name), sample=sample, seed=seed)
    return stats, skipped


def stats_report(
    derived_root: Path,
    out: Path,
    *,
    tokenizers: Mapping[str, str | None],
    datasets: Iterable[str] = DATASETS,
    sample: int = 10_000,
    seed: int = 0,
    tokenizer_names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`measure_datasets` written to `out`, where each tokenizer is called by its name in
    `tokenizer_names` (default: the path). A dataset whose directory is missing is skipped and
    noted in the report; returns the skipped."""
    stats, skipped = measure_datasets(
        derived_root, tokenizers=tokenizers, datasets=datasets, sample=sample, seed=seed
    )
    names = {d: (tokenizer_names or {}).get(d, tokenizers.get(d)) for d in stats}
    write_stats_md(stats, out, tokenizer_names=names, skipped=skipped)
    return skipped
