"""band2025 annotation: the property lists, the annotation file reader, answer parsing, the API annotator's
retries (a fake client and a fake OpenAI-compatible HTTP server), the schema-constrained local annotator on a
tiny random Llama, resuming after a kill, and supplied files."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import ClassVar

import pytest
import torch

from ftrepro.data.arena import derive_arena
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.infer.api import make_client
from ftrepro.io import DataError, read_jsonl, write_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.annotate import (
    PROMPT_PROPERTIES,
    RESPONSE_PROPERTIES,
    ApiAnnotator,
    LocalAnnotator,
    annotate_rows,
    annotation_messages,
    answer_skeleton,
    check_annotation,
    parse_answer,
    prompt_spec,
    read_annotations,
    select_rows,
    use_supplied_annotations,
)
from ftrepro.prompts import render_prompt


def ratings(value: int = 1) -> dict:
    return {
        "prompt": {p: value % 2 for p in PROMPT_PROPERTIES},
        "response_a": {p: value for p in RESPONSE_PROPERTIES},
        "response_b": {p: 3 - value for p in RESPONSE_PROPERTIES},
    }


def ok(row_id: str, value: int = 1) -> dict:
    return {"id": row_id, "status": "ok", **ratings(value)}


ROW = {"id": "r1", "prompt": ["What is 2+2?"], "response_a": ["4"], "response_b": ["5, I think", "or 4"]}


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    raw = write_synthetic_raw("arena", tmp_path_factory.mktemp("raw"), seed=5, n_rows=40)[0]
    out = tmp_path_factory.mktemp("arena")
    derive_arena(raw, out, seed=42)
    return out


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    out = tmp_path_factory.mktemp("annotator") / "llama"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", out)
    return out


# --- properties and the annotation file --------------------------------------------------------


def test_the_papers_counts_of_properties():
    assert len(RESPONSE_PROPERTIES) == 18 + 2 and len(PROMPT_PROPERTIES) == 5
    assert len(set(RESPONSE_PROPERTIES) | set(PROMPT_PROPERTIES)) == 25
    spec = prompt_spec()  # the prompt defines exactly these, and its example is a valid record
    assert list(spec["response_properties"]) == list(RESPONSE_PROPERTIES)


def test_read_annotations_keeps_ok_rows(tmp_path):
    path = tmp_path / "a.jsonl"
    write_jsonl(path, [ok("1"), {"id": "2", "status": "failed", "error": "bad JSON"}, ok("3", 2)])
    assert [r["id"] for r in read_annotations(path)] == ["1", "3"]
    assert read_annotations(path)[1]["response_b"]["relevance"] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "a.jsonl:3:"),
        (
            json.dumps({**ok("x"), "prompt": {**ratings()["prompt"], "clear_intent": 2}}),
            "prompt: clear_intent: 2",
        ),
        (
            json.dumps({**ok("x"), "response_a": {**ratings()["response_a"], "polite": 4}}),
            "response_a: polite: 4",
        ),
        (json.dumps({**ok("x"), "response_a": {**ratings()["response_a"], "polite": True}}), "polite: True"),
        (json.dumps({k: v for k, v in ok("x").items() if k != "response_b"}), "response_b"),
        (json.dumps({**ok("x"), "status": "done"}), "status 'done'"),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(ok("1")) + "\n\n" + line + "\n")
    with pytest.raises(DataError, match=message) as error:
        read_annotations(path)
    assert f"{path}:3:" in str(error.value)


# --- answers ---------------------------------------------------------------------------------


def test_parse_answer_after_drafts_and_in_fences():
    answer = ratings(2)
    answer["response_a"]["polite"] = "3"  # a digit as a string, as Li et al.'s template shows them
    text = "<draft>A: polite. B: terse.</draft>\n```json\n" + json.dumps(answer) + "\n```"
    parsed, reasoning = parse_answer(text)
    assert parsed["response_a"]["polite"] == 3 and parsed["response_b"]["relevance"] == 1
    assert reasoning == "<draft>A: polite. B: terse."


@pytest.mark.parametrize(
    "text",
    [
        None,
        "no json here",
        '{"prompt": {',
        json.dumps({"prompt": {}}),
        json.dumps({**ratings(), "response_b": {p: 7 for p in RESPONSE_PROPERTIES}}),
    ],
)
def test_parse_answer_rejects_malformed(text):
    with pytest.raises(DataError):
        parse_answer(text)


def test_prompt_holds_the_row_and_every_definition():
    content = annotation_messages(ROW, max_chars=5)[0]["content"]
    assert "What " in content and "[...]" in content  # capped at 5 characters
    assert "5, I t" not in content
    for name in (*RESPONSE_PROPERTIES, *PROMPT_PROPERTIES):
        assert f"- {name}: " in content


# --- the API annotator -----------------------------------------------------------------------


class FakeClient:
    """chat.completions.create answering from a list, counting calls."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs):
        self.calls.append(kwargs)
        message = SimpleNamespace(content=self.answers.pop(0))
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])


