"""Prompt templates kept as data (YAML beside each module) and the code that renders and parses them.

Shared by every paper's prompts: placeholders are filled in one pass (`fill`), and chat messages
become a model's input text through its own chat template (`render_prompt`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every {Name} of ``text`` in one pass, so braces inside inserted text stay as they are."""

    def value(match: re.Match) -> str:
        if match.group(1) not in values:
            raise ValueError(f"prompt placeholder {match.group(0)} has no value")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, text)


def llama2_layout(messages: Sequence[Mapping]) -> str:
    """The listings' layout: ``[INST]{user} [/INST]\\n``, a system message in Llama 2's <<SYS>> block."""
    roles = [m["role"] for m in messages]
    if roles not in (["user"], ["system", "user"]):
        raise ValueError(
            f"the [INST] layout takes a user message, optionally after a system one; got {roles}"
        )
    system = f"<<SYS>>\n{messages[0]['content']}\n<</SYS>>\n\n" if roles[0] == "system" else ""
    return f"[INST]{system}{messages[-1]['content']} [/INST]\n"


def render_prompt(tokenizer: Any, messages: Sequence[Mapping]) -> str:
    """The model's input text up to where the answer starts.

    The tokenizer's own chat template (generation prompt added) where it has one, else the
    listings' [INST] layout. A leading BOS token is dropped from the text: the tokenizer adds its
    special tokens itself when the text is encoded (``add_special_tokens=True``), so it is never doubled.
    """
    if not getattr(tokenizer, "chat_template", None):
        return llama2_layout(messages)
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    bos = tokenizer.bos_token
    return text[len(bos) :] if bos and text.startswith(bos) else text
