# The config resolved once (ftrepro.config.Config), wildcards, paths, input functions and
# resources. Everything here runs at parse time, and every SLURM job re-parses the workflow:
# keep it cheap (no torch, no data reads beyond the 119-line SuperNI task list).
import re
from dataclasses import asdict

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.data import DATASETS
from ftrepro.io import redact_urls
from ftrepro.papers import registry
from ftrepro.papers.band2025.runs import BandRun
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.gupta2023.runs import ANCHORS, GuptaRun
from ftrepro.papers.zhao2025 import runs as zhao_runs
from ftrepro.papers.zhao2025.runs import BASELINES, ZhaoRun
from ftrepro.plan import training_jobs
from ftrepro.resources import (
    by_output,
    output_resources,
    placement,
    prediction_processes,
    rule_resources,
)

# nested --config values arrive as strings: typed again, then checked, naming the key and its source
ftconfig.apply_overrides(config, workflow.config_settings.config_args)
ftconfig.validate_config(
    config,
    workflow.config_settings.config_args,
    workflow.config_settings.configfiles,
    schema=f"{workflow.current_basedir}/../schemas/config.schema.yaml",
)
# a --config value beneath a preset (training) wins over the preset's
ftconfig.over_preset(
    config, ftconfig.override_pairs(workflow.config_settings.config_args)
)
CFG = ftconfig.resolve(config)
Z, G, B = CFG.zhao2025, CFG.gupta2023, CFG.band2025
# API runs are targets only while the key is set (config api.key_env); else "not run" in tables
API_KEY_SET = papers.api_key_set(CFG)
# the api settings as rules pass them: snakemake stores params in .snakemake/metadata, so the
# base URL goes without its user:password (jobs take it back from the config: workflow.api_settings)
API_PARAMS = {**CFG.api, "base_url": redact_urls(CFG.api["base_url"])}


