"""Hostile model and annotator output through every parser (issue 17, findings 2-4), and every
prediction record scoreable (issue 28, items 2 and 5).

Each parser is total: any string, of any length, nesting or encoding, gives a prediction or a
counted parse failure, never an exception; lone surrogates are replaced on the way in and
counted. Property tests (hypothesis) feed mixtures of JSON fragments, brackets, digits, fences,
draft tags and arbitrary code points (surrogates included) to each parser. A prompt over the
model's context gives a record the scorer takes, counted wrong; an endpoint reply without an
answer, or with too much of one, is asked again or cut, never a crash.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from faults_jobs import REPO, run_script
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftrepro.data import WORD_SUBTASKS
from ftrepro.data.massive import derive_massive
from ftrepro.data.sources import fetch
from ftrepro.infer.api import chat_many
from ftrepro.io import DataError, read_json, read_jsonl, write_jsonl
from ftrepro.metrics import score_predictions, score_superni_predictions
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.annotate import (
    PROMPT_PROPERTIES,
    RESPONSE_PROPERTIES,
    ApiAnnotator,
    annotate_rows,
    check_annotation,
    parse_answer,
    read_annotations,
)
from ftrepro.papers.zhao2025 import PAPER as ZHAO
from ftrepro.papers.zhao2025.prompts import parse_output, prediction_record, templates
from ftrepro.papers.zhao2025.report import build_table3, read_targets, too_long_note

pytestmark = pytest.mark.faults
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LABELS = {
    "20class": ["rec.sport.baseball", "sci.space", "comp.graphics"],
    "7class": ["rec", "sci", "comp"],
    "intent": ["alarm_set", "play_music"],
    "slots": ["Other", "time", "date"],
}
WORDS = ["wake", "me", "at", "nine"]
SUBTASK_SETS = sorted({tuple(t["subtasks"]) for t in templates()})

# --- what hostile outputs are made of -----------------------------------------------------------

# any code point, lone surrogates (category Cs, left out by default) included
ANY_CHARACTER = st.one_of(st.characters(), st.characters(categories=["Cs"]))
FRAGMENTS = st.sampled_from(
    [
        *"[]{}\"':,",
        "```",
        "```json\n",
        "\n",
        "task1",
        '"task2": ',
        '{"intent": ',
        '"alarm_set"',
        "sci.space",
        '["Other", "time"]',
        "B-time",
        "O",
        "None",
        "true",
        "1e999",
        "9" * 5000,
        "²",
        "\ud800",
        "\udfff",
        "<draft>",
        "</draft>",
        "</think>",
        "{[1]: 2}",
        "[" * 1200,
        "{" * 1200,
        '{"a":' * 600,
        "]" * 50,
    ]
)
HOSTILE = st.lists(st.one_of(FRAGMENTS, st.text(ANY_CHARACTER, max_size=40)), max_size=25).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHARACTER, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
JSON_TEXT = st.tuples(JSON_VALUES, st.booleans()).map(lambda v: json.dumps(v[0], ensure_ascii=v[1]))
OUTPUTS = st.one_of(HOSTILE, JSON_TEXT, st.text(ANY_CHARACTER, max_size=300))


def example(subtasks: tuple[str, ...]) -> dict:
    gold = {s: ["Other"] * len(WORDS) if s in WORD_SUBTASKS else LABELS[s][0] for s in subtasks}
    return {"id": "e1", "gold": gold, "words": WORDS if "slots" in subtasks else None}


def check_prediction(record: dict, subtasks: tuple[str, ...]) -> None:
    """A prediction per subtask that the scorer accepts, or None (a parse failure, counted)."""
    assert set(record["pred"]) == set(subtasks)
    for subtask, value in record["pred"].items():
        if value is None:
            continue
        if subtask in WORD_SUBTASKS:
            assert isinstance(value, list) and len(value) == len(WORDS)
            assert all(isinstance(tag, str) for tag in value)
        else:
            assert value in LABELS[subtask]
    assert record["parsed"] == all(v is not None for v in record["pred"].values())


# --- zhao2025 output parser ---------------------------------------------------------------------


@PROPERTY
@given(output=OUTPUTS, subtasks=st.sampled_from(SUBTASK_SETS))
def test_the_zhao2025_parser_is_total(output, subtasks, tmp_path_factory):
    record = prediction_record(example(subtasks), output, LABELS)
    check_prediction(record, subtasks)
    assert record["replaced_characters"] == sum(0xD800 <= ord(c) <= 0xDFFF for c in output)
    path = tmp_path_factory.mktemp("p") / "predictions.jsonl"
    write_jsonl(path, [record])  # the written record is valid UTF-8 and reads back the same
    assert read_jsonl(path) == [record]
    metrics = score_predictions([record], list(subtasks))
    assert metrics["parse_failure_rate"] in (0.0, 100.0)


@pytest.mark.parametrize("subtasks", SUBTASK_SETS)
@pytest.mark.parametrize("opening", ["[", "{", '{"task1": [', '{"intent": {"a": ['])
def test_an_answer_of_a_thousand_nested_brackets_is_a_parse_failure(subtasks, opening):
    """Finding 2: the JSON decoder's RecursionError went through parse_output; answers are cached,
    so every rerun crashed the same way."""
    pred, parsed = parse_output(opening * 1000, list(subtasks), LABELS, WORDS)
    assert not parsed and set(pred) == set(subtasks)


def test_literals_that_python_cannot_build_are_parse_failures():
    pred, parsed = parse_output("{[1]: 2}", ["slots"], LABELS, WORDS)  # unhashable key
    assert (pred, parsed) == ({"slots": None}, False)
    pred, parsed = parse_output('{"task1": ' + "9" * 5000 + "}", ["intent", "slots"], LABELS, WORDS)
    assert not parsed


@pytest.mark.parametrize(
    "output", ["[" * 200_000, "[1," * 70_000, "```json\n" + " " * 100_000 + "{", "{'a': " * 50_000]
)
def test_long_hostile_outputs_parse_in_bounded_time(output):
    start = time.perf_counter()
    prediction_record(example(("intent", "slots")), output, LABELS)
    assert time.perf_counter() - start < 5


@PROPERTY
@given(outputs=st.lists(OUTPUTS, min_size=1, max_size=3))
def test_gupta2023_scoring_takes_any_generated_text(outputs):
    records = [
        {"task": "t1", "category": "Question Rewriting", "id": str(i), "prediction": o, "references": ["a b"]}
        for i, o in enumerate(outputs)
    ]
    metrics = score_superni_predictions(records)
    assert 0 <= metrics["rougeL"] <= 100 and 0 <= metrics["exact_match"] <= 100


# --- band2025 annotation answers ----------------------------------------------------------------


def answer(**changes) -> dict:
    value = {
        "prompt": dict.fromkeys(PROMPT_PROPERTIES, 1),
        "response_a": dict.fromkeys(RESPONSE_PROPERTIES, 2),
        "response_b": dict.fromkeys(RESPONSE_PROPERTIES, 3),
    }
    for name, rating in changes.items():
        value["response_a"][name] = rating
    return value


@PROPERTY
@given(text=st.one_of(OUTPUTS, st.just(json.dumps(answer())).flatmap(lambda a: st.sampled_from([a, a[:-1]]))))
def test_parse_answer_gives_ratings_or_a_data_error(text):
    try:
        ratings, reasoning = parse_answer(text)
    except DataError as e:
        assert len(str(e)) < 2000  # the message names the problem, not the whole answer
        return
    check_annotation({"id": "x", "status": "ok", **ratings})
    assert reasoning is None or isinstance(reasoning, str)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(answer(friendly="²")),  # str.isdigit() accepts it, int() does not
        json.dumps(answer()).replace('"friendly": 2', '"friendly": ' + "9" * 5000),
        '{"prompt": ' + "[" * 1000 + "}",
        "{" * 1000 + "}" * 1000,
    ],
    ids=["superscript-two", "5000-digit-number", "nested-list", "nested-objects"],
)
def test_malformed_annotations_are_counted_failures_and_retried(text):
    """Finding 3: ValueError and RecursionError went through parse_answer and ended the job."""
    with pytest.raises(DataError):
        parse_answer(text)
    client = fake_client([text, text, json.dumps(answer())])
    annotator = ApiAnnotator(
        client, "m", attempts=3, temperature=0, max_tokens=10, json_mode=False, max_chars=100
    )
    row = {"id": "r1", "prompt": ["q"], "response_a": ["a"], "response_b": ["b"]}
    assert annotator(row)["status"] == "ok" and len(client.asked) == 3
    failing = fake_client([text] * 3)
    record = ApiAnnotator(
        failing, "m", attempts=3, temperature=0, max_tokens=10, json_mode=False, max_chars=100
    )(row)
    assert record["status"] == "failed" and "3 malformed answers" in record["error"]


def test_lone_surrogates_in_annotation_answers_are_replaced_and_counted(tmp_path):
    reply = "<draft>ok \ud83d</draft>" + json.dumps(answer())
    annotator = ApiAnnotator(
        fake_client([reply] * 2),
        "m",
        attempts=1,
        temperature=0,
        max_tokens=10,
        json_mode=False,
        max_chars=100,
    )
    rows = [{"id": f"r{i}", "prompt": ["q"], "response_a": ["a"], "response_b": ["b"]} for i in range(2)]
    counts = annotate_rows(rows, annotator, tmp_path / "out.jsonl", work_dir=tmp_path / "w", fingerprint={})
    assert counts == {"ok": 2, "failed": 0, "resumed": 0, "replaced_characters": 2}
    assert read_annotations(tmp_path / "out.jsonl")[0]["reasoning"] == "<draft>ok \ufffd"


# --- API answers --------------------------------------------------------------------------------


def fake_client(replies: list[str]) -> SimpleNamespace:
    """An OpenAI client stand-in that answers with `replies` in turn and records the requests."""
    asked: list = []

    def create(**request):
        asked.append(request)
        content = replies[min(len(asked), len(replies)) - 1]
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=content))])

    return SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)), asked=asked)


@PROPERTY
@given(outputs=st.lists(OUTPUTS, min_size=1, max_size=4))
def test_api_answers_of_any_text_are_cached_and_parsed(outputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    requests = {str(i): [{"role": "user", "content": str(i)}] for i in range(len(outputs))}
    answers = chat_many(fake_client(outputs), "m", requests, root / "partial.jsonl", max_concurrency=1)
    again = chat_many(fake_client([]), "m", requests, root / "partial.jsonl", max_concurrency=1)
    assert again == answers  # the rerun reads every answer back from the cache, asking nothing
    records = [prediction_record(example(("intent",)), a["output"], LABELS) for a in answers.values()]
    write_jsonl(root / "predictions.jsonl", records)
    assert read_jsonl(root / "predictions.jsonl") == records


def test_a_lone_surrogate_in_an_api_answer_is_replaced_counted_and_survives_a_rerun(tmp_path):
    """Finding 4: writing the answer raised UnicodeEncodeError, and reruns crashed again."""
    reply = '{"intent": "alarm_set"} \ud800 and \udc00'
    partial = tmp_path / "partial.jsonl"
    answers = chat_many(fake_client([reply]), "m", {"e1": []}, partial, max_concurrency=1)
    assert chat_many(fake_client([]), "m", {"e1": []}, partial, max_concurrency=1) == answers
    record = prediction_record(example(("intent",)), answers["e1"]["output"], LABELS)
    assert record["output"] == '{"intent": "alarm_set"} \ufffd and \ufffd'
    assert record["pred"] == {"intent": "alarm_set"} and record["replaced_characters"] == 2
    write_jsonl(tmp_path / "predictions.jsonl", [record])
    assert (
        score_predictions(read_jsonl(tmp_path / "predictions.jsonl"), ["intent"])["replaced_characters"] == 2
    )


# --- a prompt over the context (issue 28, item 2) -----------------------------------------------


@pytest.mark.parametrize(
    "task, subtasks", [("massive-intent", ["intent"]), ("massive-joint", ["intent", "slots"])]
)
def test_a_run_with_a_prompt_over_the_context_scores_it_wrong_and_counts_it(tmp_path, task, subtasks):
    """One MASSIVE test utterance of 20,000 words, the prompted tiny Llama (free and constrained
    decoding): `score` failed on every rerun (`record id='8' has no 'pred_constrained' but others
    have`); now the record is scored wrong and counted in metrics.json and the table."""
    data, model = tmp_path / "massive", tmp_path / "llama"
    fetch("massive", tmp_path / "raw", source="synthetic", seed=7)
    derive_massive(tmp_path / "raw" / "en-US.jsonl", data, max_rows={"train": 20, "test": 6})
    test = read_jsonl(data / "test.jsonl")
    words = ["word"] * 20_000
    test[2] = {
        **test[2],
        "text": " ".join(words),
        "words": words,
        "labels": {**test[2]["labels"], "slots": ["Other"] * 20_000},
    }
    write_jsonl(data / "test.jsonl", test)
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", model)
    run = tmp_path / "results" / f"{task}.llama2-7b.zero-shot.noft"
    run_script(
        "predict_zhao_decoder",
        input={
            "train": str(data / "train.jsonl"),
            "test": str(data / "test.jsonl"),
            "labels": str(data / "labels.json"),
            "model": str(model),
        },
        output=[str(run / "predictions.jsonl")],
        params={
            "subtasks": subtasks,
            "dataset": "massive",
            "decoding": {"max_new_tokens": 8, "predict_batch_size": 4, "predict_rows": None},
            "demo_seed": 42,
            "constrained": True,
            "processes": 1,
        },
        wildcards={"task": task, "shots": "zero-shot"},
        log=tmp_path / "predict.log",
    )
    records = read_jsonl(run / "predictions.jsonl")
    [long] = [r for r in records if r["too_long"]]
    assert long["id"] == test[2]["id"] and long["output"] is None and long["pred_constrained"] is None
    run_script(
        "score",
        input={"predictions": str(run / "predictions.jsonl")},
        output=[str(run / "metrics.json")],
        params={
            "scorer": ZHAO.scorer,
            "bootstrap": {"resamples": 1000, "seed": 0},
            "work_dir": str(tmp_path / "scratch"),
        },
        wildcards={"paper": "zhao2025", "run": run.name},
        log=tmp_path / "score.log",
    )
    metrics = read_json(run / "metrics.json")
    assert metrics["n_too_long"] == 1 and metrics["n_examples"] == 6
    assert 0 <= metrics["constrained_intent_accuracy"] <= 100 * 5 / 6  # the long one is wrong
    table = build_table3(
        read_targets(REPO / "config" / "targets" / "zhao2025_table3.csv"), {run.name: metrics}
    )
    assert f"{run.name}: 1." in too_long_note(
        table
    ) and "Prompts over the context, scored wrong" in too_long_note(table)
