"""Memory per GPU and GPU-hours of one job, from the model's paper-scale shape and the recipe.

Model states per GPU (and per node on the host) are DeepSpeed's own estimates for ZeRO-2 / ZeRO-3
jobs (`estimate_zero{2,3}_model_states_mem_needs`), their formulas written out here so that the
workflow can size jobs at parse time without importing torch (tests/test_costs.py checks them
against DeepSpeed's functions); without DeepSpeed they are counted per parameter: 16 bytes for
full fine-tuning in fp32 with AdamW (weights, gradients, two moments), 2 for bf16 weights that do
not train (LoRA's base, inference, which spreads them over the job's GPUs). Activations are those
of the longest micro-batch (Korthikanti et al. 2022, with flash/SDPA attention: 34 x sequence x
batch x hidden bytes per layer held; with activation checkpointing, one layer's plus every
layer's bf16 input), the logits in fp32 with their gradient, and for inference the KV cache.

GPU-hours: training FLOPs (`training_flops`) at the GPU kind's peak bf16 FLOP/s times the MFU
measured for the job's family and layout (config/throughput.csv, written by
benchmarks/gpu_check.py; `Measurements`), plus 2 x parameters x inference tokens at the
generation MFU stated in config `plan.gpu_kinds`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ftrepro.config import Model

GB = 1e9
ACTIVATION_BYTES_PER_LAYER = 34  # x sequence x batch x hidden, bf16, flash attention (no s^2 term)
LOGIT_BYTES = 10  # bf16 logits, their fp32 copy for the loss and its gradient
DEEPSPEED_BUFFER = 1.5  # DeepSpeed's estimators' additional_buffer_factor for host memory


def parameters(model: Model) -> float:
    """A declared model's paper-scale parameter count (config `models`: params_b)."""
    return model.params_b * 1e9


@dataclass(frozen=True)
class Zero:
    """What a DeepSpeed config file asks for."""

    stage: int
    offload_optimizer: bool
    offload_params: bool = False

    @classmethod
    def read(cls, path: str | Path) -> Zero:
        zero = json.loads(Path(path).read_text())["zero_optimization"]

        def offloaded(key: str) -> bool:
            return zero.get(key, {}).get("device", "none") not in ("none", None)

        return cls(zero["stage"], offloaded("offload_optimizer"), offloaded("offload_param"))

    def __str__(self) -> str:
        return f"{self.stage}" + ("+offload" if self.offload_optimizer or self.offload_params else "")


def model_states_bytes(model: Model, mode: str, gpus: int, zero: Zero | None, nodes: int = 1) -> float:
    """Weights, gradients and optimizer states on each GPU of a job with `gpus` GPUs per node."""
    if zero is not None:
        return zero_states_bytes(model, zero, gpus, nodes)[1]
    params = parameters(model)
    if mode == "full":
        return 16 * params
    if mode == "lora":
        return 2 * params
    return 2 * params / gpus  # inference: the weights spread over the job's GPUs


def zero_states_bytes(model: Model, zero: Zero, gpus_per_node: int, nodes: int = 1) -> tuple[float, float]:
    """(host bytes per node, bytes per GPU) of DeepSpeed's estimate of a ZeRO-2/3 job's model
    states: `estimate_zero2_model_states_mem_needs` and `estimate_zero3_model_states_mem_needs`
    (zero_init, as the Trainer loads a model under ZeRO-3) of deepspeed 0.19, written out."""
    params, gpus = parameters(model), gpus_per_node * nodes
    if zero.stage == 2:
        if zero.offload_optimizer:
            return params * max(4 * gpus, 16) * DEEPSPEED_BUFFER, 2 * params
        return params * 4 * gpus_per_node * DEEPSPEED_BUFFER, 2 * params + int(18 * params / gpus)
    largest_layer = model.shape.vocab * model.shape.hidden  # the embedding
    held = 4 * largest_layer
    if zero.offload_params:
        return params * 18 / nodes * DEEPSPEED_BUFFER, held
    if zero.offload_optimizer:
        return params * 16 / nodes * DEEPSPEED_BUFFER, held + int(2 * params / gpus)
    return largest_layer * 4 * gpus_per_node * DEEPSPEED_BUFFER, held + int(18 * params / gpus)


