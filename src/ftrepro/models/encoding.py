"""Text -> token ids, one way for training and prediction alike: causal prompts and answers,
word-level encoder inputs, and Tk-Instruct's seq2seq sources."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from transformers import AutoTokenizer

from ftrepro.data.superni import DEF_POS, def_pos_prompt, missing_negatives, read_task
from ftrepro.io import DataError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label of positions the loss skips (prompt tokens, non-first sub-words)


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a rendered prompt. A chat template writes the BOS token into the text
    itself; the tokenizer adds it only to a prompt that lacks it (never twice)."""
    has_bos = tokenizer.bos_token is not None and prompt.startswith(tokenizer.bos_token)
    return tokenizer(prompt, add_special_tokens=not has_bos)["input_ids"]


def encode_answer(tokenizer, answer: str) -> list[int]:
    """The answer's ids then EOS: what the model must emit after the prompt and when to stop."""
    return tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def shared_prefix(inputs: list[list[int]]) -> list[int]:
    """The tokens every input starts with, short of the last token of the shortest input: each
    input keeps a token after the prefix, whose logits predict what follows it."""
    if not inputs:
        return []
    shortest = min(map(len, inputs))
    common = 0
    for column in zip(*inputs, strict=False):
        if len(set(column)) > 1:
            break
        common += 1
    return list(inputs[0][: min(common, shortest - 1)])


def cut_middle(ids: list[int], budget: int) -> list[int]:
    """The first and last halves of `budget` tokens of `ids`. Prompts hold the instruction (and
    label list) at the head and the input's end and the answer cue ("Label: [/INST]", the chat
    template's assistant header) at the tail; the middle (demonstrations, the body of a long
    input) is what a model can best do without."""
    if len(ids) <= budget:
        return ids
    head = budget // 2
    return ids[:head] + ids[len(ids) - (budget - head) :]


def encode_example(tokenizer, example: dict, max_length: int) -> dict:
    """{"input_ids", "labels"} of one example: prompt then answer + EOS, the labels -100 on the
    prompt. A too-long example keeps its whole answer and loses the middle of its prompt."""
    prompt, answer = encode_prompt(tokenizer, example["prompt"]), encode_answer(tokenizer, example["answer"])
    if len(answer) >= max_length:
        raise DataError(
            f"example {example.get('id', '')!r}: the answer alone has {len(answer)} tokens, "
            f"max_length is {max_length}"
        )
    prompt = cut_middle(prompt, max_length - len(answer))
    return {"input_ids": prompt + answer, "labels": [IGNORE_INDEX] * len(prompt) + answer}


def encode_examples(tokenizer, examples: Sequence[dict], max_length: int) -> list[dict]:
    features = [encode_example(tokenizer, example, max_length) for example in examples]
    log_encoded([len(f["input_ids"]) for f in features], max_length)
    return features


def log_encoded(lengths: Sequence[int], max_length: int) -> None:
    log.info(
        "%d examples, %d tokens, %d at max_length %d (prompt middle cut)",
        len(lengths),
        sum(lengths),
        sum(length == max_length for length in lengths),
        max_length,
    )


def load_tokenizer(model_dir: str | Path, word_level: bool):
    """The model's tokenizer; byte-level BPE ones (RoBERTa) need a prefix space to tokenise
    pre-split words like words inside a sentence (other tokenizers ignore the option)."""
    return AutoTokenizer.from_pretrained(model_dir, **({"add_prefix_space": True} if word_level else {}))


class SourceText:
    """The model input of a record, as Tk-Instruct's DataCollatorForNI builds it.

    With instructions, the prompt (`prompt`, a name of ftrepro.data.superni.PROMPTS: def-pos unless
    given) is rebuilt from the raw task file with the collator's length rule (the derived
    `encodings.def_pos` always holds both examples); the task's definition and examples are read
    once per task. Without, the record's bare input.
    """

    def __init__(
        self,
        tokenizer,
        max_source_length: int,
        *,
        instructions: bool,
        raw_dir: str | Path | None = None,
        prompt: str = DEF_POS,
    ):
        if instructions and raw_dir is None:
            raise ValueError(
                "def-pos sources need raw_dir (the SuperNI task files) for definitions and examples"
            )
        self.tokenizer, self.max_length, self.instructions = tokenizer, max_source_length, instructions
        self.raw_dir = Path(raw_dir) if raw_dir is not None else None
        self.prompt = prompt
        self._tasks: dict[str, dict] = {}

    def __call__(self, record: dict) -> str:
        if self.instructions:
            task = self._task(record["task"])
            source = def_pos_prompt(task, record["input"], fits=self.fits, prompt=self.prompt)
        else:
            source = record["encodings"]["input_only"]
        ids = self.tokenizer(source)["input_ids"]
        if len(ids) <= self.max_length:
            return source
        return self.tokenizer.decode(ids[: self.max_length], skip_special_tokens=True)

    def fits(self, text: str) -> bool:
        return len(self.tokenizer(text)["input_ids"]) <= self.max_length

    def _task(self, name: str) -> dict:
        if name not in self._tasks:
            path = self.raw_dir / "tasks" / f"{name}.json"
            task = read_task(path)
            if missing_negatives(task, self.prompt):
                raise DataError(
                    f"{path}: prompt {self.prompt} needs {missing_negatives(task, self.prompt)} more "
                    "negative example(s) than field 'Negative Examples' holds"
                )
            # only what the prompt needs: a task's Instances can be tens of MB
            keys = ("Definition", "Positive Examples", "Negative Examples")
            self._tasks[name] = {key: task[key] for key in keys if key in task}
        return self._tasks[name]

    def encode(self, record: dict) -> dict:
        """Token ids of the source, cut to max_source_length as the collator's tokenizer call does."""
        return dict(self.tokenizer(self(record), max_length=self.max_length, truncation=True))
