# Validation, the matrix as targets, input functions and resources.
# Everything here runs at parse time, and every SLURM job re-parses the workflow: keep it cheap
# (no torch, no data reads beyond the 119-line SuperNI task list).
import functools
import re
from pathlib import Path

from snakemake.utils import validate

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.papers.band2025 import runs as band_runs
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.data import DATASETS
from ftrepro.resources import job_resources

validate(config, "../schemas/config.schema.yaml")
ftconfig.check_references(config)

Z = config["zhao2025"]
G = config["gupta2023"]
B = config["band2025"]
# API runs are targets only while the key is set (config api.key_env); else "not run" in tables
API_KEY_SET = papers.api_key_set(config)
SUPERNI_TASKS = gupta_runs.test_tasks(config)


def one_of(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    dataset=one_of(DATASETS),
    model=one_of(config["models"]),
    task=one_of(Z["tasks"]),
    encoder=one_of(Z["encoders"]),
    decoder=one_of(Z["decoders"]),
    api_model=one_of(Z["api_models"]),
    shots=one_of(Z["shots"]),
    mode="ft|noft",
    superni_task=one_of(SUPERNI_TASKS),
    setting=one_of(G["settings"]),
    band_encoder=one_of(B["encoders"]),
    architecture=one_of(B["architectures"]),
    variant=one_of(B["variants"]),
    llm=re.escape(B["llm"]),
    paper=one_of(papers.PAPERS),
    run=r"[^/]+",


# ---------------------------------------------------------------- paths


def base_model(name):
    return f"resources/models/base/{name}"


def derived(dataset, split):
    return f"resources/derived/{dataset}/{split}.jsonl"


def labels(dataset):
    return f"resources/derived/{dataset}/labels.json"


def zhao_dataset(wildcards):
    return Z["tasks"][wildcards.task]["dataset"]


def results(paper, runs, name):
    return [f"results/{paper}/{run}/{name}" for run in runs]


# ---------------------------------------------------------------- resources


@functools.cache
def _sized(model, mode):
    res = job_resources(
        config["models"][model].get("params_b"),
        mode,
        config["cluster"],
        ftconfig.uses_gpu(config),
    )
    partition = config["cluster"]["gpu_partition" if res["gpu"] else "cpu_partition"]
    return {
        **res,
        "slurm_partition": partition or "",
        "slurm_account": ACCOUNT,
        "nodes": 1,
    }


# wildcard -> {value: model name}: which model a job loads, read off its wildcards
MODEL_OF = {
    "encoder": {m: m for m in Z["encoders"]},
    "decoder": {m: m for m in Z["decoders"]},
    "setting": {name: s["model"] for name, s in G["settings"].items()},
    "band_encoder": {m: m for m in B["encoders"]},
    "llm": {B["llm"]: B["llm"]},
}
RESOURCE_KEYS = (
    "gpu",
    "mem_mb",
    "runtime",
    "cpus_per_task",
    "slurm_partition",
    "slurm_account",
    "nodes",
)


def sized_resources(mode, wildcard=None, model=None):
    """Resources of a job that loads `model`, or the model its `wildcard` names, in `mode`
    (full | lora | inference); ftrepro.resources says how size becomes GPUs and memory.
    """
    return {key: _per_job(mode, wildcard, model, key) for key in RESOURCE_KEYS}


def sized_threads(mode, wildcard=None, model=None):
    return _per_job(mode, wildcard, model, "cpus_per_task")


def _per_job(mode, wildcard, model, key):
    """A constant when every model the rule can load agrees (per-job callables are what a
    dry-run of thousands of jobs spends its time on), else a function of the wildcards.
    """
    models = MODEL_OF[wildcard] if wildcard else {model: model}
    values = {_sized(m, mode)[key] for m in models.values()}
    if len(values) == 1:
        return values.pop()
    return lambda wc: _sized(models[wc[wildcard]], mode)[key]


# "" leaves the flag out of sbatch (the cluster's default partition / account)
ACCOUNT = config["cluster"]["account"] or ""
CPU_RESOURCES = {
    "slurm_partition": config["cluster"]["cpu_partition"] or "",
    "slurm_account": ACCOUNT,
}
