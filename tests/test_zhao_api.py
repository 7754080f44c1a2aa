"""The OpenAI-compatible client against a local fake server, the resumable API run, and API runs
leaving the DAG without a key."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from conftest import REPO, job_stats, snakemake

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.infer.api import MissingApiKey, PromptTooLong, chat, chat_many, make_client
from ftrepro.io import read_jsonl
from ftrepro.metrics import score_predictions
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.papers.zhao2025.api_runs import predict_api
from ftrepro.papers.zhao2025.prompts import prompt_examples

KEY = "sk-test-0123456789"
CONTEXT_ERROR = (
    400,
    {
        "error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    },
)


class FakeEndpoint:
    """/v1/chat/completions: scripted (status, body) replies first, then 200 with reply(request body)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.reply = lambda body: "ok"
        self.lock = threading.Lock()

    def handle(self, headers, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append({"authorization": headers.get("Authorization"), **body})
            if self.script:
                return self.script.pop(0)
        content = self.reply(body)
        if isinstance(content, tuple):
            return content
        return 200, {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
        }


def _handler(endpoint: FakeEndpoint):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, payload = endpoint.handle(self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("retry-after-ms", "1")  # keeps the client's backoff short in tests
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def endpoint():
    fake = FakeEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.settings = {
        "base_url": f"http://127.0.0.1:{server.server_address[1]}/v1",
        "key_env": "FTREPRO_TEST_KEY",
        "max_concurrency": 2,
        "max_retries": 3,
        "timeout_s": 10,
        "max_tokens": 64,
    }
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(endpoint, monkeypatch):
    monkeypatch.setenv("FTREPRO_TEST_KEY", KEY)
    return make_client(endpoint.settings)


MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]


def test_chat_sends_model_messages_temperature_zero_extra_options_and_the_key(endpoint, client):
    endpoint.reply = lambda body: '{"a": 1}'
    text = chat(client, "gpt-x", MESSAGES, max_tokens=7, response_format={"type": "json_object"})
    assert text == '{"a": 1}'
    [request] = endpoint.requests
    assert request["model"] == "gpt-x" and request["messages"] == MESSAGES
    assert request["temperature"] == 0 and request["max_tokens"] == 7
    assert request["response_format"] == {"type": "json_object"}
    assert request["authorization"] == f"Bearer {KEY}"
    assert chat(client, "gpt-x", MESSAGES, temperature=0.7) == '{"a": 1}'
    assert endpoint.requests[-1]["temperature"] == 0.7


def test_rate_limits_and_server_errors_are_retried(endpoint, client):
    endpoint.script = [(429, {"error": {"message": "slow down"}}), (503, {"error": {"message": "busy"}})]
    assert chat(client, "gpt-x", MESSAGES) == "ok"
    assert len(endpoint.requests) == 3


def test_the_last_error_is_raised_after_max_retries(endpoint, client):
    endpoint.script = [(500, {"error": {"message": "down"}})] * 10
    with pytest.raises(openai.InternalServerError):
        chat(client, "gpt-x", MESSAGES)
    assert len(endpoint.requests) == 1 + endpoint.settings["max_retries"]


@pytest.mark.parametrize(
    "error",
    [
        CONTEXT_ERROR,
        (
            400,
            {
                "error": {
                    "message": "the request exceeds the available context size",
                    "type": "exceed_context_size_error",
                }
            },
        ),
    ],
)
def test_a_prompt_over_the_context_is_too_long_not_retried(endpoint, client, error):
    endpoint.script = [error]
    with pytest.raises(PromptTooLong):
        chat(client, "gpt-x", MESSAGES)
    assert len(endpoint.requests) == 1


def test_other_bad_requests_raise(endpoint, client):
    endpoint.script = [(400, {"error": {"message": "unknown model"}})]
    with pytest.raises(openai.BadRequestError):
        chat(client, "gpt-x", MESSAGES)


def test_missing_key_names_the_variable(endpoint, monkeypatch):
    monkeypatch.delenv("FTREPRO_TEST_KEY", raising=False)
    with pytest.raises(MissingApiKey, match="FTREPRO_TEST_KEY"):
        make_client(endpoint.settings)


def test_the_key_is_never_logged(endpoint, client, caplog, tmp_path):
    endpoint.script = [(429, {"error": {"message": "slow down"}})]
    with caplog.at_level(logging.DEBUG):
        chat_many(client, "gpt-x", {"1": MESSAGES}, tmp_path / "partial.jsonl", max_concurrency=1)
    assert caplog.text and KEY not in caplog.text


# --------------------------------------------------------------------------- chat_many


def _requests(n: int) -> dict[str, list[dict]]:
    return {str(i): [{"role": "user", "content": f"q{i}"}] for i in range(n)}


def test_chat_many_answers_every_request_and_marks_too_long_ones(endpoint, client, tmp_path):
    endpoint.reply = lambda body: (
        CONTEXT_ERROR if body["messages"][0]["content"] == "q3" else body["messages"][0]["content"].upper()
    )
    answers = chat_many(client, "gpt-x", _requests(5), tmp_path / "partial.jsonl", max_concurrency=3)
    assert answers == {
        str(i): ({"output": None, "too_long": True} if i == 3 else {"output": f"Q{i}", "too_long": False})
        for i in range(5)
    }
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "partial.jsonl")) == [str(i) for i in range(5)]