def activation_bytes(model: Model, tokens: int, checkpointing: bool, logits: bool) -> float:
    """Training activations of a micro-batch of `tokens` (sequence x batch) on one GPU."""
    shape = model.shape
    per_layer = ACTIVATION_BYTES_PER_LAYER * tokens * shape.hidden
    held = shape.layers * 2 * tokens * shape.hidden + per_layer if checkpointing else shape.layers * per_layer
    return held + (LOGIT_BYTES * tokens * shape.vocab if logits else 0)


def kv_cache_bytes(model: Model, tokens: int, gpus: int) -> float:
    """bf16 keys and values of `tokens` (batch x sequence) in flight, spread over the GPUs."""
    shape = model.shape
    kv_fraction = (shape.kv_heads or shape.heads) / shape.heads  # grouped-query attention
    return 2 * 2 * shape.layers * shape.hidden * kv_fraction * tokens / gpus


# --- FLOPs and GPU-hours ------------------------------------------------------------------------


def flops_per_token(model: Model, mode: str) -> float:
    """Model FLOPs of one training token, as benchmarks/gpu_check.py counts them for its MFU: 6 x
    parameters for full fine-tuning (forward and backward), 4 x for LoRA (no weight gradients of
    the frozen base); an encoder-decoder's token passes one of its two stacks, about half the
    parameters each."""
    per_parameter = 4 if mode == "lora" else 6
    stacks = 2 if model.kind == "seq2seq" else 1
    return per_parameter * parameters(model) / stacks


def training_hours(model: Model, mode: str, tokens: float, peak_tflops: float, mfu: float) -> float:
    return flops_per_token(model, mode) * tokens / (peak_tflops * 1e12 * mfu) / 3600


def inference_hours(model: Model, tokens: float, peak_tflops: float, mfu: float) -> float:
    return 2 * parameters(model) * tokens / (peak_tflops * 1e12 * mfu) / 3600


# --- measured throughput ------------------------------------------------------------------------

THROUGHPUT_COLUMNS = ("date", "gpu", "family", "layout", "gpus", "model", "tokens_per_s", "mfu", "source")


@dataclass(frozen=True)
class Measurement:
    """One row of config/throughput.csv: a training loop measured by benchmarks/gpu_check.py."""

    date: str  # ISO date of the run
    gpu: str  # config plan.gpu_kinds name
    family: str  # causal | seq2seq | lora | encoder (ftrepro.layout.Training.family)
    layout: str  # ftrepro.layout.Layout.kind, or "bare" for the bare PyTorch baseline
    gpus: int  # GPUs the loop ran on
    model: str  # the stand-in model measured
    tokens_per_s: float
    mfu: float | None  # None where the device's peak FLOP/s is unknown (CPU)
    source: str

    @classmethod
    def from_row(cls, row: dict) -> Measurement:
        return cls(
            **{
                **row,
                "gpus": int(row["gpus"]),
                "tokens_per_s": float(row["tokens_per_s"]),
                "mfu": float(row["mfu"]) if row["mfu"] else None,
            }
        )


class Measurements:
    """The measured table the plan prices training with (`mfu`); a family and layout without a
    row for the GPU kind has no figure (None), never an assumed one."""

    def __init__(self, rows: list[Measurement]):
        self.rows = rows

    @classmethod
    def read(cls, path: str | Path) -> Measurements:
        path = Path(path)
        if not path.exists():
            return cls([])
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        missing = [c for c in THROUGHPUT_COLUMNS if rows and c not in rows[0]]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return cls([Measurement.from_row(row) for row in rows])

    def latest(self, gpu: str, family: str, layout: str) -> Measurement | None:
        """The newest row with an MFU for this GPU kind, family and layout."""
        found = [
            m for m in self.rows if (m.gpu, m.family, m.layout) == (gpu, family, layout) and m.mfu is not None
        ]
        return max(found, key=lambda m: m.date, default=None)


def append_measurements(path: str | Path, rows: list[Measurement]) -> None:
    """Add rows to a throughput table (with its header when new)."""
    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=THROUGHPUT_COLUMNS)
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({**row.__dict__, "mfu": "" if row.mfu is None else f"{row.mfu:.4f}"})
