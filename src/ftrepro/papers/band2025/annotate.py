"""LLM annotation of arena rows with the preference properties of band2025 (after Li et al. 2024's taxonomy).

band2025 rates each response on 18 basic and 2 query-aware properties (0-3) and the prompt on 5 query-specific
binary properties. The paper names the groups and counts but not the items; they match Li et al.'s
"Dissecting Human and LLM Preferences" taxonomy exactly (its query-free set has 18 items, its query-aware-once
set 2, its query check 5), so the names and definitions below are theirs.

Annotation file, one line per annotated arena train row:
  {"id", "status": "ok" | "failed", "response_a": {property: 0..3}, "response_b": {...},
   "prompt": {query property: 0 | 1}, "error": str (failed rows only), "reasoning": str (API drafts, if any),
   "replaced_characters": int (lone surrogates replaced in the API's answers, if any)}

Annotators: an OpenAI-compatible endpoint (ftrepro.infer.api; JSON parsed from the answer; malformed answers are retried,
then the row is recorded as failed), or a local transformers model decoding only the rating digits at
each slot of the JSON (schema-constrained), which always yields a valid record. Runs are resumable:
every annotated row is appended to a scratch file at once and never redone after a kill.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import re
import reprlib
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import yaml
from tqdm import tqdm

from ftrepro.fit import prepare_work_dir
from ftrepro.io import (
    DataError,
    atomic_path,
    iter_jsonl,
    json_text,
    read_appended_jsonl,
    read_jsonl,
    replace_lone_surrogates,
    write_jsonl,
)
from ftrepro.prompts import fill, render_prompt

log = logging.getLogger(__name__)
PROMPT_FILE = Path(__file__).with_name("annotate.yaml")

# Li et al.'s query-free characteristics (rated from the response alone), in their order.
BASIC_PROPERTIES = (
    "harmlessness",
    "grammar_spelling_punctuation",
    "friendly",
    "polite",
    "interactive",
    "authoritative_tone",
    "funny_and_humorous",
    "rhetorical_devices",
    "complex_word_usage",
    "supporting_materials",
    "well_formatted",
    "admit_limitations",
    "persuade_user",
    "step_by_step",
    "informal_expressions",
    "repetitive",
    "clear_and_understandable",
    "information_richness",
)
# Li et al.'s query-aware characteristics (rated against the query).
QUERY_AWARE_PROPERTIES = ("innovative_and_novel", "relevance")
RESPONSE_PROPERTIES: tuple[str, ...] = BASIC_PROPERTIES + QUERY_AWARE_PROPERTIES
# Li et al.'s query check, as yes/no facts about the prompt.
PROMPT_PROPERTIES: tuple[str, ...] = (
    "clear_intent",
    "expresses_feelings",
    "explicit_constraints",
    "subjective_stances",
    "mistakes_or_biases",
)
RATINGS = (0, 1, 2, 3)
PROMPT_VALUES = (0, 1)
STATUSES = ("ok", "failed")
# The rated parts of an ok record: (key, property names, allowed values).
RATED_PARTS = (
    ("response_a", RESPONSE_PROPERTIES, RATINGS),
    ("response_b", RESPONSE_PROPERTIES, RATINGS),
    ("prompt", PROMPT_PROPERTIES, PROMPT_VALUES),
)
# The order of the parts in the LLM's answer: the query first, as a reader meets it.
ANSWER_ORDER = ("prompt", "response_a", "response_b")


def check_ratings(ratings: object, names: tuple[str, ...], allowed: tuple[int, ...]) -> dict[str, int]:
    """`ratings` as {name: int} with exactly `names` as keys and values in `allowed`; else DataError."""
    if not isinstance(ratings, dict):
        raise DataError(f"expected an object, got {type(ratings).__name__}")
    missing, extra = set(names) - set(ratings), set(ratings) - set(names)
    if missing or extra:
        # reprlib: an answer's junk keys and values can be of any size and nesting
        raise DataError(f"missing {sorted(missing)}, unexpected {reprlib.repr(sorted(extra))}")
    for name in names:
        value = ratings[name]
        if isinstance(value, bool) or value not in allowed:
            raise DataError(f"{name}: {reprlib.repr(value)} is not one of {list(allowed)}")
    return {name: int(ratings[name]) for name in names}


def check_annotation(record: dict) -> dict:
    """One annotation record validated (ok rows: all 45 ratings in range); DataError says what is wrong."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise DataError("no string 'id'")
    if record.get("status") not in STATUSES:
        raise DataError(f"status {record.get('status')!r} is not one of {list(STATUSES)}")
    if record["status"] == "failed":
        return record
    checked = dict(record)
    for part, names, allowed in RATED_PARTS:
        try:
            checked[part] = check_ratings(record.get(part), names, allowed)
        except DataError as e:
            raise DataError(f"{part}: {e}") from None
    return checked


