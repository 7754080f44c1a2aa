"""The pipeline's job scripts run as real processes for the fault-injection tests
(tests/test_faults_*.py), each one killed with SIGKILL at a chosen point and then run again.

A job is workflow/scripts/<rule>.py itself, run with a stand-in for the `snakemake` object that
Snakemake injects. Each run is a child of a multiprocessing forkserver that imported torch,
transformers and ftrepro once, so a run costs its own work, not ten seconds of imports; it is a
separate process all the same, and SIGKILL ends it with no chance to clean up, as kill -9 does.

`arm(fault)` makes the child kill itself at one point of the job (the data load, a training
step, an evaluation, the middle of a checkpoint or prediction write), or send itself SIGTERM
after a step (what SLURM sends ahead of a time limit); a ChatServer kills its client when a given
request arrives.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import runpy
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import torch
import transformers
from test_preference import ALLOCATION, HPARAMS
from transformers import TrainerCallback

import ftrepro.fit
import ftrepro.io
import ftrepro.papers.band2025.train
import ftrepro.papers.zhao2025.api_runs
from ftrepro.io import redact_urls, write_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025 import PAPER as BAND

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
KILL_STEP = 12  # the second evaluation and checkpoint of the band fit below (eval_steps 6)
SIGNAL_STEP = 9  # between its first two checkpoints (6 and 12): where SIGKILL or SIGTERM strikes
STEPS = 24  # of that fit: 48 examples / batch 8 x 4 epochs


# --- running a job script -----------------------------------------------------------------------


class Files(list):
    """Snakemake's Namedlist: the items by position (lists flattened) and by name."""

    def __init__(self, *items, **named):
        values = [*items, *named.values()]
        super().__init__(x for value in values for x in (value if isinstance(value, list) else [value]))
        self.__dict__.update(named)


def run_script(
    rule: str,
    *,
    input: dict,
    output: list,
    params: dict,
    wildcards: dict,
    log: Path,
    config: dict | None = None,
    named_output: dict | None = None,
) -> None:
    """A rule's script run as snakemake would: `output` by position, then `named_output` by name."""
    from snakemake.iocontainers import Namedlist

    log.parent.mkdir(parents=True, exist_ok=True)  # snakemake makes the folders of logs and outputs
    snakemake = SimpleNamespace(
        input=Files(**input),
        output=Files(*output, **(named_output or {})),
        params=Namedlist(fromdict=params),
        wildcards=Namedlist(fromdict=wildcards),
        log=Files(str(log)),
        threads=1,
        rule=rule,
        config=config or {},
    )
    # the script sets its job's threads (ftrepro.workflow.limit_threads) in this process: they go
    # back afterwards, or every later test (and `nproc` in the SLURM set-up) sees one CPU
    environ, threads = dict(os.environ), torch.get_num_threads()
    try:
        runpy.run_path(
            str(SCRIPTS / f"{rule}.py"), init_globals={"snakemake": snakemake}, run_name="__main__"
        )
    finally:
        os.environ.clear()
        os.environ.update(environ)
        torch.set_num_threads(threads)


# What the forkserver imports once. Installed modules only: Python 3.11's forkserver does not
# take the tests folder onto its sys.path, so this module is imported by each child (cheaply).
PRELOAD = [
    "torch",
    "transformers",
    "openai",
    "ftrepro.fit",
    "ftrepro.papers.band2025.annotate",
    "ftrepro.papers.band2025.predict",
    "ftrepro.papers.band2025.train",
    "ftrepro.papers.zhao2025.api_runs",
    "ftrepro.workflow",
]


def forkserver() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def run_child(
    context, target: Callable, *args, on_start: Callable[[int], None] | None = None, timeout: float = 300
) -> int:
    """The exit code of `target(*args)` in a new process (-9: SIGKILL ended it); `on_start(pid)`
    is called once it runs."""
    process = context.Process(target=target, args=args)
    process.start()
    if on_start:
        on_start(process.pid)
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise TimeoutError(f"{target.__name__}{args} ran over {timeout} s")
    return process.exitcode


def kill_me() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# --- faults inside a job ------------------------------------------------------------------------


class StepLog(TrainerCallback):
    """Appends '<pid> <global step>' for every optimizer step to a file, to count steps over runs."""

    def __init__(self, path: Path):
        self.path = path

    def on_step_end(self, args, state, control, **kwargs):
        with open(self.path, "a") as f:
            f.write(f"{os.getpid()} {state.global_step}\n")


class SlowSteps(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(0.5)


class KillAt(TrainerCallback):
    def __init__(self, event: str, step: int):
        self.event, self.step = event, step

    def on_step_end(self, args, state, control, **kwargs):
        if self.event == "step" and state.global_step == self.step:
            kill_me()
        if self.event == "sigterm" and state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)

    def on_prediction_step(self, args, state, control, **kwargs):
        if self.event == "evaluation" and state.global_step == self.step:
            kill_me()


def _with_callbacks(train_and_save: Callable, callbacks: list) -> Callable:
    def wrapped(trainer, *args, **kwargs):
        for callback in callbacks:
            trainer.add_callback(callback)
        return train_and_save(trainer, *args, **kwargs)

    return wrapped


