"""GPU check: the step loops of the training families in the layouts the plan runs them in, on one
GPU in a few minutes, printing tokens/s, peak memory and MFU per loop and adding a dated row per
loop to the measured table the plan prices training with (config/throughput.csv).

The layouts: per family, each distinct layout kind (ZeRO stage, optimizer offload, activation
checkpointing; ftrepro.plan.planned_layouts) of the paper preset's jobs, run on this one GPU with
the family's stand-in at GPU size and micro-batch (where the config cannot be resolved, e.g. an
image without snakemake: the layout ftrepro.layout picks for the stand-in on this GPU):
- causal: full fine-tune of a ~1B Llama (random init; the causal family's Trainer, bf16, SDPA);
- seq2seq: a ~0.35B T5 through the seq2seq family's Trainer;
- lora: the band2025 LoRA classifier (r 4 on q/v) on the same ~1B Llama;
- baseline, in the same run: the llama model and batch in a bare PyTorch loop (fp32 weights,
  bf16 autocast, torch's fused AdamW on the GPU, no Trainer, no offload), row "causal, bare".
The encoder family has no loop here: its jobs stay unmeasured in the plan.

MFU = model FLOPs per second over the GPU's peak dense bf16 FLOP/s (config plan.gpu_kinds, by
device name): 6 x parameters x tokens for full fine-tuning (T5: encoder parameters x source
tokens + decoder parameters x target tokens), 4 x for LoRA (no weight gradients for the frozen
base); a recomputed forward is not counted. Goals (issue 26): 40% or more for the llama loop
(torchtitan reports 33-39% for Llama 3.1 8B on H100), 30% for T5, 35% for LoRA.

    python benchmarks/gpu_check.py          # GPU sizes; rows added to config/throughput.csv
    python benchmarks/gpu_check.py --toy --table /tmp/t.csv   # toy sizes on CPU (tests/test_gpu_check.py)

It restarts itself under torchrun with one process: DeepSpeed needs a process group.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
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
from transformers.integrations.deepspeed import unset_hf_deepspeed_config

from ftrepro.config import Model, Shape
from ftrepro.costs import Measurement, append_measurements
from ftrepro.data.synthetic import vocabulary
from ftrepro.io import write_jsonl
from ftrepro.layout import Layout, Training, choose
from ftrepro.models.base import prepare_base_model
from ftrepro.papers.band2025.lora import lora_trainer
from ftrepro.train.causal import causal_trainer
from ftrepro.train.launch import torchrun_command
from ftrepro.train.seq2seq import seq2seq_trainer

TABLE = REPO / "config" / "throughput.csv"
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
    parser.add_argument(
        "--table",
        type=Path,
        help=f"the measured table to add rows to (default on a GPU: {TABLE}; on CPU: none)",
    )
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
    kind, peak = gpu_kind()
    planned = planned_layouts(size)
    rows = [run_loop(loop, workdir, size, name) for name, loop in loops(planned)]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (toy sizes: no MFU)"
    print(f"\ngpu_check on {device}")
    print("| loop | parameters | tokens/s | peak memory GB | MFU |")
    print("|---|---:|---:|---:|---:|")
    measured = []
    for row in rows:
        if isinstance(row, str):
            print(row)
            continue
        name, params, tokens_per_s, flops_per_s, memory = row
        mfu = flops_per_s / peak if peak else None
        shown = f"{100 * mfu:.1f}%" if mfu is not None else "n/a"
        print(f"| {name} | {params / 1e6:,.1f}M | {tokens_per_s:,.0f} | {memory / 1e9:.2f} | {shown} |")
        family, layout = name.split(", ")
        stand_in = f"{'t5' if family == 'seq2seq' else 'llama'} {params / 1e6:,.1f}M (random weights)"
        measured.append(
            Measurement(
                dt.date.today().isoformat(),
                kind,
                family,
                layout,
                1,
                stand_in,
                round(tokens_per_s),
                mfu,
                "benchmarks/gpu_check.py",
            )
        )
    print("peak memory: GPU memory allocated; on CPU the process's peak resident memory")
    table = args.table or (TABLE if torch.cuda.is_available() else None)
    if table is not None and int(os.environ["RANK"]) == 0:
        append_measurements(table, measured)
        print(f"gpu_check: {len(measured)} row(s) added to {table}")
    if any(isinstance(row, str) for row in rows):
        sys.exit(1)


def loops(planned: dict[str, list[Layout]]) -> list[tuple]:
    """(name, loop) of every family's planned layout, and the bare baseline after the first llama one."""
    chosen = []
    for family, make in (("causal", llama_loop), ("seq2seq", t5_loop), ("lora", lora_loop)):
        for layout in planned.get(family, []):
            chosen.append((f"{family}, {layout.kind}", functools.partial(make, layout=layout)))
        if family == "causal":
            chosen.append(("causal, bare", baseline_loop))
    return chosen


def run_loop(loop, workdir: Path, size: dict, name: str | None = None) -> tuple | str:
    """One loop's row, or a row saying why it failed: a GPU lease is too short to lose the other
    loops' figures to one failure (the traceback goes to stderr)."""
    try:
        result = loop(workdir, size)
    except Exception as error:  # reported in the table, and the exit status is 1
        traceback.print_exc()
        reason = " ".join(str(error).split())[:200]
        return f"| {name or loop.__name__} | FAILED: {type(error).__name__}: {reason} | | | |"
    finally:  # the next loop loads its model afresh: not under this one's ZeRO-3, not beside its memory
        unset_hf_deepspeed_config()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return result if name is None else (name, *result[1:])


# --- which layouts ------------------------------------------------------------------------------