def iter_annotation_lines(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, validated record) for every non-blank line of an annotation file; DataError names file:line."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, check_annotation(json.loads(line))
            except ValueError as e:  # JSONDecodeError included
                raise DataError(f"{path}:{lineno}: {e}") from None


def read_annotations(path: str | os.PathLike) -> list[dict]:
    """The ok rows of an annotation file (failed rows are skipped); a malformed line raises DataError (file:line)."""
    return [record for _, record in iter_annotation_lines(path) if record["status"] == "ok"]


# --------------------------------------------------------------------------- the prompt


@functools.cache
def prompt_spec() -> dict:
    """The annotation prompt (annotate.yaml), checked against the property lists above."""
    spec = yaml.safe_load(PROMPT_FILE.read_text(encoding="utf-8"))
    if (
        tuple(spec["response_properties"]) != RESPONSE_PROPERTIES
        or tuple(spec["prompt_properties"]) != PROMPT_PROPERTIES
    ):
        raise ValueError(f"{PROMPT_FILE}: the property definitions do not match RESPONSE/PROMPT_PROPERTIES")
    check_annotation({"id": "example", "status": "ok", **spec["example"]["ratings"]})
    return spec


def json_template() -> str:
    """The answer's JSON shape, each value the allowed digits."""
    shape = {
        part: {name: "/".join(map(str, allowed)) for name in names} for part, names, allowed in RATED_PARTS
    }
    return json.dumps({part: shape[part] for part in ANSWER_ORDER}, indent=2)


def capped_text(turns: Sequence[str], max_chars: int) -> str:
    """An arena field's turns joined; long texts keep their first `max_chars` characters (the prompt must fit)."""
    text = "\n\n".join(turns)
    return text if len(text) <= max_chars else text[:max_chars] + " [...]"


def annotation_messages(row: dict, max_chars: int) -> list[dict]:
    """The chat messages that ask for one arena row's annotation."""
    spec, example = prompt_spec(), prompt_spec()["example"]
    values = {
        "characteristics": "\n".join(
            f"- {name}: {text}" for name, text in spec["response_properties"].items()
        ),
        "questions": "\n".join(f"- {name}: {text}" for name, text in spec["prompt_properties"].items()),
        "rating_scale": spec["rating_scale"],
        **{f"example_{key}": example[key] for key in ("prompt", "response_a", "response_b", "draft")},
        "example_json": json.dumps({part: example["ratings"][part] for part in ANSWER_ORDER}),
        "json_template": json_template(),
        **{key: capped_text(row[key], max_chars) for key in ("prompt", "response_a", "response_b")},
    }
    return [{"role": "user", "content": fill(spec["template"], values)}]


# --------------------------------------------------------------------------- parsing an answer

# Where the template starts to differ between rows.
ROW_MARKER = "[Query Start]"
_REASONING_END = re.compile(r"</(?:draft|think)>", re.IGNORECASE)


def parse_answer(text: str | None) -> tuple[dict, str | None]:
    """(ratings {prompt, response_a, response_b}, reasoning or None) from an LLM's answer; DataError if malformed.

    Total: any string gives ratings or DataError (lone surrogates are replaced first). Drafts (<draft>, or a
    reasoning model's <think>) come before the JSON; code fences around it are allowed, and digits written as
    strings ("2") are read as numbers.
    """
    text, _ = replace_lone_surrogates(text or "")
    ends = list(_REASONING_END.finditer(text))
    reasoning = text[: ends[-1].start()].strip() if ends else None
    answer = text[ends[-1].end() :] if ends else text
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end < start:
        raise DataError(f"no JSON object in the answer: {answer[:200]!r}")
    try:
        value = json.loads(answer[start : end + 1])
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON in the answer: {e}") from None
    except (ValueError, RecursionError) as e:  # a number too long to convert, nesting too deep
        raise DataError(f"unreadable JSON in the answer: {str(e)[:200] or type(e).__name__}") from None
    if not isinstance(value, dict):
        raise DataError("the answer's JSON is not an object")
    ratings = {}
    for part, names, allowed in RATED_PARTS:
        given = value.get(part)
        if isinstance(given, dict):
            given = {name: _rating_number(v) for name, v in given.items()}
        try:
            ratings[part] = check_ratings(given, names, allowed)
        except DataError as e:
            raise DataError(f"{part}: {e}") from None
    return ratings, reasoning


