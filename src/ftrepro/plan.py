"""The memory and cost plan of a preset: every job of the registered papers' job tables that
loads a model, with its parameters, GPUs, ZeRO stage, estimated memory per GPU and GPU-hours
(ftrepro.costs), in `ftrepro plan` and results/plan.tsv. A GPU job whose estimate exceeds
`cluster.gpu_memory_gb` is an error here, before anything is queued.

The tables hold each job's token counts: the papers' full splits, capped by the preset, times
the assumptions of config `plan.tokens` (results/data/stats.md measures the real ones).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from ftrepro import papers
from ftrepro.config import Config
from ftrepro.costs import GB, Zero, activation_bytes, gpu_hours, kv_cache_bytes, model_states_bytes
from ftrepro.jobs import Job
from ftrepro.resources import job_resources


class PlanError(ValueError):
    """A job whose estimated memory per GPU exceeds what it asks for."""


@dataclass(frozen=True)
class Row:
    paper: str
    job: str
    model: str
    params_b: float
    gpus: int
    zero: str
    mem_gb_per_gpu: float
    gpu_memory_gb: float
    train_tokens: float
    infer_tokens: float
    gpu_hours: float


def plan(config: Config) -> list[Row]:
    """Every model-loading job of the config's preset, sized; PlanError names the first job (and
    both figures) whose memory per GPU exceeds `cluster.gpu_memory_gb`."""
    rows = [size(config, work) for work in jobs(config)]
    for row in rows:
        if row.gpus and row.mem_gb_per_gpu > row.gpu_memory_gb:
            raise PlanError(
                f"{row.job}: needs an estimated {row.mem_gb_per_gpu:.1f} GB per GPU on {row.gpus} GPU(s), "
                f"over cluster.gpu_memory_gb {row.gpu_memory_gb:g}"
            )
    return rows


def size(config: Config, work: Job) -> Row:
    declared = config.models[work.model]
    gpus = job_resources(declared.params_b, work.mode, config.cluster, config.gpu)["gpu"]
    zero = Zero.read(work.deepspeed) if work.deepspeed and config.gpu else None
    memory = 0.0
    if gpus:
        states = model_states_bytes(declared, work.mode, gpus, zero)
        if work.mode == "inference":
            memory = states + kv_cache_bytes(declared, work.kv_tokens, gpus)
        else:
            source = work.micro_tokens - work.target_tokens
            memory = states + activation_bytes(
                declared, source, work.checkpointing, work.logits and not work.target_tokens
            )
            if work.target_tokens:  # seq2seq: the decoder stack on the targets, and their logits
                memory += activation_bytes(declared, work.target_tokens, work.checkpointing, True)
    return Row(
        paper=work.paper,
        job=work.output,
        model=work.model,
        params_b=declared.params_b,
        gpus=gpus,
        zero=str(zero) if zero else "-",
        mem_gb_per_gpu=round(memory / GB, 1),
        gpu_memory_gb=config.cluster["gpu_memory_gb"],
        train_tokens=work.train_tokens,
        infer_tokens=work.infer_tokens,
        gpu_hours=round(gpu_hours(declared, work.train_tokens, work.infer_tokens, config.plan.gpu), 2)
        if gpus
        else 0.0,
    )


def jobs(config: Config) -> list[Job]:
    """The jobs of every registered paper's table that load a model (not an API)."""
    return [
        job for job in papers.jobs(config) if job.model is not None and config.models[job.model].kind != "api"
    ]


# --- output ------------------------------------------------------------------------------------


def write_tsv(rows: list[Row], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(Row.__dataclass_fields__), delimiter="\t")
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def summary(rows: list[Row]) -> str:
    """Per paper: jobs, GPU jobs, GPU-hours and the largest memory per GPU; then the total."""
    lines = ["| paper | jobs | GPU jobs | GPU-hours | max GB per GPU |", "|---|---:|---:|---:|---:|"]
    for paper in dict.fromkeys(r.paper for r in rows):
        mine = [r for r in rows if r.paper == paper]
        lines.append(_summary_line(paper, mine))
    lines.append(_summary_line("all", rows))
    return "\n".join(lines)


def _summary_line(name: str, rows: list[Row]) -> str:
    gpu_rows = [r for r in rows if r.gpus]
    peak = max((r.mem_gb_per_gpu for r in gpu_rows), default=0.0)
    hours = sum(r.gpu_hours for r in rows)
    return f"| {name} | {len(rows)} | {len(gpu_rows)} | {hours:,.0f} | {peak:.1f} |"
