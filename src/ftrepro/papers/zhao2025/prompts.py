"""zhao2025 prompts: the templates of Listings 1-12 (prompts.yaml), rendered, and outputs parsed back.

Records are the derived 20newsgroups / MASSIVE records ({"id", "text", "labels", "words"?}). One
prompt example is {"id", "messages", "answer", "gold", "words"}: ``messages`` are chat messages
for an API or a chat template, ``answer`` is the text a model should emit after them (the
training target). Five-shot examples come from the training split (few_shot_demos).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import itertools
import json
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ftrepro.data import OUTSIDE, WORD_SUBTASKS
from ftrepro.io import DataError, read_jsonl, replace_lone_surrogates
from ftrepro.metrics import align_to_words
from ftrepro.prompts import fill

TEMPLATES_FILE = Path(__file__).with_name("prompts.yaml")
# the placeholder of a record's text, per dataset (Listings 1-6 vs 7-12)
TEXT_PLACEHOLDER = {"20newsgroups": "News", "massive": "Utter"}
# label-list placeholders of the MASSIVE templates -> subtask whose labels.json list fills them
LABEL_PLACEHOLDERS = {"Labels": None, "Intent_Labels": "intent", "Slot_Filling_Labels": "slots"}
EXAMPLE_SEPARATOR = "\n\n"


# --------------------------------------------------------------------------- templates


@functools.cache
def templates() -> tuple[dict, ...]:
    return tuple(yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))["templates"])


def template(subtasks: Sequence[str], dataset: str | None = None) -> dict:
    """The template of a task: its subtasks as a set (subtask names are unique across datasets)."""
    for tpl in templates():
        if set(tpl["subtasks"]) == set(subtasks) and dataset in (None, tpl["dataset"]):
            return tpl
    raise ValueError(f"no zhao2025 prompt for dataset {dataset!r} with subtasks {list(subtasks)}")


def _label_lists(tpl: dict, labels: Mapping | None) -> dict[str, str]:
    """Values of the label-list placeholders a template uses: labels.json lists in Python syntax."""
    text = tpl.get("system", "") + "".join(tpl["user"].values())
    used = [name for name in LABEL_PLACEHOLDERS if "{" + name + "}" in text]
    if used and labels is None:
        raise ValueError(f"the {tpl['dataset']} prompts list the labels: pass labels (labels.json)")
    values = {}
    for name in used:
        subtask = LABEL_PLACEHOLDERS[name] or tpl["subtasks"][0]
        if subtask not in labels:
            raise DataError(f"labels.json has no {subtask!r} list")
        values[name] = str([label for label in labels[subtask] if label != OUTSIDE])
    return values


# --------------------------------------------------------------------------- examples


def _gold(record: Mapping, subtasks: Sequence[str]) -> dict:
    try:
        return {s: record["labels"][s] for s in subtasks}
    except (KeyError, TypeError) as e:
        raise DataError(f"record id={record.get('id')!r}: no label {e} among {list(subtasks)}") from e


def answer_text(tpl: dict, gold: Mapping) -> str:
    """What the model should emit: a label, a JSON list of word labels, or the consolidated JSON."""
    if tpl["answer"] == "label":
        return gold[tpl["subtasks"][0]]
    if tpl["answer"] == "slot_list":
        return json.dumps(gold[tpl["subtasks"][0]], ensure_ascii=False)
    return json.dumps({key: gold[s] for key, s in tpl["tasks"].items()}, ensure_ascii=False)


def few_shot_demos(
    train_records: Sequence[Mapping], subtasks: Sequence[str], seed: int, n: int = 5
) -> list[dict]:
    """``n`` training records drawn with ``seed``: the five-shot examples of every model and record."""
    if len(train_records) < n:
        raise DataError(f"five-shot prompts need {n} training records, got {len(train_records)}")
    picks = random.Random(seed).sample(range(len(train_records)), n)
    demos = [dict(train_records[i]) for i in picks]
    for demo in demos:
        _gold(demo, subtasks)
    return demos


def _examples_block(tpl: dict, dataset: str, demos: Sequence[Mapping]) -> str:
    return EXAMPLE_SEPARATOR.join(
        fill(
            tpl["example"],
            {TEXT_PLACEHOLDER[dataset]: d["text"], "Label": answer_text(tpl, _gold(d, tpl["subtasks"]))},
        )
        for d in demos
    )


def _messages(tpl: dict, shots: str, values: Mapping[str, str]) -> list[dict]:
    messages = [{"role": "system", "content": tpl["system"]}] if "system" in tpl else []
    return messages + [{"role": "user", "content": fill(tpl["user"][shots], values)}]


def prompt_examples(
    records: Sequence[Mapping],
    subtasks: Sequence[str],
    dataset: str,
    demos: Sequence[Mapping] | None,
    labels: Mapping | None = None,
) -> list[dict]:
    """One prompt example per record; ``demos`` None = zero-shot, else the five-shot examples.

    ``labels`` (labels.json) fills the label lists of the MASSIVE prompts (20NG prompts print theirs).
    A demo that is also one of ``records`` raises DataError: examples never come from the test split.
    """
    tpl = template(subtasks, dataset)
    values = _label_lists(tpl, labels)
    shots = "zero-shot" if demos is None else "five-shot"
    if demos is not None:
        leaked = {d["id"] for d in demos} & {r["id"] for r in records}
        if not demos or leaked:
            raise DataError(
                f"five-shot examples must be training records not evaluated; shared ids: {sorted(leaked)}"
            )
        values["Examples"] = _examples_block(tpl, dataset, demos)
    examples = []
    for record in records:
        gold = _gold(record, tpl["subtasks"])
        messages = _messages(tpl, shots, {**values, TEXT_PLACEHOLDER[dataset]: record["text"]})
        examples.append(
            {
                "id": record["id"],
                "messages": messages,
                "answer": answer_text(tpl, gold),
                "gold": {s: gold[s] for s in subtasks},
                "words": record.get("words"),
            }
        )
    return examples


# --------------------------------------------------------------------------- constrained decoding


def answer_candidates(subtask: str, labels: Mapping) -> list[str] | None:
    """The answers constrained decoding chooses among for a sequence-level subtask; None for slots."""
    if subtask in WORD_SUBTASKS:
        return None
    if subtask not in labels:
        raise DataError(f"labels.json has no {subtask!r} list")
    return list(labels[subtask])


# --------------------------------------------------------------------------- parsing

_NOTHING = object()
_FENCE = "```"
_FENCE_LANGUAGE = re.compile(r"json|python", re.IGNORECASE)
# Where a list/object may start, only the first few brackets are tried: each try reads to the
# end of the text, and an output of brackets alone would otherwise cost quadratic time.
MAX_LITERAL_STARTS = 64
# What decoding model output as JSON or a Python literal raises besides ValueError: nesting
# deeper than the recursion limit, unhashable keys ({[1]: 2}), huge literals.
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError)


def _unfenced(text: str) -> str:
    """What the first code fence (```json ... ```) holds, else ``text``. Found with str.find: a
    regular expression for it backtracks quadratically on an unclosed fence before whitespace."""
    start = text.find(_FENCE)
    end = text.find(_FENCE, start + len(_FENCE)) if start >= 0 else -1
    if end < 0:
        return text
    inner = text[start + len(_FENCE) : end]
    language = _FENCE_LANGUAGE.match(inner)
    return inner[language.end() :] if language else inner


def _literal(text: str) -> Any:
    """The first JSON (or Python-literal) list/object in ``text``; trailing text is ignored."""
    text = _unfenced(text).strip()
    decoder = json.JSONDecoder()
    for match in itertools.islice(re.finditer(r"[\[{]", text), MAX_LITERAL_STARTS):
        with contextlib.suppress(*_LITERAL_ERRORS):
            return decoder.raw_decode(text, match.start())[0]
        closing = "]" if match.group() == "[" else "}"
        with contextlib.suppress(*_LITERAL_ERRORS):
            return ast.literal_eval(text[match.start() : text.rfind(closing) + 1])
    return _NOTHING


def _json_string(text: str) -> str:
    """A bare answer, unwrapped from JSON string quotes when it is one."""
    text = text.strip()
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, str) else text


def _canonical(value: str, choices: Sequence[str]) -> str | None:
    """The label ``value`` names, case and spacing aside (quotes and a final period dropped)."""
    key = " ".join(value.strip().strip("\"'`").rstrip(".").split()).lower()
    return next((c for c in choices if " ".join(c.split()).lower() == key), None)


def _label_in_text(text: str, choices: Sequence[str]) -> str | None:
    """The label found earliest in free text as a whole word (the longest one at that position)."""
    found = []
    for choice in choices:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(choice)}(?![A-Za-z0-9_])", text, re.IGNORECASE)
        if match:
            found.append((match.start(), -len(choice), choice))
    return min(found)[2] if found else None


def _label(value: Any, choices: Sequence[str], search: bool) -> str | None:
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    if not isinstance(value, str):
        return None
    value = _json_string(value)
    return _canonical(value, choices) or (_label_in_text(value, choices) if search else None)


def _slot_tag(tag: Any, choices: Sequence[str]) -> str | None:
    """One word's slot label: canonical name, "O"/"Other" -> Other, BIO prefixes dropped; unknown kept."""
    if isinstance(tag, list) and tag:  # a [word, label] pair
        tag = tag[-1]
    if not isinstance(tag, str):
        return None
    if tag.strip().upper() == "O":
        return OUTSIDE
    bare = re.sub(r"^[BI]-", "", tag.strip())
    return _canonical(tag, choices) or _canonical(bare, choices) or tag.strip()