def planned_layouts(size: dict) -> dict[str, list[Layout]]:
    """The layouts the paper preset's plan runs each family in (ftrepro.plan.planned_layouts); where
    the config cannot be resolved here (an image without snakemake, whose validator it uses), the
    layout ftrepro.layout picks for each family's stand-in on this one GPU."""
    try:
        from ftrepro import config as cfg
        from ftrepro.plan import planned_layouts as plan_layouts

        return plan_layouts(cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"}))
    except ImportError as error:
        print(f"gpu_check: the paper plan cannot be made here ({error}): layouts for this GPU instead")
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    memory = torch.cuda.get_device_properties(0).total_memory / 1e9 if torch.cuda.is_available() else 16
    cluster = {**raw["cluster"], "gpus_per_node": 1, "max_nodes": 1, "gpu_memory_gb": memory}
    _, peak = gpu_kind()
    ranking = {**raw["plan"]["layout_model"], "peak_tflops": (peak or 1e12) / 1e12}
    deepspeed = "config/deepspeed/zero2.json"
    families = {
        "causal": (
            stand_in("llama", size),
            Training("causal", "full", size["seq"], size["batch"], size["batch"], deepspeed=deepspeed),
        ),
        "seq2seq": (
            stand_in("t5", size),
            Training(
                "seq2seq",
                "full",
                size["source"] + size["target"],
                size["batch"],
                size["batch"],
                deepspeed=deepspeed,
                target_tokens=size["target"],
            ),
        ),
        "lora": (
            stand_in("llama", size, "lora"),
            Training("lora", "lora", size["seq"], size["batch"], size["batch"], logits=False),
        ),
    }
    return {
        family: [choose(model, spec, cluster, ranking).layout] for family, (model, spec) in families.items()
    }


def stand_in(architecture: str, size: dict, name: str = "") -> Model:
    """A family's stand-in model as ftrepro.layout sizes it (GPU sizes; toy sizes are tiny)."""
    shape = size.get(architecture) or {}
    if architecture == "t5":
        hidden, layers, heads = (
            shape.get("d_model", 64),
            shape.get("num_layers", 2),
            shape.get("num_heads", 2),
        )
    else:
        hidden = shape.get("hidden_size", 64)
        layers, heads = shape.get("num_hidden_layers", 2), shape.get("num_attention_heads", 2)
    params_b = 12 * layers * hidden**2 / 1e9 * (2 if architecture == "t5" else 1) + 32000 * hidden / 1e9
    kind = "seq2seq" if architecture == "t5" else "decoder"
    return Model(name or architecture, kind, params_b, {}, Shape(layers, hidden, heads, 32000, 4096))


# --- the loops: (name, parameters, tokens/s, model FLOP/s, peak memory bytes) -----------------


def llama_loop(workdir: Path, size: dict, layout: Layout) -> tuple:
    base = random_model(workdir / "llama", "llama", "decoder", size["llama"])
    recipe = {**causal_recipe(size), "save_strategy": "no", "activation_checkpointing": layout.checkpointing}
    trainer = causal_trainer(
        base,
        llama_examples(size),
        recipe,
        workdir / f"ckpt-llama-{layout.kind}",
        deepspeed=deepspeed_file(layout),
    )
    params = count(trainer.model)
    tokens = size["batch"] * size["seq"]
    seconds = timed_train(trainer, size)
    return (f"causal, {layout.kind}", params, tokens / seconds, 6 * params * tokens / seconds, peak())


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
    return ("causal, bare", params, tokens / seconds, 6 * params * tokens / seconds, peak())


def t5_loop(workdir: Path, size: dict, layout: Layout) -> tuple:
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
        "activation_checkpointing": layout.checkpointing,
    }
    del recipe["max_length"]
    trainer = seq2seq_trainer(
        base, records, recipe, workdir / f"ckpt-t5-{layout.kind}", deepspeed=deepspeed_file(layout)
    )
    model = trainer.model
    encoder, decoder = count(model.encoder), count(model) - count(model.encoder)
    seconds = timed_train(trainer, size)
    source, target = size["batch"] * size["source"], size["batch"] * size["target"]
    flops = 6 * (encoder * source + decoder * target)
    return (f"seq2seq, {layout.kind}", count(model), (source + target) / seconds, flops / seconds, peak())


def lora_loop(workdir: Path, size: dict, layout: Layout) -> tuple:
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
        "activation_checkpointing": layout.checkpointing,
        "bf16": True,
        "seed": 0,
        "save_strategy": "no",
    }
    random_model(workdir / "llama", "llama", "decoder", size["llama"])
    trainer = lora_trainer(
        workdir / "llama", workdir / "arena.jsonl", recipe, workdir / f"ckpt-lora-{layout.kind}"
    )
    params = count(trainer.model)
    tokens = size["batch"] * size["seq"]
    seconds = timed_train(trainer, size)
    return (f"lora, {layout.kind}", params, tokens / seconds, 4 * params * tokens / seconds, peak())


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


def deepspeed_file(layout: Layout) -> Path | None:
    return REPO / layout.deepspeed if layout.deepspeed else None


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
    """Parameters, whole where ZeRO-3 has partitioned them (ds_numel)."""
    return sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())


def gpu_kind() -> tuple[str, float | None]:
    """The device's config plan.gpu_kinds name and peak dense bf16 FLOP/s ("cpu", None on CPU;
    the device's name, None where no kind matches). Read as plain YAML: GPU images may lack
    snakemake, whose validator ftrepro.config uses."""
    if not torch.cuda.is_available():
        return "cpu", None
    kinds = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["plan"]["gpu_kinds"]
    name = torch.cuda.get_device_name().lower()
    for kind, spec in kinds.items():
        if kind.split("-")[0] in name:
            return kind, spec["peak_tflops"] * 1e12
    return name, None


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