def api(client, attempts=3) -> ApiAnnotator:
    return ApiAnnotator(
        client, "judge", attempts=attempts, temperature=0.6, max_tokens=100, json_mode=True, max_chars=1000
    )


def test_malformed_answers_are_retried_then_recorded_as_failed():
    client = FakeClient(["{oops", "no json", json.dumps({"prompt": {}})])
    record = api(client)(ROW)
    assert len(client.calls) == 3
    assert (
        record["status"] == "failed"
        and record["id"] == "r1"
        and "response_a: expected an object" in record["error"]
    )
    check_annotation(record)


def test_a_retry_that_succeeds_gives_an_ok_row():
    client = FakeClient(["{oops", "<draft>fine</draft>" + json.dumps(ratings(3))])
    record = api(client)(ROW)
    assert len(client.calls) == 2
    assert record == {"id": "r1", "status": "ok", **ratings(3), "reasoning": "<draft>fine"}
    assert (
        client.calls[0]["response_format"] == {"type": "json_object"} and client.calls[0]["model"] == "judge"
    )


class ChatServer(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible /chat/completions endpoint: a malformed answer first, then a valid one."""

    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        content = "{broken" if len(ChatServer.requests) == 1 else json.dumps(ratings(0))
        reply = json.dumps(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_api_annotator_against_an_openai_compatible_server():
    server = HTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = {
            "base_url": f"http://127.0.0.1:{server.server_port}/v1",
            "key_env": "BAND_TEST_KEY",
            "max_retries": 0,
            "timeout_s": 10,
        }
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BAND_TEST_KEY", "test-key")
            client = make_client(settings)
        record = api(client)(ROW)
    finally:
        server.shutdown()
        thread.join()
    assert record == {"id": "r1", "status": "ok", **ratings(0)}
    assert [r["path"] for r in ChatServer.requests] == ["/v1/chat/completions"] * 2
    first = ChatServer.requests[0]
    assert first["model"] == "judge" and first["auth"] == "Bearer test-key" and first["max_tokens"] == 100
    assert first["temperature"] == 0.6
    assert "What is 2+2?" in first["messages"][0]["content"]


# --- the local, schema-constrained annotator ---------------------------------------------------


def test_local_annotator_yields_valid_ratings_and_picks_the_likeliest_digit(tiny_llama, arena):
    rows = read_jsonl(arena / "train.jsonl")[:2]
    annotator = LocalAnnotator(tiny_llama, max_chars=200)
    records = [annotator(row) for row in rows]
    for row, record in zip(rows, records, strict=True):
        assert record["id"] == row["id"]
        check_annotation(record)
    # rebuild the second row's whole answer and check every slot without the cache: the chosen digit is the
    # allowed one the model finds likeliest right there (the prefix cache was reused and cut back correctly)
    fragments, slots = answer_skeleton()
    tok = annotator.tokenizer
    ids = tok(render_prompt(tok, annotation_messages(rows[1], 200)) + fragments[0]).input_ids
    positions = []
    for i, (part, name, _) in enumerate(slots):
        positions.append(len(ids) - 1)
        ids += [
            annotator.digit_ids[records[1][part][name]],
            *tok.encode(fragments[i + 1], add_special_tokens=False),
        ]
    with torch.no_grad():
        logits = annotator.model(input_ids=torch.tensor([ids])).logits[0]
    for position, (part, name, allowed) in zip(positions, slots, strict=True):
        scores = {d: logits[position, annotator.digit_ids[d]].item() for d in allowed}
        assert scores[records[1][part][name]] == pytest.approx(max(scores.values()), abs=1e-4), (part, name)


def test_answer_skeleton_fills_to_valid_json():
    fragments, slots = answer_skeleton()
    assert len(slots) == len(fragments) - 1 == 45
    text = "".join(
        fragment + (str(allowed[-1]) if i < len(slots) else "")
        for i, (fragment, (_, _, allowed)) in enumerate(zip(fragments, [*slots, slots[-1]], strict=True))
    )
    parsed, _ = parse_answer(text)
    assert parsed["prompt"]["clear_intent"] == 1 and parsed["response_b"]["relevance"] == 3


# --- runs ------------------------------------------------------------------------------------


class Counting:
    """An annotator that counts its calls and can die after a given number (a killed job)."""

    def __init__(self, die_after=None):
        self.calls, self.die_after = [], die_after

    def __call__(self, row):
        if self.die_after is not None and len(self.calls) == self.die_after:
            raise KeyboardInterrupt
        self.calls.append(row["id"])
        return ok(row["id"], len(self.calls) % 4)


def test_an_interrupted_run_resumes_without_redoing_a_row(arena, tmp_path):
    rows = select_rows(arena / "train.jsonl", 12, seed=1)
    out, work = tmp_path / "properties.jsonl", tmp_path / "work"
    first = Counting(die_after=5)
    with pytest.raises(KeyboardInterrupt):
        annotate_rows(rows, first, out, work_dir=work, fingerprint={"run": 1})
    assert not out.exists()
    # the kill came mid-write of the sixth row: a torn line without newline is dropped, not an error
    with open(work / "annotations.partial.jsonl", "a") as f:
        f.write('{"id": "' + rows[5]["id"] + '", "stat')
    second = Counting()
    counts = annotate_rows(rows, second, out, work_dir=work, fingerprint={"run": 1})
    assert second.calls == [row["id"] for row in rows[5:]]
    assert counts == {"ok": 12, "failed": 0, "resumed": 5}
    records = read_annotations(out)
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    assert records[0] == ok(rows[0]["id"], 1)  # the first run's rows are kept as they were
    assert not work.exists()


def test_another_configuration_starts_afresh(arena, tmp_path):
    rows = select_rows(arena / "train.jsonl", 4, seed=1)
    with pytest.raises(KeyboardInterrupt):
        annotate_rows(
            rows, Counting(die_after=2), tmp_path / "p.jsonl", work_dir=tmp_path / "w", fingerprint={"a": 1}
        )
    again = Counting()
    annotate_rows(rows, again, tmp_path / "p.jsonl", work_dir=tmp_path / "w", fingerprint={"a": 2})
    assert len(again.calls) == 4


def test_rows_are_a_seeded_sample_of_train(arena):
    every = read_jsonl(arena / "train.jsonl")
    sample = select_rows(arena / "train.jsonl", 10, seed=3)
    assert len(sample) == 10 and sample == select_rows(arena / "train.jsonl", 10, seed=3)
    assert sample != select_rows(arena / "train.jsonl", 10, seed=4)
    order = [r["id"] for r in every]
    assert [order.index(r["id"]) for r in sample] == sorted(order.index(r["id"]) for r in sample)
    assert select_rows(arena / "train.jsonl", 10_000, seed=3) == every


def test_a_supplied_file_is_validated_then_used_as_is(arena, tmp_path):
    ids = [r["id"] for r in read_jsonl(arena / "train.jsonl")[:3]]
    supplied = tmp_path / "mine.jsonl"
    write_jsonl(supplied, [ok(ids[0]), {"id": ids[1], "status": "failed", "error": "x"}, ok(ids[2], 3)])
    assert use_supplied_annotations(supplied, arena / "train.jsonl", tmp_path / "out.jsonl") == 3
    assert (tmp_path / "out.jsonl").read_bytes() == supplied.read_bytes()
    write_jsonl(supplied, [ok(ids[0]), ok("not-a-train-id")])
    with pytest.raises(DataError, match=r"mine.jsonl:2: id 'not-a-train-id'"):
        use_supplied_annotations(supplied, arena / "train.jsonl", tmp_path / "out2.jsonl")
    assert not (tmp_path / "out2.jsonl").exists()
