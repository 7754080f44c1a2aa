"""The memory and cost plan of a preset: every job of the registered papers' job tables that
loads a model, with its parameters, the layout each training job runs in (ftrepro.layout: ZeRO stage, offload, GPUs,
nodes, checkpointing, micro-batch; the runner-up and why), its estimated memory per GPU and its
GPU-hours (ftrepro.costs), in `ftrepro plan` and results/plan.tsv. A GPU job that no layout fits
is an error here, before anything is queued. The workflow reads the same layouts (`training_jobs`):
each training job's SLURM request, DeepSpeed config and launch follow them.

Training GPU-hours come from the throughput measured for the job's family and layout on the
cluster's GPU kind (config plan.throughput); a job without a measurement has none, and its
`basis` says so. The tables hold each job's token counts: the papers' full splits, capped by the
preset, times the assumptions of config `plan.tokens` (results/data/stats.md measures the real ones).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ftrepro import papers
from ftrepro.config import Config
from ftrepro.costs import (
    GB,
    Measurements,
    Zero,
    inference_hours,
    kv_cache_bytes,
    model_states_bytes,
    training_hours,
)
from ftrepro.jobs import Job
from ftrepro.layout import Choice, Layout, LayoutError, Training, choose, recipe_choice
from ftrepro.resources import job_request, job_resources


class PlanError(ValueError):
    """A job whose estimated memory per GPU exceeds what it asks for."""


@dataclass(frozen=True)
class Row:
    paper: str
    job: str
    model: str
    params_b: float
    gpus: int
    nodes: int
    zero: str
    layout: str  # training jobs: ftrepro.layout.Layout (GPU presets), else "-"
    mem_gb_per_gpu: float
    gpu_memory_gb: float
    train_tokens: float
    infer_tokens: float
    gpu_hours: float | None  # None: training unmeasured on this GPU kind (see basis)
    basis: str  # where gpu_hours come from: a measurement (dated), an assumption, or none
    runner_up: str  # training jobs: the runner-up layout and why the chosen one beats it


def plan(config: Config) -> list[Row]:
    """Every model-loading job of the config's preset, sized; PlanError names the first job (and
    both figures) whose memory per GPU exceeds `cluster.gpu_memory_gb`, or that no layout fits."""
    measured = Measurements.read(config.plan.throughput)
    chooser = _chooser(config)
    rows = [size(config, job, chooser, measured) for job in jobs(config)]
    for row in rows:
        if row.gpus and row.mem_gb_per_gpu > row.gpu_memory_gb:
            raise PlanError(
                f"{row.job}: needs an estimated {row.mem_gb_per_gpu:.1f} GB per GPU on {row.gpus} GPU(s), "
                f"over cluster.gpu_memory_gb {row.gpu_memory_gb:g}"
            )
    return rows


@dataclass(frozen=True)
class TrainingJob:
    """A training job as the workflow runs it: its model, its layout (the plan's choice on GPU
    presets, the recipe's on CPU ones) and the SLURM request that follows from it."""

    model: str
    choice: Choice
    resources: dict

    @property
    def layout(self) -> Layout:
        return self.choice.layout


def training_jobs(config: Config, table: Iterable[Job] | None = None) -> dict[str, TrainingJob]:
    """Every training job a rule can make (of `table`, else of the papers' job tables with every
    run of their matrices, papers.jobs(every=True)) by its output: the workflow's SLURM requests,
    DeepSpeed configs, recipes and launches follow its layout. Raises PlanError where no layout
    fits."""
    chooser = _chooser(config)
    return {
        job.output: TrainingJob(job.model, choice, job_request(config, job, choice))
        for job in (papers.jobs(config, every=True) if table is None else table)
        if _trains(config, job)
        for choice in [chooser(job)]
    }


def planned_layouts(config: Config) -> dict[str, list[Layout]]:
    """Per training loop (family of the measured table), the distinct layout kinds (ZeRO stage,
    offload, checkpointing) the preset's training jobs run in: what benchmarks/gpu_check.py
    measures for the measured table."""
    found: dict[str, dict[str, Layout]] = {}
    chooser = _chooser(config)
    for job in jobs(config):
        if _trains(config, job):
            layout = chooser(job).layout
            found.setdefault(job.loop, {}).setdefault(layout.kind, layout)
    return {loop: list(kinds.values()) for loop, kinds in found.items()}


def _trains(config: Config, job: Job) -> bool:
    """Whether a job trains the model it loads (not an API's), in a layout."""
    return job.mode != "inference" and job.model is not None and config.models[job.model].kind != "api"


def training(job: Job) -> Training:
    """What a training job asks of its layout (ftrepro.layout)."""
    micro = job.micro_batch
    return Training(
        family=job.loop,
        mode=job.mode,
        example_tokens=job.micro_tokens // micro,
        effective_batch=job.effective_batch or micro * (job.accumulation or 1),
        micro_batch=micro,
        accumulation=job.accumulation,
        checkpointing=job.checkpointing,
        deepspeed=job.deepspeed,
        target_tokens=job.target_tokens // micro,
        logits=job.logits,
    )


def _chooser(config: Config):
    """job -> its layout Choice, made once per model and Training: the paper preset's 1,081
    jobs have about a dozen."""
    chosen: dict[tuple, Choice] = {}

    def choice(job: Job) -> Choice:
        spec = training(job)
        key = (job.model, spec)
        if key in chosen:
            return chosen[key]
        if not config.gpu:
            chosen[key] = recipe_choice(spec, config.launch.cpu_processes)
            return chosen[key]
        try:
            chosen[key] = choose(config.models[job.model], spec, config.cluster, config.plan.layout_ranking)
        except LayoutError as e:
            raise PlanError(f"{job.output}: {e}") from None
        return chosen[key]

    return choice


def size(config: Config, job: Job, chooser=None, measured: Measurements | None = None) -> Row:
    declared = config.models[job.model]
    kind = config.plan.gpu
    row = {"layout": "-", "runner_up": "-", "zero": "-", "nodes": 1, "gpu_hours": 0.0, "basis": "CPU job"}
    if job.mode == "inference":
        gpus = job_resources(declared.params_b, job.mode, config.cluster, config.gpu)["gpu"]
        memory = 0.0
        if gpus:
            memory = model_states_bytes(declared, "inference", gpus, None)
            memory += kv_cache_bytes(declared, job.kv_tokens, gpus)
            mfu = kind["mfu"]["inference"]
            hours = inference_hours(declared, job.infer_tokens, kind["peak_tflops"], mfu)
            row |= {"gpu_hours": round(hours, 2), "basis": f"generation at an assumed MFU of {mfu:.0%}"}
    elif not config.gpu:  # the recipe's layout, in processes of the job's CPUs
        gpus, memory = 0, 0.0
    else:
        choice = (chooser or _chooser(config))(job)
        layout, gpus, memory = choice.layout, choice.layout.gpus, choice.chosen.gpu_bytes
        zero = Zero(layout.zero, layout.offload) if layout.zero else None
        row |= {"layout": str(layout), "runner_up": choice.reason, "zero": str(zero) if zero else "-"}
        row |= {"nodes": layout.nodes, **_training_hours(config, job, layout.kind, measured)}
    return Row(
        paper=job.paper,
        job=job.output,
        model=job.model,
        params_b=declared.params_b,
        gpus=gpus,
        mem_gb_per_gpu=round(memory / GB, 1),
        gpu_memory_gb=config.cluster["gpu_memory_gb"],
        train_tokens=job.train_tokens,
        infer_tokens=job.infer_tokens,
        **row,
    )


def _training_hours(config: Config, job: Job, layout: str, measured: Measurements | None) -> dict:
    """gpu_hours and basis of a training job: its loop and layout's measured MFU on the cluster's
    GPU kind (with prediction at the assumed generation MFU), or none."""
    declared, kind, name = config.models[job.model], config.plan.gpu, config.plan.gpu_kind
    found = (measured or Measurements.read(config.plan.throughput)).latest(name, job.loop, layout)
    if found is None:
        return {"gpu_hours": None, "basis": f"unmeasured: no {job.loop} {layout} row for {name}"}
    hours = training_hours(declared, job.mode, job.train_tokens, kind["peak_tflops"], found.mfu)
    hours += inference_hours(declared, job.infer_tokens, kind["peak_tflops"], kind["mfu"]["inference"])
    basis = f"measured {found.date}: {job.loop} {layout} at {found.mfu:.1%} MFU on {found.gpus} GPU(s)"
    return {"gpu_hours": round(hours, 2), "basis": basis + ", generation assumed"}


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
    """Per paper: jobs, GPU jobs, GPU-hours of the jobs that have a figure, the GPU jobs that have
    none (training unmeasured on this GPU kind) and the largest memory per GPU; then the total."""
    lines = [
        "| paper | jobs | GPU jobs | GPU-hours | GPU jobs unmeasured | max GB per GPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for paper in dict.fromkeys(r.paper for r in rows):
        mine = [r for r in rows if r.paper == paper]
        lines.append(_summary_line(paper, mine))
    lines.append(_summary_line("all", rows))
    return "\n".join(lines)


def _summary_line(name: str, rows: list[Row]) -> str:
    gpu_rows = [r for r in rows if r.gpus]
    peak = max((r.mem_gb_per_gpu for r in gpu_rows), default=0.0)
    hours = sum(r.gpu_hours for r in rows if r.gpu_hours is not None)
    unmeasured = sum(r.gpu_hours is None for r in gpu_rows)
    return f"| {name} | {len(rows)} | {len(gpu_rows)} | {hours:,.0f} | {unmeasured} | {peak:.1f} |"


def layouts_summary(rows: list[Row]) -> str:
    """Each distinct training layout of the plan once: the jobs that run in it, the runner-up and
    why, and where their GPU-hours come from."""
    lines = [
        "| jobs | model | GPUs | layout | GB per GPU | runner-up and why | GPU-hours from |",
        "|---|---|---:|---|---:|---|---|",
    ]
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        if row.layout != "-":
            groups.setdefault(
                (row.paper, row.model, row.layout, row.runner_up, row.basis, row.mem_gb_per_gpu, row.gpus), []
            ).append(row)
    for (paper, model, layout, runner_up, basis, memory, gpus), members in groups.items():
        lines.append(
            f"| {len(members)} {paper} | {model} | {gpus} | {layout} | {memory:.1f} | {runner_up} | {basis} |"
        )
    return "\n".join(lines)
