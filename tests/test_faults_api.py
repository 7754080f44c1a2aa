"""An OpenAI-compatible endpoint that answers badly (issue 28, item 5).

A reply without an answer (an empty `choices` list, a body that is not JSON, a message without
text) is asked again and counted, naming the request, and after the last attempt recorded as no
answer (a parse failure), never an IndexError or JSONDecodeError that ends the job; an answer far
longer than `max_tokens` allows is cut; the user:password of `api.base_url` reaches no log,
snakemake metadata or provenance.
"""

from __future__ import annotations

import json
import logging

import faults_jobs
import pytest
from conftest import snakemake
from faults_jobs import ChatServer, api_job, run_child

from ftrepro.data.massive import derive_massive
from ftrepro.data.sources import fetch
from ftrepro.infer.api import ATTEMPTS, CHARS_PER_TOKEN, chat_many, make_client
from ftrepro.io import read_jsonl, redact_urls
from ftrepro.workflow import api_settings

pytestmark = pytest.mark.faults
KEY_ENV = "FTREPRO_FAULTS_KEY"
NO_CHOICES = b'{"id": "c", "object": "chat.completion", "choices": []}'
NOT_JSON = b"<html>502 Bad Gateway</html>"
NO_TEXT = b'{"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": null}}]}'


@pytest.fixture
def server():
    chat = ChatServer(lambda body: "")
    yield chat
    chat.close()


def client_of(server: ChatServer, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-fault-test")
    settings = {"base_url": server.base_url, "key_env": KEY_ENV, "max_retries": 0, "timeout_s": 10}
    return make_client(settings)


def scripted(replies: dict[str, list]) -> callable:
    """reply(body): the next scripted reply of the request's question, the last one repeated."""

    def reply(body):
        queue = replies[body["messages"][-1]["content"]]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


def test_replies_without_an_answer_are_asked_again_counted_and_never_crash(
    server, monkeypatch, tmp_path, caplog
):
    """An empty `choices` raised a bare IndexError, a body that is not JSON a JSONDecodeError:
    neither retried nor counted, and the job ended."""
    server.reply = scripted(
        {"q0": [NO_CHOICES, NOT_JSON, "alarm_set"], "q1": [NO_TEXT], "q2": ["play_music"]}
    )
    requests = {str(i): [{"role": "user", "content": f"q{i}"}] for i in range(3)}
    with caplog.at_level(logging.WARNING):
        answers = chat_many(
            client_of(server, monkeypatch), "gpt-x", requests, tmp_path / "partial.jsonl", max_concurrency=1
        )
    assert answers == {
        "0": {"output": "alarm_set", "too_long": False, "no_answer": 2},
        "1": {"output": None, "too_long": False, "no_answer": ATTEMPTS},
        "2": {"output": "play_music", "too_long": False},
    }
    assert len(server.asked) == 2 + 1 + ATTEMPTS + 1  # each missing answer asked again
    assert "request 0 to gpt-x, attempt 1 of 3: the reply has no choices" in caplog.text
    assert "request 0 to gpt-x, attempt 2 of 3: the reply is not JSON" in caplog.text
    assert "request 1 to gpt-x, attempt 3 of 3: the reply's message has no text" in caplog.text
    assert f"{2 + ATTEMPTS} replies without an answer were asked again" in caplog.text


def test_an_answer_is_stored_at_most_max_tokens_worth_of_text(server, monkeypatch, tmp_path):
    """A 1 MB answer was stored whole (a 64-row predictions file of 67 MB)."""
    server.reply = lambda body: "x" * 1_000_000
    answers = chat_many(
        client_of(server, monkeypatch),
        "gpt-x",
        {"0": [{"role": "user", "content": "q"}]},
        tmp_path / "partial.jsonl",
        max_concurrency=1,
        max_tokens=64,
    )
    assert answers["0"]["output"] == "x" * (64 * CHARS_PER_TOKEN)
    assert (tmp_path / "partial.jsonl").stat().st_size < 2 * 64 * CHARS_PER_TOKEN


# --- credentials in api.base_url ----------------------------------------------------------------

SECRET = "hunter2-secret"


def test_urls_lose_their_user_and_password(monkeypatch):
    text = f"at http://alice:{SECRET}@host:8000/v1 and https://tok{SECRET}@h/v1, not http://h/a@b"
    assert redact_urls(text) == "at http://***@host:8000/v1 and https://***@h/v1, not http://h/a@b"
    params = {"api": {"base_url": "http://***@host/v1", "max_tokens": 8}}
    job = type(
        "Job",
        (),
        {"params": type("P", (), params), "config": {"api": {"base_url": f"http://a:{SECRET}@host/v1"}}},
    )
    assert api_settings(job)["base_url"] == f"http://a:{SECRET}@host/v1"  # the job connects with them


def test_an_api_job_never_logs_the_credentials_of_its_url(server, tmp_path):
    """The job logged `prompts for gpt-x at http://user:password@host/v1`."""
    context = faults_jobs.forkserver()
    fetch("massive", tmp_path / "raw", source="synthetic", seed=7)
    derive_massive(tmp_path / "raw" / "en-US.jsonl", tmp_path / "massive", max_rows={"train": 20, "test": 4})
    server.reply = lambda body: "alarm_set"
    url = server.base_url.replace("http://", f"http://user:{SECRET}@")
    api = {
        "base_url": url,
        "key_env": KEY_ENV,
        "max_retries": 0,
        "timeout_s": 10,
        "max_tokens": 16,
        "max_concurrency": 1,
    }
    assert run_child(context, api_job, str(tmp_path), str(tmp_path / "massive"), api, KEY_ENV, None) == 0
    [log] = tmp_path.glob("job-*.log")
    assert redact_urls(url) in log.read_text() and SECRET not in log.read_text()
    assert len(read_jsonl(tmp_path / "out" / "predictions.jsonl")) == 4


@pytest.mark.slow
def test_credentials_in_the_base_url_reach_no_log_metadata_or_provenance(workdir, server, monkeypatch):
    """An API run through snakemake with user:password in api.base_url (given in a --configfile:
    snakemake's own log header echoes a --config value as typed): the job connects, and nothing
    under .snakemake (metadata holds the rule's params), logs/ (job logs and provenance) or
    results/, nor snakemake's output, holds the password."""
    server.reply = lambda body: "alarm_set"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fault-test")
    credentials = workdir.parent / f"{workdir.name}-api.yaml"
    credentials.write_text(
        f"api: {{base_url: '{server.base_url.replace('http://', f'http://user:{SECRET}@')}'}}\n"
    )
    run = "results/tiny/zhao2025/massive-intent.gpt-4o.zero-shot.noft"
    args = [f"{run}/metrics.json", "--profile", "profiles/local", "--cores", "1", "--config", "preset=tiny"]
    result = snakemake([*args, "--configfile", "config/config.yaml", str(credentials)], workdir, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert server.asked and json.loads((workdir / run / "metrics.json").read_text())["n_examples"] > 0
    searched = [path for path in workdir.rglob("*") if path.is_file() and not path.is_symlink()]
    assert any(".snakemake/metadata" in str(path) for path in searched)  # the metadata was written
    assert [path for path in searched if SECRET.encode() in path.read_bytes()] == []
    assert SECRET not in result.stdout + result.stderr
