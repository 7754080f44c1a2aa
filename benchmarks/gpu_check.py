"""GPU check: the step loops of the three training families as the pipeline builds them, on one
GPU in under 5 minutes, printing tokens/s, peak memory and MFU per loop.

- llama: full fine-tune of a ~1B Llama (random init; the causal family's Trainer, bf16, the
  zhao2025 recipe's ZeRO-2 config with optimizer offload, SDPA attention);
- t5: a ~0.35B T5 through the seq2seq family's Trainer with the gupta2023 ZeRO-2 config;
- lora: the band2025 LoRA classifier (r 4 on q/v) on the same ~1B Llama, no DeepSpeed;
- baseline, in the same run: the llama model and batch in a bare PyTorch loop (fp32 weights,
  bf16 autocast, torch's fused AdamW on the GPU, no Trainer, no offload).

MFU = model FLOPs per second over the GPU's peak dense bf16 FLOP/s (config plan.gpu_kinds, by
device name): 6 x parameters x tokens for full fine-tuning (T5: encoder parameters x source
tokens + decoder parameters x target tokens), 4 x for LoRA (no weight gradients for the frozen
base). Goal: 40% or more for the llama loop (torchtitan reports 33-39% for Llama 3.1 8B on H100).

    python benchmarks/gpu_check.py          # GPU sizes
    python benchmarks/gpu_check.py --toy    # toy sizes; runs on CPU (tests/test_gpu_check.py)

It restarts itself under torchrun with one process: DeepSpeed needs a process group.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
import yaml
from _common import REPO
from transformers import AutoModelForCausalLM, TrainerCallback

from ftrepro.data.synthetic import vocabulary
from ftrepro.io import write_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.lora import lora_trainer
from ftrepro.train.causal import causal_trainer
from ftrepro.train.launch import torchrun_command
from ftrepro.train.seq2seq import seq2seq_trainer

DEEPSPEED = REPO / "config" / "deepspeed" / "zero2_offload.json"
SIZES = {
    "gpu": {
        "llama": {
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_hidden_layers": 16,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "max_position_embeddings": 4096,
        },
        "t5": {
            "d_model": 1024,
            "d_kv": 64,
            "d_ff": 4096,
            "num_layers": 12,
            "num_decoder_layers": 12,
            "num_heads": 16,
        },
        "seq": 2048,
        "source": 1024,
        "target": 128,
        "batch": 4,
        "steps": 20,
        "warmup": 5,
    },
    "toy": {
        "llama": {},
        "t5": {},
        "seq": 64,
        "source": 48,
        "target": 16,
        "batch": 2,
        "steps": 4,
        "warmup": 1,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toy", action="store_true", help="toy sizes (CPU)")
    parser.add_argument("--workdir", type=Path, help="where the random models go (default: a temporary one)")
    args = parser.parse_args()
    if "RANK" not in os.environ:  # DeepSpeed needs a process group, even for one process
        if not torch.cuda.is_available():
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        command = torchrun_command(1, Path(__file__).resolve())
        os.execv(sys.executable, [*command[:5], str(Path(__file__).resolve()), *sys.argv[1:]])
    import deepspeed

    deepspeed.init_distributed()
    size = SIZES["toy" if args.toy else "gpu"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    peak = peak_flops()
    rows = [run_loop(loop, workdir, size) for loop in (llama_loop, baseline_loop, t5_loop, lora_loop)]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (toy sizes: no MFU)"
    print(f"\ngpu_check on {device}")
    print("| loop | parameters | tokens/s | peak memory GB | MFU |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        if isinstance(row, str):
            print(row)
            continue
        name, params, tokens_per_s, flops_per_s, memory = row
        mfu = f"{100 * flops_per_s / peak:.1f}%" if peak else "n/a"
        print(f"| {name} | {params / 1e6:,.1f}M | {tokens_per_s:,.0f} | {memory / 1e9:.2f} | {mfu} |")
    print("peak memory: GPU memory allocated; on CPU the process's peak resident memory")
    if any(isinstance(row, str) for row in rows):
        sys.exit(1)


def run_loop(loop, workdir: Path, size: dict) -> tuple | str:
    """One loop's row, or a row saying why it failed: a GPU lease is too short to lose the other
    loops' figures to one failure (the traceback goes to stderr)."""
    try:
        return loop(workdir, size)
    except Exception as error:  # reported in the table, and the exit status is 1
        traceback.print_exc()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        reason = " ".join(str(error).split())[:200]
        return f"| {loop.__name__} | FAILED: {type(error).__name__}: {reason} | | | |"


# --- the loops: (name, parameters, tokens/s, model FLOP/s, peak memory bytes) -----------------


def llama_loop(workdir: Path, size: dict) -> tuple:
    base = random_model(workdir / "llama", "llama", "decoder", size["llama"])
    recipe = {**causal_recipe(size), "save_strategy": "no"}
    trainer = causal_trainer(base, llama_examples(size), recipe, workdir / "ckpt-llama", deepspeed=DEEPSPEED)
    params = count(trainer.model)
    tokens = size["batch"] * size["seq"]
    seconds = timed_train(trainer, size)
    return (
        "llama, Trainer + ZeRO-2 offload",
        params,
        tokens / seconds,
        6 * params * tokens / seconds,
        peak(),
    )


