"""SLURM resources of a job, derived from the size of the model it loads.

GPU memory per parameter, with bf16 weights:
  full fine-tuning with AdamW  ~18 bytes (bf16 weights and grads, fp32 master copy, two fp32
                               Adam moments), which DeepSpeed ZeRO shards across the GPUs;
  LoRA                         ~2.5 bytes (frozen bf16 weights, small adapters and their states);
  inference                    ~2.4 bytes (bf16 weights plus KV cache and batch margin).
A further 25% covers activations (with gradient checkpointing). The GPU count is that need
over one GPU's memory, rounded up to a power of two and capped at one node. That sizes inference
jobs; a training job asks for the GPUs, nodes and host memory of its layout (ftrepro.layout,
chosen by the plan: `layout_job`), one torchrun per node. Host memory and CPUs follow the GPU
count. Without a GPU accelerator (tiny, mini) every job is a small CPU job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ftrepro.config import Config
from ftrepro.costs import GB
from ftrepro.jobs import Job
from ftrepro.layout import Choice

T = TypeVar("T")
BYTES_PER_PARAM = {"full": 18.0, "lora": 2.5, "inference": 2.4}
ACTIVATION_MARGIN = 1.25

# Wall-clock limits (minutes) at paper scale, by mode and size; generous because a job that
# hits its limit resumes from its last checkpoint on retry anyway.
RUNTIME_MIN = {
    ("full", "small"): 12 * 60,  # < 1B: encoders, 10-20 epochs
    ("full", "medium"): 24 * 60,  # 1-10B: T5-3B, Llama 7-8B (4,000 steps)
    ("full", "large"): 72 * 60,  # 70B: 8,000 steps took the paper up to 3 days
    ("lora", "small"): 12 * 60,
    ("lora", "medium"): 24 * 60,
    ("lora", "large"): 48 * 60,
    ("inference", "small"): 2 * 60,
    ("inference", "medium"): 6 * 60,
    ("inference", "large"): 12 * 60,
}
CPU_JOB = {"gpu": 0, "mem_mb": 8000, "runtime": 6 * 60, "cpus_per_task": 2}


def size_class(params_b: float) -> str:
    return "small" if params_b < 1 else "medium" if params_b < 20 else "large"


def gpus_needed(params_b: float, mode: str, gpu_memory_gb: float, gpus_per_node: int) -> int:
    need_gb = params_b * BYTES_PER_PARAM[mode] * ACTIVATION_MARGIN
    count = max(1, math.ceil(need_gb / gpu_memory_gb))
    return min(2 ** math.ceil(math.log2(count)), gpus_per_node)


def job_resources(params_b: float | None, mode: str, cluster: dict, use_gpu: bool) -> dict:
    """sbatch-ready resources: gpu, mem_mb, runtime, cpus_per_task.

    Always cpus_per_task, never cpus_per_gpu (the plugin lets a cpus_per_task from anywhere win
    over cpus_per_gpu), and never `tasks` (it would become --ntasks-per-gpu and split a
    multi-GPU job into single-GPU copies; docs/slurm.md): multi-GPU jobs launch
    torchrun themselves inside the one allocation.
    """
    if not use_gpu or params_b is None:
        return dict(CPU_JOB)
    gpus = gpus_needed(params_b, mode, cluster["gpu_memory_gb"], cluster["gpus_per_node"])
    return {
        "gpu": gpus,
        "mem_mb": int(gpus * cluster["host_memory_gb_per_gpu"] * 1000),
        "runtime": RUNTIME_MIN[(mode, size_class(params_b))],
        "cpus_per_task": gpus * cluster["cpus_per_gpu"],
    }


def prediction_processes(config: Config, model: str, gpus: int) -> int:
    """Processes of a job's prediction (ftrepro.train.launch.predict_on_job_gpus) on its `gpus`:
    one per GPU, each on a contiguous shard of the rows, when the model's inference fits one GPU
    (a 7-8B decoder after its 4-GPU fine-tune); else one process with the model spread over the
    GPUs (a 70B one; ftrepro.infer.loading.placement). CPU presets: launch.cpu_processes."""
    if not gpus:
        return config.launch.cpu_processes
    params_b = config.models[model].params_b
    cluster = config.cluster
    fits_one = gpus_needed(params_b, "inference", cluster["gpu_memory_gb"], cluster["gpus_per_node"]) == 1
    return gpus if fits_one else 1


def placement(config: Config, gpu: bool) -> dict:
    """The sbatch partition and account of config `cluster`, where set (else the cluster's default)."""
    where = {
        "slurm_partition": config.cluster["gpu_partition" if gpu else "cpu_partition"],
        "slurm_account": config.cluster["account"],
    }
    return {key: value for key, value in where.items() if value}


def slurm_job(config: Config, model: str, mode: str) -> dict:
    """The resources of one job that loads `model` in `mode` (job_resources), placed."""
    res = job_resources(config.models[model].params_b, mode, config.cluster, config.gpu)
    return {**res, "nodes": 1, **placement(config, res["gpu"] > 0)}


def layout_job(config: Config, model: str, mode: str, choice: Choice) -> dict:
    """The resources of a training job in the layout the plan chose (GPU presets): its GPUs per
    node, and host memory of at least that many GPUs' share or what its layout needs there (an
    offloaded optimizer). A job over several nodes asks for them as SLURM's `mpi` jobs do (the
    job calls srun itself, ftrepro.train.launch: one torchrun per node), its GPUs per node as a
    gres and one task per node; `tasks_per_gpu` 0 keeps `tasks` from becoming --ntasks-per-gpu."""
    if not config.gpu:
        return slurm_job(config, model, mode)
    layout, cluster = choice.layout, config.cluster
    host_gb = max(layout.processes * cluster["host_memory_gb_per_gpu"], choice.chosen.host_bytes / GB)
    request = {
        "mem_mb": math.ceil(host_gb) * 1000,
        "runtime": RUNTIME_MIN[(mode, size_class(config.models[model].params_b))],
        "cpus_per_task": layout.processes * cluster["cpus_per_gpu"],
    }
    if layout.nodes == 1:
        request |= {"gpu": layout.processes, "nodes": 1}
    else:
        nodes = layout.nodes
        request |= {
            "gres": f"gpu:{layout.processes}",
            "nodes": nodes,
            "mpi": "srun",
            "tasks": nodes,
            "tasks_per_gpu": 0,
        }
    return {**request, **placement(config, True)}


def job_request(config: Config, job: Job, choice: Choice | None = None) -> dict:
    """The resources of one job of a paper's table: a training job's in the layout the plan chose
    for it (`choice`, ftrepro.plan.training_jobs: `layout_job`), else those of the model it loads
    in its mode (`slurm_job`), or a CPU job's placement where it loads none."""
    if choice is not None:
        return layout_job(config, job.model, job.mode, choice)
    return slurm_job(config, job.model, job.mode) if job.model else placement(config, gpu=False)


def rule_resources(
    config: Config,
    jobs: Mapping[str, Job],
    key_of: Callable[[Any], str],
    choices: Mapping[str, Choice] | None = None,
) -> dict:
    """Snakemake resources of a rule whose jobs are `jobs` ({key: job}; `key_of(wildcards)` finds a
    job's key), each job's by `job_request`, in its layout where `choices` ({key: the plan's
    Choice}) has one. Each is `per_job`; a key some of the rule's jobs lack is None for them,
    which snakemake drops (a single-node job has no `mpi`)."""
    sizes = {key: job_request(config, job, (choices or {}).get(key)) for key, job in jobs.items()}
    names = dict.fromkeys(name for size in sizes.values() for name in size)
    resources = {
        name: per_job({key: size.get(name) for key, size in sizes.items()}, key_of) for name in names
    }
    return {name: value for name, value in resources.items() if value is not None}


def per_job(values: Mapping[str, T], key_of: Callable[[Any], str]) -> T | Callable[[Any], T]:
    """What a rule gives snakemake for a value of its jobs ({job's key: value}; `key_of(wildcards)`
    finds a job's key): a constant where every job agrees, else a function of the wildcards.
    Snakemake evaluates each callable once per job, which is what a dry-run of thousands of jobs
    spends its time on."""
    found = list(values.values())
    if found and all(value == found[0] for value in found):
        return found[0]

    def of_job(wildcards) -> T:
        key = key_of(wildcards)
        if key not in values:
            raise ValueError(f"no planned job writes {key}")
        return values[key]

    return of_job
