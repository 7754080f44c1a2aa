"""zhao2025 runs of open decoders: the listings' prompts rendered for a model (training examples
and test prompts), and prediction records from free generation and constrained decoding.

A prediction record: {"id", "gold", "pred", "output" (generated text, None when the prompt does
not fit the context), "parsed", "too_long"} and, with constrained decoding, "pred_constrained"
{subtask: label} for the sequence-level subtasks, None where the prompt leaves no room for the
candidates (scored wrong, as a free answer that does not fit is).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from transformers import AutoTokenizer

from ftrepro.data import OUTSIDE
from ftrepro.infer.causal import choose, generate
from ftrepro.papers.zhao2025.prompts import (
    answer_candidates,
    answer_text,
    prediction_record,
    prompt_examples,
    template,
)
from ftrepro.prompts import render_prompt

log = logging.getLogger(__name__)


def rendered_examples(
    model_dir: str | Path,
    records: Sequence[dict],
    subtasks: list[str],
    dataset: str,
    labels: Mapping,
    demos: list[dict] | None,
) -> list[dict]:
    """Prompt examples (ftrepro.papers.zhao2025.prompts) with "prompt": the text rendered for the model."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return [
        {**example, "prompt": render_prompt(tokenizer, example["messages"])}
        for example in prompt_examples(records, subtasks, dataset, demos, labels)
    ]


def training_examples(
    model_dir: str | Path,
    train_records: Sequence[dict],
    subtasks: list[str],
    dataset: str,
    labels: Mapping,
    demos: list[dict] | None,
) -> list[dict]:
    """Every training record as a prompt and its answer, but the five-shot examples themselves:
    a prompt never shows the record it asks about."""
    demo_ids = {demo["id"] for demo in demos or []}
    records = [record for record in train_records if record["id"] not in demo_ids]
    return rendered_examples(model_dir, records, subtasks, dataset, labels, demos)


def predict_records(
    model_dir: str | Path,
    examples: list[dict],
    subtasks: list[str],
    dataset: str,
    labels: Mapping,
    *,
    max_new_tokens: int,
    batch_size: int,
    constrained: bool,
) -> list[dict]:
    """Generate, parse and (with `constrained`) choose for every rendered example."""
    prompts = [example["prompt"] for example in examples]
    outputs = generate(model_dir, prompts, max_new_tokens, batch_size)
    records = [
        prediction_record(example, output, labels, too_long=output is None)
        for example, output in zip(examples, outputs, strict=True)
    ]
    if constrained:
        for record, choice in zip(
            records,
            constrained_predictions(model_dir, prompts, subtasks, dataset, labels, batch_size),
            strict=True,
        ):
            record["pred_constrained"] = choice
    log.info(
        "%d predictions, %d unparsed, %d too long",
        len(records),
        sum(not r["parsed"] for r in records),
        sum(r["too_long"] for r in records),
    )
    return records


def constrained_predictions(
    model_dir: str | Path,
    prompts: list[str],
    subtasks: list[str],
    dataset: str,
    labels: Mapping,
    batch_size: int,
) -> list[dict | None]:
    """{subtask: label} per prompt for the sequence-level subtasks, chosen by likelihood among
    answers in the trained format (answer_text). When every subtask is sequence-level the
    candidates are the whole answers of every label combination (a consolidated 20NG model
    picks its best complete JSON); next to slots, each label is scored as the beginning of the
    answer up to its closing quote. {} when there is no sequence-level subtask."""
    tpl = template(subtasks, dataset)
    options = {s: answer_candidates(s, labels) for s in subtasks}
    sequence = [s for s in subtasks if options[s] is not None]
    if not sequence:
        return [{} for _ in prompts]
    if len(sequence) == len(subtasks):
        combos = [dict(zip(subtasks, combo, strict=True)) for combo in itertools.product(*options.values())]
        texts = [answer_text(tpl, combo) for combo in combos]
        chosen = choose(model_dir, prompts, [texts] * len(prompts), batch_size)
        return [None if text is None else combos[texts.index(text)] for text in chosen]
    picks: list[dict | None] = [{} for _ in prompts]
    for subtask in sequence:
        beginnings = {answer_beginning(tpl, subtask, label, subtasks): label for label in options[subtask]}
        chosen = choose(
            model_dir, prompts, [list(beginnings)] * len(prompts), batch_size, whole_answers=False
        )
        picks = [
            None if pick is None or text is None else {**pick, subtask: beginnings[text]}
            for pick, text in zip(picks, chosen, strict=True)
        ]
    return picks


def answer_beginning(tpl: dict, subtask: str, label: str, subtasks: list[str]) -> str:
    """The answer text up to the end of `label` (its closing quote), which must not depend on
    the other subtasks' values."""
    beginnings = set()
    for filler in ([], [OUTSIDE]):
        text = answer_text(tpl, {s: label if s == subtask else filler for s in subtasks})
        quoted = json.dumps(label, ensure_ascii=False)
        beginnings.add(text[: text.index(quoted) + len(quoted)])
    if len(beginnings) != 1:
        raise ValueError(
            f"the {tpl['dataset']} answer puts another subtask before {subtask!r}: "
            f"its label cannot be scored alone"
        )
    return beginnings.pop()