def _bare_tags(text: str, choices: Sequence[str]) -> list[str] | None:
    """Labels written without a list ("Other Other date"): accepted only when every one is a label."""
    tags = text.replace(",", " ").split()
    known = all(tag.upper() == "O" or _canonical(tag, choices) for tag in tags)
    return tags if known else None


def _slots(value: Any, choices: Sequence[str], words: Sequence[str]) -> list[str] | None:
    """Word labels aligned to ``words`` (padded with Other, extras cut, as section 5.8), or None."""
    if isinstance(value, str):
        value = _literal(value) if re.search(r"[\[{]", value) else _bare_tags(value, choices)
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    if not isinstance(value, list) or not value:
        return None
    tags = [_slot_tag(tag, choices) for tag in value]
    return None if None in tags else align_to_words(tags, len(words))


def _task_field(text: str, key: str) -> Any:
    """The value after ``"key":`` in text that is no valid JSON object (e.g. cut off after it)."""
    match = re.search(rf"[\"']?{re.escape(key)}[\"']?\s*:\s*", text)
    if not match:
        return _NOTHING
    rest = text[match.end() :]
    try:
        return json.JSONDecoder().raw_decode(rest)[0]
    except (ValueError, RecursionError):
        quoted = re.match(r"'([^']*)'", rest)
        return quoted.group(1) if quoted else _literal(rest)


