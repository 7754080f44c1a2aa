"""An OpenAI-compatible chat client: OpenAI itself, or a local vLLM / llama.cpp server via ``base_url``.

Settings are the config's ``api`` block. The key is read from the environment variable it names
(never from the config, never logged). Rate limits (429), server errors (5xx), timeouts and
dropped connections are retried by the openai client itself with exponential backoff, honouring
Retry-After (``max_retries``). A reply without an answer (no choices, a body that is not JSON, a
message without text) is a NoAnswer, which ``chat_many`` asks again and counts; it stores an
answer cut at ``max_tokens`` tokens' worth of text. ``chat_many`` answers many requests
concurrently and resumably: each answer is appended to a partial file as it arrives, so a killed
job loses only requests in flight.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import openai
from tqdm import tqdm

from ftrepro.io import DataError, json_text, read_appended_jsonl

log = logging.getLogger(__name__)

# No tokenizer's token is longer than this many characters in practice: an answer of max_tokens
# tokens fits in max_tokens x this; more is an endpoint that ignored max_tokens.
CHARS_PER_TOKEN = 16
ATTEMPTS = 3  # asks per request while the reply holds no answer

# How servers say a prompt is longer than the model's context: OpenAI's error code, vLLM's and
# llama.cpp's messages.
CONTEXT_ERROR_CODES = frozenset({"context_length_exceeded"})
CONTEXT_ERROR_PHRASES = ("maximum context length", "context length", "context size", "context window")


class MissingApiKey(RuntimeError):
    pass


class PromptTooLong(ValueError):
    """The endpoint refused a prompt as longer than the model's context."""


class NoAnswer(DataError):
    """The endpoint's reply holds no answer text (no choices, a body that is not JSON, a message
    without content): a malformed answer, asked again."""


def make_client(settings: Mapping[str, Any]) -> openai.OpenAI:
    """A client for the config's ``api`` block: base_url (None: OpenAI, or OPENAI_BASE_URL if set),
    key_env, max_retries, timeout_s."""
    key = os.environ.get(settings["key_env"])
    if not key:
        raise MissingApiKey(
            f"the API key's environment variable {settings['key_env']} is not set (config api.key_env)"
        )
    return openai.OpenAI(
        api_key=key,
        base_url=settings["base_url"],
        max_retries=settings["max_retries"],
        timeout=settings["timeout_s"],
    )


def _is_context_error(error: openai.BadRequestError) -> bool:
    message = str(error).lower()
    return error.code in CONTEXT_ERROR_CODES or any(phrase in message for phrase in CONTEXT_ERROR_PHRASES)


def chat(client: openai.OpenAI, model: str, messages: Sequence[Mapping[str, str]], **request: Any) -> str:
    """The reply to ``messages``, at temperature 0 unless ``request`` sets it.

    ``request`` goes to the chat completions call as is (max_tokens, response_format, seed, ...).
    Raises PromptTooLong when the endpoint says the prompt does not fit the model's context, and
    NoAnswer when its reply holds no answer text.
    """
    try:
        response = client.chat.completions.create(
            model=model, messages=list(messages), **{"temperature": 0, **request}
        )
    except openai.BadRequestError as e:
        if _is_context_error(e):
            raise PromptTooLong(str(e)) from e
        raise
    except json.JSONDecodeError as e:
        raise NoAnswer(f"the reply is not JSON ({e})") from e
    return _answer_text(response)


def _answer_text(response: Any) -> str:
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise NoAnswer(f"the reply has no choices: {str(response)[:200]!r}")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if not isinstance(content, str):
        raise NoAnswer(f"the reply's message has no text: {str(choices[0])[:200]!r}")
    return content


def _answer(
    client: openai.OpenAI, model: str, key: str, messages: Sequence[Mapping[str, str]], request: Mapping
) -> dict:
    """{"output", "too_long"}, and "no_answer" (the replies without one) where there were any:
    after ATTEMPTS of them the output is None, a parse failure, rather than a run that never ends.
    The output is cut at `max_tokens` x CHARS_PER_TOKEN characters: an endpoint that ignores
    max_tokens does not fill the disk."""
    failures = 0
    while True:
        try:
            answer = {
                "output": _capped(chat(client, model, messages, **request), key, request),
                "too_long": False,
            }
            break
        except PromptTooLong:
            answer = {"output": None, "too_long": True}
            break
        except NoAnswer as e:
            failures += 1
            log.warning("request %s to %s, attempt %d of %d: %s", key, model, failures, ATTEMPTS, e)
            if failures == ATTEMPTS:
                answer = {"output": None, "too_long": False}
                break
    return {**answer, "no_answer": failures} if failures else answer


def _capped(text: str, key: str, request: Mapping) -> str:
    limit = request.get("max_tokens") and request["max_tokens"] * CHARS_PER_TOKEN
    if limit and len(text) > limit:
        log.warning(
            "request %s: an answer of %d characters cut to %d (max_tokens %d)",
            key,
            len(text),
            limit,
            request["max_tokens"],
        )
        return text[:limit]
    return text


def chat_many(
    client: openai.OpenAI,
    model: str,
    requests: Mapping[str, Sequence[Mapping[str, str]]],
    partial_path: str | os.PathLike,
    *,
    max_concurrency: int,
    **request: Any,
) -> dict[str, dict]:
    """{id: {"output": reply or None, "too_long": bool}} for every id of ``requests`` (id -> messages),
    with "no_answer" (replies without an answer, asked again; _answer) where there were any.

    Answers already in ``partial_path`` are reused and the rest asked, ``max_concurrency`` at a time;
    each is appended there as it arrives, as the endpoint sent it (lone surrogates included: the
    parser replaces and counts them, the paper's prediction_record). The
    partial file belongs to one model and one set of prompts: callers keep it in a work directory
    stamped with their job's fingerprint (ftrepro.fit).
    """
    partial_path = Path(partial_path)
    done = read_appended_jsonl(partial_path)
    todo = [key for key in requests if key not in done]
    log.info("%d requests to %s, %d answered before", len(todo), model, len(requests) - len(todo))
    with open(partial_path, "a", encoding="utf-8") as partial, ThreadPoolExecutor(max_concurrency) as pool:
        futures = {pool.submit(_answer, client, model, key, requests[key], request): key for key in todo}
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=model, mininterval=10):
                line = json_text({"id": futures[future], **future.result()})  # surrogates as \u escapes
                partial.write(line + "\n")
                partial.flush()
                row = json.loads(line)  # the answer as a rerun reads it from the file, to the character
                done[row["id"]] = row
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a failed request ends the job without asking the rest
            raise
    answers = {key: {k: v for k, v in done[key].items() if k != "id"} for key in requests}
    failures = sum(a.get("no_answer", 0) for a in answers.values())
    if failures:
        log.warning("%d replies without an answer were asked again", failures)
    return answers