def _rating_number(value: object) -> object:
    """A rating written as a string of a few ASCII digits ("2") as a number; anything else as it is
    ("²" passes str.isdigit but is no number: check_ratings then refuses it)."""
    digits = value.strip() if isinstance(value, str) else ""
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 3 else value


# --------------------------------------------------------------------------- annotators

# An annotator maps an arena row to its annotation record (status ok or failed).
Annotator = Callable[[dict], dict]


def ok_record(row_id: str, ratings: dict, reasoning: str | None = None) -> dict:
    record = {"id": row_id, "status": "ok", **{part: ratings[part] for part, _, _ in RATED_PARTS}}
    return {**record, "reasoning": reasoning} if reasoning else record


class ApiAnnotator:
    """An OpenAI-compatible chat endpoint (a client from ftrepro.infer.api.make_client).

    A malformed answer is asked again, up to `attempts` times, then the row is recorded as failed, as is a row
    whose prompt the endpoint says is too long. Transport errors are the client's to retry; past that they end
    the job, and the rows they hit are annotated on rerun.
    """

    def __init__(
        self,
        client,
        model: str,
        *,
        attempts: int,
        temperature: float,
        max_tokens: int,
        json_mode: bool,
        max_chars: int,
    ):
        self.client, self.model, self.attempts, self.max_chars = client, model, attempts, max_chars
        self.request = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            **({"response_format": {"type": "json_object"}} if json_mode else {}),
        }

    def __call__(self, row: dict) -> dict:
        from ftrepro.infer.api import PromptTooLong, chat

        messages = annotation_messages(row, self.max_chars)
        errors, replaced = [], 0
        for _ in range(self.attempts):
            try:
                answer, n = replace_lone_surrogates(chat(self.client, self.model, messages, **self.request))
                replaced += n
                return _counted(ok_record(row["id"], *parse_answer(answer)), replaced)
            except DataError as e:
                errors.append(str(e))
            except PromptTooLong as e:
                return {"id": row["id"], "status": "failed", "error": f"prompt too long: {e}"}
        log.warning("row %s: no valid answer in %d attempts: %s", row["id"], self.attempts, errors[-1])
        failed = {
            "id": row["id"],
            "status": "failed",
            "error": f"{self.attempts} malformed answers; last: {errors[-1]}",
        }
        return _counted(failed, replaced)


def _counted(record: dict, replaced: int) -> dict:
    """The record with the count of lone surrogates replaced in its answers, when there were any."""
    return {**record, "replaced_characters": replaced} if replaced else record