def baseline_loop(workdir: Path, size: dict) -> tuple:
    """The llama loop's model and batch without Trainer or DeepSpeed."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(workdir / "llama", dtype=torch.float32).to(device)
    model.config.use_cache = False
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")
    vocab = model.config.vocab_size
    ids = torch.randint(4, vocab, (size["batch"], size["seq"]), device=device)
    reset_peak()
    start = None
    for step in range(size["steps"]):
        if step == size["warmup"]:
            sync()
            start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync()
    seconds = (time.perf_counter() - start) / (size["steps"] - size["warmup"])
    params, tokens = count(model), ids.numel()
    return ("llama, bare PyTorch (baseline)", params, tokens / seconds, 6 * params * tokens / seconds, peak())


def t5_loop(workdir: Path, size: dict) -> tuple:
    base = random_model(workdir / "t5", "t5", "seq2seq", size["t5"])
    words = vocabulary()
    rng = random.Random(0)
    records = [
        {
            "task": "check",
            "id": str(i),
            "input": "",
            "encodings": {"input_only": " ".join(rng.choices(words, k=size["source"]))},
            "references": [" ".join(rng.choices(words, k=size["target"]))],
        }
        for i in range(size["batch"] * size["steps"])
    ]
    recipe = {
        **causal_recipe(size),
        "max_source_length": size["source"],
        "max_target_length": size["target"],
        "instructions": False,
        "save_strategy": "no",
    }
    del recipe["max_length"], recipe["activation_checkpointing"]
    trainer = seq2seq_trainer(base, records, recipe, workdir / "ckpt-t5", deepspeed=DEEPSPEED)
    model = trainer.model
    encoder, decoder = count(model.encoder), count(model) - count(model.encoder)
    seconds = timed_train(trainer, size)
    source, target = size["batch"] * size["source"], size["batch"] * size["target"]
    flops = 6 * (encoder * source + decoder * target)
    return (
        "t5, Trainer + ZeRO-2 offload",
        count(model),
        (source + target) / seconds,
        flops / seconds,
        peak(),
    )


def lora_loop(workdir: Path, size: dict) -> tuple:
    words = vocabulary()
    rng = random.Random(0)
    turn = size["seq"] // 3 - 4  # three segments of about equal length fill the sequence

    def text() -> list[str]:
        return [" ".join(rng.choices(words, k=turn))]

    rows = [
        {"id": str(i), "prompt": text(), "response_a": text(), "response_b": text(), "label": "A"}
        for i in range(size["batch"] * size["steps"])
    ]
    write_jsonl(workdir / "arena.jsonl", rows)
    recipe = {
        "learning_rate": 1e-4,
        "per_device_train_batch_size": size["batch"],
        "gradient_accumulation_steps": 1,
        "num_train_epochs": 1,
        "max_steps": size["steps"],
        "max_length": size["seq"],
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj"],
        "activation_checkpointing": False,
        "bf16": True,
        "seed": 0,
        "save_strategy": "no",
    }
    trainer = lora_trainer(workdir / "llama", workdir / "arena.jsonl", recipe, workdir / "ckpt-lora")
    params = count(trainer.model)
    tokens = size["batch"] * size["seq"]
    seconds = timed_train(trainer, size)
    return ("lora classifier (r 4, q/v)", params, tokens / seconds, 4 * params * tokens / seconds, peak())


# --- shared -------------------------------------------------------------------------------------


def causal_recipe(size: dict) -> dict:
    return {
        "learning_rate": 1e-5,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "max_steps": size["steps"],
        "per_device_train_batch_size": size["batch"],
        "effective_batch_size": size["batch"],
        "max_length": size["seq"],
        "bf16": True,
        "activation_checkpointing": False,
        "seed": 0,
    }


def llama_examples(size: dict) -> list[dict]:
    """Prompts of one length (one word, one token): batches of exactly batch x seq tokens."""
    words, rng = vocabulary(), random.Random(0)
    return [
        {"prompt": " ".join(rng.choices(words, k=size["seq"] - 4)), "answer": rng.choice(words)}
        for _ in range(size["batch"] * size["steps"])
    ]


def random_model(path: Path, architecture: str, kind: str, shape: dict) -> Path:
    if not path.exists():
        prepare_base_model({"random": {"architecture": architecture, **shape}}, kind, path)
    return path


class StepClock(TrainerCallback):
    """Seconds per optimizer step after the warm-up steps."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.steps = warmup, None, 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            sync()
            self.start = time.perf_counter()
        elif state.global_step > self.warmup:
            self.steps += 1

    def seconds_per_step(self) -> float:
        sync()
        return (time.perf_counter() - self.start) / self.steps


def timed_train(trainer, size: dict) -> float:
    clock = StepClock(size["warmup"])
    trainer.add_callback(clock)
    reset_peak()
    trainer.train()
    return clock.seconds_per_step()


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def peak_flops() -> float | None:
    """The device's peak dense bf16 FLOP/s from config.yaml's plan.gpu_kinds (None on CPU or
    unknown). Read as plain YAML: GPU images lack snakemake, whose validator ftrepro.config uses."""
    if not torch.cuda.is_available():
        return None
    kinds = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["plan"]["gpu_kinds"]
    name = torch.cuda.get_device_name().lower()
    for kind, spec in kinds.items():
        if kind.split("-")[0] in name:
            return spec["peak_tflops"] * 1e12
    return None


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak() -> float:
    """Peak GPU memory allocated; on CPU, the process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