def one_of(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    dataset=one_of(DATASETS),
    model=one_of(CFG.models),
    task=one_of(Z.tasks),
    encoder=one_of(Z.encoders),
    decoder=one_of(Z.decoders),
    api_model=one_of(Z.api_models),
    shots=one_of(Z.shots),
    superni_task=one_of(G.test_tasks),
    setting=one_of(G.settings),
    method=one_of(ANCHORS),
    band_encoder=one_of(B.encoders),
    architecture=one_of(B.architectures),
    variant=one_of(B.variants),
    llm=re.escape(B.llm),
    paper=one_of(papers.PAPERS),
    run=r"[^/]+",


# ---------------------------------------------------------------- runs

# The rules' run directories, from the run classes (the name grammar lives there only)
ZHAO_ENCODER = ZhaoRun("{task}", "{encoder}").name
ZHAO_DECODER = {
    mode: ZhaoRun("{task}", "{decoder}", "{shots}", mode).name
    for mode in ("ft", "noft")
}
ZHAO_API = ZhaoRun("{task}", "{api_model}", "{shots}", "noft").name
ZHAO_BASELINE = {
    method: zhao_runs.baseline_run("{dataset}", method) for method in BASELINES
}
GUPTA_STL = GuptaRun("stl", "{setting}", "{superni_task}").name
GUPTA_MTL = GuptaRun("mtl", "{setting}").name
GUPTA_ANCHOR = GuptaRun("anchor", "{method}").name
BAND_ENCODER = BandRun("{band_encoder}", "{architecture}", "{variant}").name
BAND_LORA = BandRun("{llm}").name


def predictions(paper, run):
    return f"results/{paper}/{run}/predictions.jsonl"


def competition_predictions(run):
    """A band2025 run's predictions of the competition's test rows (empty without its test.csv)."""
    return f"results/band2025/{run}/competition_predictions.jsonl"


def results(paper, runs, name):
    return [f"results/{paper}/{run}/{name}" for run in runs]


def run_log(paper, stage, run, ext="log"):
    """logs/<paper>/<stage>/<run>.log, or its benchmark with ext="benchmark.tsv"."""
    return f"logs/{paper}/{stage}/{run}.{ext}"


def work_dir(paper, run):
    """Where a job trains: not a declared output, so a killed job's checkpoints survive."""
    return f"resources/scratch/{paper}/{run}"


def keep_dir(paper, run):
    """Where a trained model stays, with keep_checkpoints only (None: weights are scratch)."""
    return f"resources/models/{paper}/{run}" if CFG.keep_checkpoints else None


# ---------------------------------------------------------------- data and models


def base_model(name):
    return f"resources/models/base/{name}"


def pinned_rows(dataset):
    """The rows of a dataset's pinned release (data.hub.<dataset>.rows), which derive checks a
    real raw file against; None for synthetic data."""
    if CFG.data.source == "synthetic":
        return None
    return CFG.data.hub.get(dataset, {}).get("rows")


def derived(dataset, split):
    return f"resources/derived/{dataset}/{split}.jsonl"


def labels(dataset):
    return f"resources/derived/{dataset}/labels.json"


def zhao_data(wildcards):
    """The train and test splits and labels of a zhao2025 task's dataset."""
    dataset = Z.tasks[wildcards.task].dataset
    return {
        "train": derived(dataset, "train"),
        "test": derived(dataset, "test"),
        "labels": labels(dataset),
    }


def zhao_encoder_data(wildcards):
    """zhao_data, and the dev split where the encoder recipe scores one each epoch."""
    dev = zhao_runs.encoder_dev_split(CFG, wildcards.task)
    dataset = Z.tasks[wildcards.task].dataset
    return {**zhao_data(wildcards), **({"dev": derived(dataset, "dev")} if dev else {})}


def baseline_data(wildcards):
    """The train and test splits of a dataset, which a zhao2025 baseline trains and predicts."""
    return {split: derived(wildcards.dataset, split) for split in ("train", "test")}


def newsgroups_splits():
    """The derived splits of 20 Newsgroups: train and test, and dev where the preset holds
    train rows out as one (data.held_out_dev)."""
    held_out = "20newsgroups" in CFG.data.held_out_dev
    splits = ["train", "test"] + (["dev"] if held_out else [])
    return {split: derived("20newsgroups", split) for split in splits}


def gupta_start(wildcards):
    """Baselines that start from the pre-finetuned T5 take it; the rest the base model."""
    setting = G.settings[wildcards.setting]
    if setting["init"] == "prefinetuned":
        return "resources/models/gupta2023/prefinetuned"
    return base_model(setting["model"])


def band_start(wildcards):
    """llm-augmented runs start from the encoder pre-finetuned on the LLM annotations."""
    if wildcards.variant == "llm-augmented":
        return f"resources/models/band2025/{wildcards.band_encoder}.prefinetuned"
    return base_model(wildcards.band_encoder)


# ---------------------------------------------------------------- resources

# wildcard -> {value: model name}: which model a job loads, read off its wildcards
MODEL_OF = {
    "encoder": {m: m for m in Z.encoders},
    "decoder": {m: m for m in Z.decoders},
    "setting": {name: s["model"] for name, s in G.settings.items()},
    "band_encoder": {m: m for m in B.encoders},
    "llm": {B.llm: B.llm},
}
# jobs without a model: the cluster's default size, on the CPU partition where one is set
CPU_RESOURCES = placement(CFG, gpu=False)


def predict_processes(wildcard):
    """The processes of a job's prediction, by the model its `wildcard` names (rows split
    between the GPUs when the model fits one; ftrepro.resources.prediction_processes).
    """
    models = MODEL_OF[wildcard]
    return lambda wildcards, resources: prediction_processes(
        CFG, models[wildcards[wildcard]], resources.gpu
    )


# Every training job by its output: the layout it runs in (ftrepro.layout: chosen by the plan on
# GPU presets, the recipe's on CPU ones) and the SLURM request of that layout
TRAINING = training_jobs(CFG)


def trained(output):
    """Resources of the training jobs that write `output` (a pattern), each its layout's
    (constants where they agree).
    """
    return output_resources(
        output, {path: job.resources for path, job in TRAINING.items()}
    )


def laid_out(output, recipe):
    """A training job's recipe (a dict, or a function of the wildcards) with its layout's
    micro-batch, gradient accumulation and checkpointing.
    """
    if callable(recipe):
        return lambda wc: TRAINING[output.format(**dict(wc.items()))].layout.recipe(
            recipe(wc)
        )
    return by_output(output, TRAINING, lambda job: job.layout.recipe(recipe))


def layout_deepspeed(output):
    """The DeepSpeed config of a training job's layout (None: none)."""
    return by_output(output, TRAINING, lambda job: job.layout.deepspeed)


def layout_processes(output):
    """A training job's processes per node (ftrepro.train.launch): one per GPU of its layout;
    CPU presets launch.cpu_processes.
    """
    return by_output(output, TRAINING, lambda job: job.layout.processes)


def layout_predict_processes(output):
    """The processes of a training job's prediction on its first node: one per GPU when the
    model's inference fits one (ftrepro.resources.prediction_processes).
    """
    return by_output(
        output,
        TRAINING,
        lambda job: prediction_processes(
            CFG, job.model, job.layout.processes if CFG.gpu else 0
        ),
    )


def sized(mode, wildcard=None, model=None):
    """Resources of a job that loads `model`, or the model its `wildcard` names, in `mode`
    (full | lora | inference); ftrepro.resources says how size becomes GPUs and memory.
    """
    models = MODEL_OF[wildcard] if wildcard else {model: model}
    return rule_resources(CFG, mode, models, wildcard)
