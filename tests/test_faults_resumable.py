"""kill -9 of an annotation job and an API inference job, then a rerun (issue 17, fault suite).

Both jobs are the pipeline's scripts (annotate_arena, predict_zhao_api) against a local
OpenAI-compatible endpoint that kills the job's process when a given request arrives, or the
job dies in the middle of writing its output. The rerun must reuse every answer cached before
the kill, ask only for the rest, and write what an uninterrupted run writes.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import faults_jobs
import pytest
from faults_jobs import ChatServer, annotate_job, api_job, run_child

from ftrepro import config as cfg
from ftrepro.data.arena import derive_arena
from ftrepro.data.massive import derive_massive
from ftrepro.data.sources import fetch
from ftrepro.io import read_jsonl
from ftrepro.metrics import score_predictions
from ftrepro.papers.band2025.annotate import PROMPT_PROPERTIES, RESPONSE_PROPERTIES, ROW_MARKER

pytestmark = pytest.mark.faults
KEY_ENV = "FTREPRO_FAULTS_KEY"
ROWS = 8
TINY = cfg.load(Path(__file__).resolve().parents[1] / "config" / "config.yaml", {"preset": "tiny"})


@pytest.fixture(scope="module")
def context():
    return faults_jobs.forkserver()


def utterance(request_text: str) -> str:
    return request_text.split("Beginning of <<Utter>>\n")[-1].split("\nEnd of <<Utter>>")[0]


def row_text(request_text: str) -> str:
    """What of an annotation prompt belongs to its row (query and responses)."""
    return request_text[request_text.index(ROW_MARKER) :]


@pytest.fixture(scope="module")
def massive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("massive")
    fetch("massive", root / "raw", source="synthetic", seed=7)
    derive_massive(root / "raw" / "en-US.jsonl", root, max_rows={"train": 20, "test": 12})
    return root


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("arena")
    fetch("arena", root / "raw", source="synthetic", seed=7)
    derive_arena(root / "raw" / "train.csv", root, seed=42)
    return root


@pytest.fixture(scope="module")
def server():
    chat = ChatServer(lambda body: "")
    yield chat
    chat.close()


def api_settings(server: ChatServer) -> dict:
    return {**TINY.api, "base_url": server.base_url, "key_env": KEY_ENV, "max_retries": 0}


def intent_replies(massive: Path):
    gold = {r["text"]: r["labels"]["intent"] for r in read_jsonl(massive / "test.jsonl")}
    return lambda body: gold[utterance(body["messages"][-1]["content"])]


def cached_answers(root: Path, name: str) -> list[dict]:
    """The records a killed job's partial file holds (a torn last line left out)."""
    path = root / "scratch" / name
    lines = path.read_text(encoding="utf-8").split("\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("fault, kill_at", [("request", 6), ("prediction", None)])
def test_an_api_job_killed_mid_run_reuses_its_cached_answers(
    context, server, massive, tmp_path, fault, kill_at
):
    server.reply = intent_replies(massive)
    settings = api_settings(server)
    reference = tmp_path / "reference"
    server.expect()
    assert run_child(context, api_job, str(reference), str(massive), settings, KEY_ENV, None) == 0
    everything = sorted(server.asked)

    killed = tmp_path / "killed"
    server.expect(kill_at=kill_at, once=lambda: len(cached_answers(killed, "answers.partial.jsonl")) >= 3)
    code = run_child(
        context, api_job, str(killed), str(massive), settings, KEY_ENV, fault, on_start=server.set_victim
    )
    assert code == -signal.SIGKILL
    texts = {r["id"]: r["text"] for r in read_jsonl(massive / "test.jsonl")}
    cached = {a["id"] for a in cached_answers(killed, "answers.partial.jsonl")}
    assert cached and (len(cached) < len(texts) if fault == "request" else cached == set(texts))

    server.expect()
    assert run_child(context, api_job, str(killed), str(massive), settings, KEY_ENV, None) == 0
    asked_again = sorted(utterance(text) for text in server.asked)
    assert asked_again == sorted(text for id_, text in texts.items() if id_ not in cached)  # none twice
    out, expected = killed / "out" / "predictions.jsonl", reference / "out" / "predictions.jsonl"
    assert read_jsonl(out) == read_jsonl(expected) and len(everything) == len(texts)
    assert score_predictions(read_jsonl(out), ["intent"]) == score_predictions(
        read_jsonl(expected), ["intent"]
    )
    assert not (killed / "scratch").exists() and [p.name for p in out.parent.iterdir()] == [out.name]


def annotation_reply(body: dict) -> str:
    """Ratings that depend on the row only, as a deterministic annotator's would."""
    seed = sum(map(ord, row_text(body["messages"][-1]["content"])))
    return json.dumps(
        {
            "prompt": {p: (seed + i) % 2 for i, p in enumerate(PROMPT_PROPERTIES)},
            "response_a": {p: (seed + i) % 4 for i, p in enumerate(RESPONSE_PROPERTIES)},
            "response_b": {p: (seed * 7 + i) % 4 for i, p in enumerate(RESPONSE_PROPERTIES)},
        }
    )


def test_an_annotation_job_killed_mid_run_reuses_its_cached_rows(context, server, arena, tmp_path):
    server.reply = annotation_reply
    settings, annotation = api_settings(server), TINY.band2025.annotation
    args = (str(arena), annotation, settings, KEY_ENV, ROWS)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    server.expect()
    assert run_child(context, annotate_job, str(reference), *args) == 0
    rows = {row_text(text) for text in server.asked}
    assert len(rows) == ROWS

    server.expect(kill_at=4)
    assert run_child(context, annotate_job, str(killed), *args, on_start=server.set_victim) == -signal.SIGKILL
    first = [row_text(text) for text in server.asked[:3]]
    assert len(cached_answers(killed, "annotations.partial.jsonl")) == 3  # each row written as answered

    server.expect()
    assert run_child(context, annotate_job, str(killed), *args) == 0
    again = [row_text(text) for text in server.asked]
    assert sorted(again) == sorted(rows - set(first))  # the three rows answered before are not asked again
    out = "out/properties.jsonl"
    assert read_jsonl(killed / out) == read_jsonl(reference / out)
    assert not (killed / "scratch").exists()