def test_chat_many_resumes_from_the_partial_file_and_cuts_a_torn_line(endpoint, client, tmp_path):
    partial = tmp_path / "partial.jsonl"
    partial.write_text('{"id": "0", "output": "before", "too_long": false}\n{"id": "1", "outp')
    endpoint.reply = lambda body: "new"
    answers = chat_many(client, "gpt-x", _requests(3), partial, max_concurrency=1)
    assert answers["0"] == {"output": "before", "too_long": False}
    assert answers["1"]["output"] == answers["2"]["output"] == "new"
    assert sorted(r["messages"][0]["content"] for r in endpoint.requests) == ["q1", "q2"]
    assert [row["id"] for row in read_jsonl(partial)][:1] == ["0"] and len(read_jsonl(partial)) == 3


def test_chat_many_stops_at_a_failed_request_keeping_the_answers_so_far(endpoint, client, tmp_path):
    endpoint.reply = lambda body: (
        (401, {"error": {"message": "bad key"}}) if body["messages"][0]["content"] == "q2" else "fine"
    )
    with pytest.raises(openai.AuthenticationError):
        chat_many(client, "gpt-x", _requests(20), tmp_path / "partial.jsonl", max_concurrency=1)
    kept = [row["id"] for row in read_jsonl(tmp_path / "partial.jsonl")]
    assert kept[:2] == ["0", "1"] and "2" not in kept
    assert len(endpoint.requests) < 20  # the queued requests were cancelled, not asked


# --------------------------------------------------------------------------- a zhao2025 API run


def _massive_records():
    words = [["set", "alarm", "at", "nine"], ["play", "jazz"], ["wake", "me", "at", "six"]]
    slots = [["Other", "Other", "Other", "time"], ["Other", "genre"], ["Other", "Other", "Other", "time"]]
    intents = ["alarm_set", "play_music", "alarm_set"]
    return [
        {"id": f"t{i}", "text": " ".join(w), "words": w, "labels": {"intent": intent, "slots": s}}
        for i, (w, s, intent) in enumerate(zip(words, slots, intents))
    ]


