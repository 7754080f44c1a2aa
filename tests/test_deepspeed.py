"""DeepSpeed ZeRO-2/3 and multi-process training for real, on CPU: two processes under torchrun
(gloo), DeepSpeed's CPU accelerator, the project's own configs (their "auto" values filled by the
Trainer as on a GPU). The GPU code path of the paper preset, run end to end at tiny size.

The zhao2025 decoder jobs run through snakemake with `launch` set as a GPU preset would have it:
llama3-8b takes the small recipe (ZeRO-2, optimizer offload), llama3-70b the large one (ZeRO-3,
optimizer offload); each predicts in 2 processes, the rows split between them.
tests/hooks/sitecustomize.py records each checkpoint's files and, for the kill test, SIGKILLs
rank 1 after its first complete checkpoint. The two jobs, trained once (a module fixture), serve every
test of them (the kill test reruns the ZeRO-2 one in their work directory).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, WORKFLOW_FILES, snakemake
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from ftrepro import config as cfg
from ftrepro.data.arena import derive_arena
from ftrepro.data.synthetic import write_synthetic_raw
from ftrepro.infer.seq2seq import predict_seq2seq
from ftrepro.io import read_json, read_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.lora import (
    load_lora_classifier,
    lora_model,
    predict_lora_classifier,
    train_lora_classifier,
)
from ftrepro.papers.band2025.lora import load_tokenizer as lora_tokenizer
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.papers.zhao2025.predict import predict_records, rendered_examples
from ftrepro.train.launch import run_distributed
from ftrepro.train.seq2seq import train_seq2seq

pytestmark = [pytest.mark.deepspeed, pytest.mark.usefixtures("deepspeed_ops")]

DEEPSPEED = REPO / "config" / "deepspeed"
HOOKS = Path(__file__).parent / "hooks"
RUNS = {"zero2": "massive-intent.llama3-8b.zero-shot.ft", "zero3": "massive-intent.llama3-70b.zero-shot.ft"}
# the tiny preset as a 2-GPU job trains it: 2 processes x 4 per device = the recipe's batch of 8
# (a file: the preset overrides nest three levels deep)
CONFIG = {
    "preset": "tiny",
    "keep_checkpoints": True,
    "launch": {"cpu_processes": 2, "cpu_deepspeed": True},
    "presets": {
        "tiny": {
            "data": {"max_rows": {"train": 96, "dev": 16, "test": 16}},  # 12 steps of 8; a short prediction
            # 12 steps with a checkpoint at 6: the tiny recipe's own 320 steps take too long here
            "training": {
                "zhao2025-decoder": {
                    "per_device_train_batch_size": 4,
                    "logging_steps": 1,
                    "max_steps": {"small": 12, "large": 12},
                    "save_steps": 6,
                    "max_length": 256,
                }
            },
        }
    },
}


def run_pipeline(workdir: Path, targets: list[str], **env: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": f"{HOOKS}:{REPO / 'src'}", "FTREPRO_TEST_SAVES": str(workdir / "saves.jsonl"), **env}
    (workdir / "deepspeed.yaml").write_text(yaml.safe_dump(CONFIG))
    args = ["--profile", "profiles/local", "--cores", "2", "--configfile", "deepspeed.yaml", "--", *targets]
    return snakemake(args, workdir, timeout=900, env=env)


def predictions(run: str) -> str:
    return f"results/tiny/zhao2025/{run}/predictions.jsonl"


def logged_steps(log: str) -> dict[int, float]:
    return {int(s): float(loss) for s, loss in re.findall(r"step (\d+): \{'loss': ([\d.]+)", log)}


@pytest.fixture(scope="module")
def zero_runs(tmp_path_factory) -> Path:
    """The ZeRO-2 and the ZeRO-3 decoder job of one task, through the normal fit rule."""
    workdir = tmp_path_factory.mktemp("deepspeed")
    for name in WORKFLOW_FILES:
        (workdir / name).symlink_to(REPO / name)
    result = run_pipeline(workdir, [predictions(run) for run in RUNS.values()])
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_zero_offload_trains_checkpoints_saves_safetensors_and_predicts(zero_runs, stage):
    run = RUNS[stage]
    log = (zero_runs / f"logs/tiny/zhao2025/fit/{run}.log").read_text()
    assert f"zero{stage[-1]}_offload.json" in log and "--nproc-per-node=2" in log
    assert "batch of 8: 2 process(es) x 4 per device x 1 accumulation steps" in log
    losses = logged_steps(log)
    assert sorted(losses) == list(range(1, 13))
    assert sum(losses[s] for s in (10, 11, 12)) < sum(losses[s] for s in (1, 2, 3))
    saves = [json.loads(line) for line in (zero_runs / "saves.jsonl").read_text().splitlines()]
    mine = {Path(s["checkpoint"]).name: s["files"] for s in saves if f"/{run}/" in s["checkpoint"]}
    assert set(mine) == {"checkpoint-6", "checkpoint-12"}
    for name, files in mine.items():
        step = name.split("-")[1]
        assert any(f.startswith(f"global_step{step}/") and "optim_states" in f for f in files), files
    kept = zero_runs / f"resources/tiny/models/zhao2025/{run}"
    assert (kept / "model.safetensors").is_file() and not (kept / "pytorch_model.bin").exists()
    weights = load_file(kept / "model.safetensors")
    assert all(t.numel() > 0 for t in weights.values())  # ZeRO-3 gathered every shard
    assert AutoModelForCausalLM.from_pretrained(kept).config.model_type == "llama"
    test = read_jsonl(zero_runs / "resources/tiny/derived/massive/test.jsonl")
    assert [r["id"] for r in read_jsonl(zero_runs / predictions(run))] == [r["id"] for r in test]


def test_predictions_split_between_two_processes_equal_one_process_row_for_row(zero_runs):
    """The fit rule predicted in 2 processes (launch.cpu_processes), each on its contiguous half of
    the rows, rank 0 writing them in order; one process here gives the same records."""
    run = RUNS["zero2"]
    log = (zero_runs / f"logs/tiny/zhao2025/fit/{run}.log").read_text()
    assert "rank 0: 8 of 16 rows predicted" in log  # rank 1 predicted the other 8
    config = cfg.load(REPO / "config" / "config.yaml", CONFIG)
    hparams = zhao_runs.decoder_hparams(config, "llama3-8b")
    derived = zero_runs / "resources" / "tiny" / "derived" / "massive"
    labels = read_json(derived / "labels.json")
    base = zero_runs / "resources" / "tiny" / "models" / "base" / "llama3-8b"
    test = rendered_examples(base, read_jsonl(derived / "test.jsonl"), ["intent"], "massive", labels, None)
    one_process = predict_records(
        zero_runs / f"resources/tiny/models/zhao2025/{run}",
        test,
        ["intent"],
        "massive",
        labels,
        max_new_tokens=hparams["max_new_tokens"],
        batch_size=hparams["predict_batch_size"],
        constrained=config.zhao2025.constrained_decoding,
    )
    assert len(one_process) == 16
    assert read_jsonl(zero_runs / predictions(run)) == one_process


def test_a_job_killed_after_its_first_checkpoint_resumes_it_through_snakemake(zero_runs):
    run = RUNS["zero2"]
    uninterrupted = read_jsonl(zero_runs / predictions(run))
    (zero_runs / predictions(run)).unlink()
    shutil.rmtree(zero_runs / f"resources/tiny/models/zhao2025/{run}")
    # its work directory too: unscored, it holds the finished predictions a rerun would restore
    shutil.rmtree(zero_runs / f"resources/tiny/scratch/zhao2025/{run}")
    (zero_runs / "saves.jsonl").unlink()

    killed = run_pipeline(zero_runs, [predictions(run)], FTREPRO_TEST_KILL_RANK="1")
    assert killed.returncode != 0
    checkpoints = zero_runs / f"resources/tiny/scratch/zhao2025/{run}/checkpoints"
    assert [p.name for p in checkpoints.glob("checkpoint-*")] == ["checkpoint-6"]
    assert (checkpoints / "checkpoint-6" / "global_step6").is_dir()

    resumed = run_pipeline(zero_runs, [predictions(run)])
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    log = (zero_runs / f"logs/tiny/zhao2025/fit/{run}.log").read_text()
    assert re.search(r"resuming from \S+/checkpoint-6", log)
    assert sorted(logged_steps(log)) == list(range(7, 13))  # the step count goes on from 6
    assert read_jsonl(zero_runs / predictions(run)) == uninterrupted


# --- the other families, two processes each ---------------------------------------------------


def test_seq2seq_trains_under_zero2_in_two_processes(tmp_path):
    from test_seq2seq import HPARAMS, superni_with_t5

    from ftrepro.data.superni import task_records

    data = superni_with_t5(tmp_path / "superni")
    tasks = sorted(p.name for p in (data / "derived" / "tasks").iterdir())[:2]
    records = task_records(data / "derived", tasks, "train", 16)
    hparams = {**HPARAMS, "per_device_train_batch_size": 2, "effective_batch_size": 4}
    run_distributed(
        2,
        train_seq2seq,
        deepspeed=DEEPSPEED / "zero2_offload.json",
        base_dir=data / "base",
        records=records,
        hparams=hparams,
        out_dir=tmp_path / "model",
        checkpoint_dir=tmp_path / "ckpt",
    )
    assert (tmp_path / "model" / "model.safetensors").is_file() and not (tmp_path / "ckpt").exists()
    trained = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "model").state_dict()
    base = AutoModelForSeq2SeqLM.from_pretrained(data / "base").state_dict()
    assert not torch.equal(trained["shared.weight"], base["shared.weight"])
    test = task_records(data / "derived", tasks, "test")[:4]
    out = predict_seq2seq(
        tmp_path / "model", test, instructions=False, batch_size=4, max_source_length=64, max_new_tokens=8
    )
    assert [r["id"] for r in out] == [r["id"] for r in test]


def test_lora_classifier_trains_in_two_processes_and_its_adapter_and_head_load_back(tmp_path):
    from test_band_lora import HPARAMS

    base = tmp_path / "llama"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", base)
    raw = write_synthetic_raw("arena", tmp_path / "raw", seed=3, n_rows=60)[0]
    derive_arena(raw, tmp_path / "arena", seed=42, max_rows={"train": 24, "dev": 10})
    hparams = {**HPARAMS, "per_device_train_batch_size": 4}  # 2 processes x 4: the batch of 8
    out = tmp_path / "model"
    run_distributed(
        2,
        train_lora_classifier,
        base_dir=base,
        train_path=tmp_path / "arena" / "train.jsonl",
        hparams=hparams,
        out_dir=out,
        checkpoint_dir=tmp_path / "ckpt",
    )
    saved = load_file(out / "adapter_model.safetensors")
    assert any("lora_A" in k for k in saved) and any("score" in k for k in saved)
    model, tokenizer = load_lora_classifier(base, out)
    fresh = lora_model(base, lora_tokenizer(base), hparams)
    loaded = {k: v for k, v in model.state_dict().items() if "lora_B" in k}
    assert loaded and all(k in fresh.state_dict() for k in loaded)
    assert any(not torch.equal(v, fresh.state_dict()[k]) for k, v in loaded.items())  # trained, not init
    probs = predict_lora_classifier(base, out, tmp_path / "arena" / "dev.jsonl", max_length=64, batch_size=5)
    assert len(probs) == len(read_jsonl(tmp_path / "arena" / "dev.jsonl")) and all(
        sum(p["probs"].values()) == pytest.approx(1.0) for p in probs
    )


def test_deepspeed_configs_leave_the_schedule_to_the_recipe():
    for path in DEEPSPEED.glob("*.json"):
        config = json.loads(path.read_text())
        assert "scheduler" not in config, path  # the Trainer builds the recipe's lr_scheduler_type
        assert config["optimizer"]["params"]["lr"] == "auto"