def _subtask_values(text: str, tpl: dict) -> dict[str, Any]:
    """Raw values of each subtask: the whole output for one task, the JSON fields for two."""
    if len(tpl["subtasks"]) == 1:
        return {tpl["subtasks"][0]: text}
    obj = _literal(text)
    values = {}
    for key, subtask in tpl["tasks"].items():
        if isinstance(obj, Mapping) and (key in obj or subtask in obj):
            values[subtask] = obj.get(key, obj.get(subtask))
        else:
            values[subtask] = _task_field(text, key)
    return values


def parse_output(
    text: str | None, subtasks: Sequence[str], labels: Mapping, words: Sequence[str] | None = None
) -> tuple[dict, bool]:
    """(prediction per subtask, parsed_ok) from a model's output; total: no string raises.

    JSON first (also inside code fences or before trailing text), then a tolerant fallback:
    a label named case- and space-insensitively, or found in the text (single-task outputs), a
    Python-syntax list, a cut-off consolidated JSON. Slot lists are aligned to ``words``. A
    subtask nothing could be read for is None (scored as wrong) and makes parsed_ok False.
    """
    if any(s in WORD_SUBTASKS for s in subtasks) and words is None:
        raise ValueError("parsing slot labels needs the utterance's words")
    pred: dict[str, Any] = dict.fromkeys(subtasks)
    if text is not None:
        single = len(subtasks) == 1
        for subtask, value in _subtask_values(text, template(subtasks)).items():
            if value is _NOTHING or value is None:
                continue
            if subtask in WORD_SUBTASKS:
                pred[subtask] = _slots(value, labels[subtask], words)
            else:
                pred[subtask] = _label(value, labels[subtask], search=single)
    return pred, all(v is not None for v in pred.values())


# --------------------------------------------------------------------------- runs


def run_examples(
    task: Mapping, shots: str, train_path: str | Path, test_path: str | Path, labels: Mapping, seed: int
) -> list[dict]:
    """The prompt examples of one run's test split: ``task`` is a config zhao2025 task, ``shots``
    zero-shot | five-shot, ``seed`` that of the five-shot demos (config data.seed, as for the decoders)."""
    demos = task_demos(read_jsonl(train_path), task["subtasks"], shots, seed)
    return prompt_examples(read_jsonl(test_path), task["subtasks"], task["dataset"], demos, labels)


def task_demos(
    train_records: Sequence[Mapping], subtasks: Sequence[str], shots: str, seed: int
) -> list[dict] | None:
    """The five-shot demos of a run (training records), None for zero-shot."""
    if shots not in ("zero-shot", "five-shot"):
        raise ValueError(f"shots must be zero-shot or five-shot, got {shots!r}")
    return few_shot_demos(train_records, subtasks, seed) if shots == "five-shot" else None


def prediction_record(example: Mapping, output: str | None, labels: Mapping, too_long: bool = False) -> dict:
    """The prediction record of one example's output (None when the prompt was too long), as scored
    by ftrepro.metrics.score_predictions: {"id", "gold", "pred", "output", "parsed", "too_long",
    "replaced_characters"}. Lone surrogates in the output (undecodable text from an endpoint)
    are replaced by U+FFFD first and counted."""
    output, replaced = replace_lone_surrogates(output) if output is not None else (None, 0)
    pred, parsed = parse_output(output, list(example["gold"]), labels, example["words"])
    return {
        "id": example["id"],
        "gold": example["gold"],
        "pred": pred,
        "output": output,
        "parsed": parsed,
        "too_long": too_long,
        "replaced_characters": replaced,
    }