def test_api_run_writes_scored_records_and_drops_its_work_dir(endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("FTREPRO_TEST_KEY", KEY)
    labels = {"intent": ["alarm_set", "play_music"], "slots": ["Other", "genre", "time"]}
    examples = prompt_examples(_massive_records(), ["intent", "slots"], "massive", None, labels=labels)
    replies = {
        "set alarm at nine": '{"task1": "alarm_set", "task2": ["Other", "Other", "Other", "time"]}',
        "play jazz": '```json\n{"task1": "play_music", "task2": ["Other"]}\n```',
        "wake me at six": "I cannot help with that.",
    }
    endpoint.reply = lambda body: next(
        v for k, v in replies.items() if f"\n{k}\n" in body["messages"][1]["content"]
    )
    out, work = tmp_path / "predictions.jsonl", tmp_path / "work"
    records = predict_api(
        examples, labels, "gpt-x", endpoint.settings, out, work_dir=work, fingerprint={"run": 1}
    )
    assert read_jsonl(out) == records and not work.exists()
    assert [r["parsed"] for r in records] == [True, True, False]
    assert records[1]["pred"] == {"intent": "play_music", "slots": ["Other", "Other"]}
    assert endpoint.requests[0]["max_tokens"] == 64
    metrics = score_predictions(records, ["intent", "slots"])
    assert metrics["intent_accuracy"] == pytest.approx(200 / 3)
    assert metrics["parse_failure_rate"] == pytest.approx(100 / 3) and metrics["too_long_rate"] == 0.0


# --------------------------------------------------------------------------- the DAG without a key


@pytest.fixture(scope="module")
def paper_config() -> cfg.Config:
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})


def test_config_api_defaults(paper_config):
    assert paper_config.api["key_env"] == "OPENAI_API_KEY" and paper_config.api["base_url"] is None


def test_api_runs_are_left_out_without_the_key(paper_config):
    assert papers.api_key_set(paper_config, {"OPENAI_API_KEY": "sk"})
    assert not papers.api_key_set(paper_config, {"OPENAI_API_KEY": ""})
    every = papers.runs(paper_config, "zhao2025")
    without = papers.runs(paper_config, "zhao2025", with_api=False)
    assert set(every) - set(without) == set(zhao_runs.api_runs(paper_config))
    assert papers.runs(paper_config, "gupta2023", with_api=False) == papers.runs(paper_config, "gupta2023")


@pytest.mark.parametrize("key, planned", [(None, 0), ("sk-dry-run", 36)])
def test_the_zhao2025_target_plans_api_runs_only_with_the_key(workdir, monkeypatch, key, planned):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if key:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    result = snakemake(["zhao2025", "-n", "--profile", "profiles/local", "--config", "preset=paper"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_stats(result.stdout + result.stderr).get("predict_zhao_api", 0) == planned


def test_an_api_run_through_snakemake_on_the_tiny_preset(workdir, endpoint, monkeypatch):
    """The rule, script and scoring of one GPT row against the fake endpoint: right on every
    record but one, whose prompt is refused as too long."""
    intent = {}  # utterance -> gold intent, read from the derived test split once it exists

    def reply(body):
        utter = (
            body["messages"][-1]["content"]
            .split("Beginning of <<Utter>>\n")[-1]
            .split("\nEnd of <<Utter>>")[0]
        )
        if not intent:
            intent.update({r["text"]: r["labels"]["intent"] for r in read_jsonl(workdir / TEST_SPLIT)})
        return CONTEXT_ERROR if utter == min(intent) else intent[utter]

    endpoint.reply = reply
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    run = "results/tiny/zhao2025/massive-intent.gpt-4o.five-shot.noft"
    api = json.dumps({"base_url": endpoint.settings["base_url"]})
    result = snakemake(
        [
            f"{run}/metrics.json",
            "--profile",
            "profiles/local",
            "--cores",
            "1",
            "--config",
            "preset=tiny",
            f"api={api}",
        ],
        workdir,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((workdir / run / "metrics.json").read_text())
    n = metrics["n_examples"]
    assert n == len(read_jsonl(workdir / TEST_SPLIT)) == len(endpoint.requests)
    assert metrics["too_long_rate"] == pytest.approx(100 / n) and metrics["parse_failure_rate"] == 0.0
    assert metrics["intent_accuracy"] == pytest.approx(100 * (n - 1) / n)
    assert "Bellow are some examples" in endpoint.requests[0]["messages"][-1]["content"]
    assert not (workdir / "resources/tiny/scratch/zhao2025/massive-intent.gpt-4o.five-shot.noft").exists()


TEST_SPLIT = "resources/tiny/derived/massive/test.jsonl"