class LocalAnnotator:
    """A local transformers causal LM that writes the answer's JSON with only the ratings left to it.

    The JSON skeleton is fixed; at each rating slot the allowed digits are scored by the model's next-token
    log-likelihood and the best is written (schema-constrained decoding, one cached forward pass per slot), so
    every row gets a valid record, from a random tiny model too. No drafts: the answer starts at the JSON.
    """

    def __init__(self, model_dir: str | Path, *, max_chars: int):
        import torch

        from ftrepro.infer.causal import load_for_inference

        self.torch, self.max_chars = torch, max_chars
        # the one loader: a 70B annotator is spread over the job's GPUs (ftrepro.infer.loading.placement)
        self.tokenizer, self.model = load_for_inference(model_dir)
        self.device = self.model.device  # where the inputs go: the embedding's GPU
        self.digit_ids = {digit: self._single_token(str(digit)) for digit in RATINGS}
        self.fragments, self.slots = answer_skeleton()
        self.fragment_ids = [self.tokenizer.encode(f, add_special_tokens=False) for f in self.fragments]
        self._prefix = None  # (text, key/value cache, length in tokens)

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"the annotator's tokenizer splits the rating {text!r} into {len(ids)} tokens")
        return ids[0]

    def __call__(self, row: dict) -> dict:
        prompt = render_prompt(self.tokenizer, annotation_messages(row, self.max_chars)) + self.fragments[0]
        split = prompt.index(ROW_MARKER)  # what comes before is the same for every row
        with self.torch.no_grad():
            cache = self._prefix_cache(prompt[:split])
            out = self._forward(self.tokenizer.encode(prompt[split:], add_special_tokens=False), cache)
            ratings: dict[str, dict[str, int]] = {part: {} for part, _, _ in RATED_PARTS}
            for i, (part, name, allowed) in enumerate(self.slots):
                logits = out.logits[0, -1]
                value = max(allowed, key=lambda digit: logits[self.digit_ids[digit]].item())
                ratings[part][name] = value
                if i + 1 < len(self.slots):  # the last slot's closing braces need no forward pass
                    out = self._forward([self.digit_ids[value], *self.fragment_ids[i + 1]], cache)
        return ok_record(row["id"], ratings)

    def _prefix_cache(self, prefix: str):
        """The key/value cache of the prompt's shared beginning (instructions, definitions, example), computed
        once and cut back to it before each row."""
        if self._prefix is None or self._prefix[0] != prefix:
            ids = self.tokenizer(prefix, return_tensors="pt").input_ids.to(self.device)
            self._prefix = (
                prefix,
                self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values,
                ids.shape[1],
            )
        _, cache, length = self._prefix
        cache.crop(length - cache.get_seq_length())  # transformers v5: a negative count of tokens to drop
        return cache

    def _forward(self, ids: list[int], cache):
        return self.model(
            input_ids=self.torch.tensor([ids], device=self.device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )


def answer_skeleton() -> tuple[list[str], list[tuple[str, str, tuple[int, ...]]]]:
    """The answer JSON cut at its rating slots: (text fragments, (part, property, allowed digits) per slot);
    fragments[i] comes before slot i and the last fragment closes the object."""
    parts = {part: (names, allowed) for part, names, allowed in RATED_PARTS}
    fragments, slots, pending = [], [], "{"
    for p, part in enumerate(ANSWER_ORDER):
        names, allowed = parts[part]
        pending += ("" if p == 0 else "}, ") + json.dumps(part) + ": {"
        for n, name in enumerate(names):
            fragments.append(pending + ("" if n == 0 else ", ") + json.dumps(name) + ": ")
            slots.append((part, name, allowed))
            pending = ""
    fragments.append("}}")
    return fragments, slots


# --------------------------------------------------------------------------- runs


def select_rows(train_path: str | os.PathLike, rows: int, seed: int) -> list[dict]:
    """A seeded sample of `rows` arena train rows (all if fewer), in file order."""
    records = read_jsonl(train_path)
    if rows >= len(records):
        return records
    chosen = set(random.Random(seed).sample(range(len(records)), rows))
    return [record for i, record in enumerate(records) if i in chosen]


def annotate_rows(
    rows: Sequence[dict],
    annotate: Annotator,
    out_path: str | os.PathLike,
    *,
    work_dir: str | os.PathLike,
    fingerprint: dict,
) -> dict[str, int]:
    """Annotate every row not yet in the work directory's partial file, appending each at once; then write all,
    in row order, to `out_path` atomically and drop the work directory. Returns {ok, failed, resumed} counts, and
    replaced_characters when answers had lone surrogates."""
    work_dir = Path(work_dir)
    prepare_work_dir(work_dir, fingerprint)  # another configuration's partial rows are wiped, not reused
    partial = work_dir / "annotations.partial.jsonl"
    done = read_appended_jsonl(partial, check_annotation)
    todo = [row for row in rows if row["id"] not in done]
    log.info("%d rows to annotate, %d already done", len(todo), len(rows) - len(todo))
    with (
        open(partial, "a", encoding="utf-8") as f,
        tqdm(total=len(rows), initial=len(rows) - len(todo), desc="annotating", mininterval=10) as bar,
    ):
        for row in todo:
            record = check_annotation(annotate(row))
            f.write(json_text(record) + "\n")
            f.flush()
            done[record["id"]] = record
            bar.update()
    records = [done[row["id"]] for row in rows]
    write_jsonl(out_path, records)
    shutil.rmtree(work_dir)
    failed = sum(record["status"] == "failed" for record in records)
    counts = {"ok": len(records) - failed, "failed": failed, "resumed": len(rows) - len(todo)}
    replaced = sum(record.get("replaced_characters", 0) for record in records)
    return {**counts, "replaced_characters": replaced} if replaced else counts


def use_supplied_annotations(
    path: str | os.PathLike, train_path: str | os.PathLike, out_path: str | os.PathLike
) -> int:
    """Copy a user's annotation file to `out_path` as is, once every line is valid and names a train row once."""
    train_ids = {record["id"] for record in iter_jsonl(train_path)}
    seen = set()
    for lineno, record in iter_annotation_lines(path):
        if record["id"] not in train_ids:
            raise DataError(f"{path}:{lineno}: id {record['id']!r} is not an arena train row")
        if record["id"] in seen:
            raise DataError(f"{path}:{lineno}: id {record['id']!r} is annotated twice")
        seen.add(record["id"])
    if not seen:
        raise DataError(f"{path}: no annotations")
    with atomic_path(out_path) as tmp:
        shutil.copyfile(path, tmp)
    return len(seen)