def _killed_after_call(function: Callable, calls: int) -> Callable:
    """`function`, killing the process as its `calls`-th call returns (the data load: train set, then eval set)."""
    made = []

    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        made.append(1)
        if len(made) == calls:
            kill_me()
        return result

    return wrapped


def _killed_in_state_write(save_to_json: Callable) -> Callable:
    """TrainerState.save_to_json that writes half of trainer_state.json at KILL_STEP, then dies."""

    def wrapped(state, json_path):
        if state.global_step != KILL_STEP:
            return save_to_json(state, json_path)
        save_to_json(state, json_path)
        text = Path(json_path).read_text()
        Path(json_path).write_text(text[: len(text) // 2])
        kill_me()

    return wrapped


def _killed_before_state(save_rng_state: Callable) -> Callable:
    """Trainer._save_rng_state dying at KILL_STEP: weights and optimizer written, no trainer_state.json."""

    def wrapped(trainer, output_dir):
        if trainer.state.global_step == KILL_STEP:
            kill_me()
        return save_rng_state(trainer, output_dir)

    return wrapped


def _killed_mid_write(write_jsonl: Callable, name: str) -> Callable:
    """write_jsonl that dies halfway through writing a file called `name` (the job's output)."""

    def wrapped(path, records):
        if Path(path).name != name:
            return write_jsonl(path, records)
        records = list(records)

        def half_then_kill():
            yield from records[: len(records) // 2]
            kill_me()

        return write_jsonl(path, half_then_kill())

    return wrapped


def arm(fault: str | None, step_log: Path) -> None:
    """Install `fault` in this process: it dies at that point of the job. None: no fault."""
    preference = ftrepro.papers.band2025.train
    callbacks = [StepLog(step_log)]
    if fault in ("step", "evaluation", "sigterm"):
        callbacks.append(KillAt(fault, KILL_STEP if fault == "evaluation" else SIGNAL_STEP))
    elif fault == "slow-steps":  # time for a scheduler to stop the job mid-training
        callbacks.append(SlowSteps())
    preference.train_and_save = _with_callbacks(preference.train_and_save, callbacks)
    if fault == "load":
        preference.preference_features = _killed_after_call(preference.preference_features, 2)
    elif fault == "checkpoint":
        transformers.Trainer._save_rng_state = _killed_before_state(transformers.Trainer._save_rng_state)
    elif fault == "checkpoint-state":
        state = transformers.TrainerState
        state.save_to_json = _killed_in_state_write(state.save_to_json)
    elif fault == "prediction":
        killing = _killed_mid_write(ftrepro.io.write_jsonl, "predictions.jsonl")
        ftrepro.io.write_jsonl = ftrepro.fit.write_jsonl = ftrepro.papers.zhao2025.api_runs.write_jsonl = (
            killing
        )
    elif fault not in (None, "step", "evaluation", "sigterm", "slow-steps", "request"):
        raise ValueError(f"unknown fault {fault!r}")


# --- the jobs -----------------------------------------------------------------------------------


def arena_records(n: int, seed: int) -> list[dict]:
    """Derived arena records: the better response says 'y', the worse 'n'; a tie when both say 'y'."""
    rng, records = random.Random(seed), []
    for i in range(n):
        label = ("A", "B", "tie")[i % 3]
        say = [" ".join(["y" if good else "n"] * rng.randint(2, 6)) for good in (label != "B", label != "A")]
        records.append(
            {
                "id": f"{seed}-{i}",
                "model_a": "m1",
                "model_b": "m2",
                "prompt": [" ".join(["p"] * rng.randint(1, 4))],
                "response_a": [say[0]],
                "response_b": [say[1]],
                "label": label,
            }
        )
    return records


def write_band_data(data: Path) -> Path:
    """A tiny random DistilBERT and 48 train / 24 dev / 24 test arena records in `data`, and no
    competition test rows."""
    prepare_base_model({"random": {"architecture": "distilbert"}}, "encoder", data / "base")
    write_jsonl(data / "train.jsonl", arena_records(48, seed=0))
    write_jsonl(data / "dev.jsonl", arena_records(24, seed=1))
    write_jsonl(data / "test.jsonl", arena_records(24, seed=2))
    write_jsonl(data / "competition_test.jsonl", [])
    return data


def steps_by_run(root: Path) -> list[list[int]]:
    """The optimizer steps each process ran (StepLog), one list per process in the order they ran."""
    runs: dict[str, list[int]] = {}
    for line in (root / "steps.log").read_text().splitlines():
        pid, step = line.split()
        runs.setdefault(pid, []).append(int(step))
    return list(runs.values())


def band_fit_job(root: str, data: str, fault: str | None, hparams: dict | None = None) -> None:
    """fit_band_encoder (Single BERT, evaluation every 6 of 24 steps) working in `root`;
    `hparams` over the tiny recipe's."""
    import torch

    torch.set_num_threads(1)  # the same arithmetic in every run, and a fair share of a small machine
    root, data = Path(root), Path(data)
    arm(fault, root / "steps.log")
    run_script(
        "fit_band_encoder",
        input={
            "base": str(data / "base"),
            "train": str(data / "train.jsonl"),
            "dev": str(data / "dev.jsonl"),
            "test": str(data / "test.jsonl"),
            "competition_test": str(data / "competition_test.jsonl"),
        },
        output=[str(root / "out" / "predictions.jsonl")],
        named_output={"competition": str(root / "out" / "competition_predictions.jsonl")},
        params={
            "hparams": {**HPARAMS, **(hparams or {})},  # the tiny preference recipe of test_preference
            "allocation": ALLOCATION,
            "frozen_layers": 0,
            "processes": 1,  # the rule's one process per GPU of the job; a CPU job: one
            "work_dir": str(root / "scratch"),
            "keep_dir": None,
        },
        wildcards={"architecture": "single"},
        log=root / f"job-{os.getpid()}.log",
    )


def score_job(root: str) -> None:
    """score of the band fit's predictions, which releases its work directory."""
    run_script(
        "score",
        input={"predictions": str(Path(root) / "out" / "predictions.jsonl")},
        output=[str(Path(root) / "metrics.json")],
        params={
            "scorer": BAND.scorer,
            "bootstrap": {"resamples": 1000, "seed": 0},
            "work_dir": str(Path(root) / "scratch"),
        },
        wildcards={"paper": "band2025", "run": "single"},
        log=Path(root) / "score.log",
    )


def api_params(api: dict) -> dict:
    """The `api` params of the API rules (common.smk API_PARAMS): what the answers depend on, the
    base URL without its credentials."""
    return {"base_url": redact_urls(api["base_url"]), "max_tokens": api["max_tokens"]}


def api_job(root: str, data: str, api: dict, key_env: str, fault: str | None) -> None:
    """predict_zhao_api (massive-intent, zero-shot) against an OpenAI-compatible endpoint."""
    os.environ[key_env] = "sk-fault-test"
    root, data = Path(root), Path(data)
    arm(fault, root / "steps.log")
    run_script(
        "predict_zhao_api",
        input={
            "train": str(data / "train.jsonl"),
            "test": str(data / "test.jsonl"),
            "labels": str(data / "labels.json"),
        },
        output=[str(root / "out" / "predictions.jsonl")],
        params={
            "task": {"dataset": "massive", "subtasks": ["intent"]},
            "model_id": "gpt-x",
            "demo_seed": 42,
            "api": api_params(api),
            "work_dir": str(root / "scratch"),
        },
        wildcards={"shots": "zero-shot"},
        log=root / f"job-{os.getpid()}.log",
        config={"api": api},  # the client's settings
    )


def annotate_job(root: str, data: str, annotation: dict, api: dict, key_env: str, rows: int) -> None:
    """annotate_arena through an OpenAI-compatible endpoint: `rows` arena train rows."""
    os.environ[key_env] = "sk-fault-test"
    root, data = Path(root), Path(data)
    run_script(
        "annotate_arena",
        input={"model": [], "supplied": [], "train": str(data / "train.jsonl")},
        output=[str(root / "out" / "properties.jsonl")],
        params={
            "annotation": annotation,
            "rows": rows,
            "spec": {"api": "gpt-x"},
            "api": api_params(api),
            "work_dir": str(root / "scratch"),
        },
        wildcards={},
        log=root / f"job-{os.getpid()}.log",
        config={"api": api},  # the client's settings
    )


# --- an OpenAI-compatible endpoint that can kill its client -------------------------------------


class ChatServer:
    """/v1/chat/completions on 127.0.0.1: `reply(request body) -> text` (or bytes: the whole
    response body, as a broken endpoint sends it). When request number `kill_at` (1-based)
    arrives, the client process `victim` gets SIGKILL and no answer."""

    def __init__(self, reply: Callable[[dict], str]):
        self.reply, self.kill_at, self.victim, self.once = reply, None, None, None
        self.victim_known = threading.Event()
        self.asked: list[str] = []  # the last message of each request, in arrival order
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def expect(self, kill_at: int | None = None, once: Callable[[], bool] | None = None) -> None:
        """A new run: no requests yet; kill the client at request `kill_at` (None: never), as
        soon as `once()` holds (e.g. some answers are on disk, which concurrent requests race)."""
        with self.lock:
            self.asked, self.kill_at, self.victim, self.once = [], kill_at, None, once
        self.victim_known.clear()

    def set_victim(self, pid: int) -> None:
        self.victim = pid
        self.victim_known.set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, body: dict) -> dict | bytes | None:
        with self.lock:
            self.asked.append(body["messages"][-1]["content"])
            kill = len(self.asked) == self.kill_at
        if kill:
            self.victim_known.wait(30)
            deadline = time.monotonic() + 30
            while self.once and not self.once() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(self.victim, signal.SIGKILL)
            return None
        content = self.reply(body)
        if isinstance(content, bytes):
            return content
        message = {"role": "assistant", "content": content}
        return {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        }

    def _handler(self):
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if payload is None:
                    return  # the client is dead: nobody to answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
