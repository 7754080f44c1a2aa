# The config resolved once (ftrepro.config.Config), the job table of every paper config `papers`
# registers (ftrepro.papers.jobs), and what the rules read from it: targets, input functions,
# wildcard constraints and resources. Everything here runs at parse time, and every SLURM job
# re-parses the workflow: keep it cheap (no torch, no data reads beyond the 119-line SuperNI task
# list).
import re
from pathlib import Path

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.data import DATASETS
from ftrepro.io import redact_urls
from ftrepro.jobs import (
    base_model,
    derived,
    derived_data,
    in_preset,
    labels,
    logs_path,
    made_for,
    raw_data,
    report_file,
    results_path,
)
from ftrepro.papers import deviations
from ftrepro.plan import training_jobs
from ftrepro.provenance import config_hash
from ftrepro.resources import per_job, placement, prediction_processes, rule_resources

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
PAPERS = papers.registered(CFG)


def of_preset(path):
    """A path (or a list) of ftrepro.jobs with this run's preset filled in."""
    return in_preset(path, CFG.preset)


# results/<preset>/data/stats.md: rows, labels and token lengths of every derived dataset
STATS = results_path("data", "stats.md")


def stats_input():
    """{"stats": the data statistics} for the report and `all`; with partial, only once made (they
    need the derived data, which a partial run never makes: a fresh partial report goes without).
    """
    return {"stats": of_preset(STATS)} if made_for(CFG, STATS) else {}


# API runs are targets only while the key is set (config api.key_env); else "not run" in tables
API_KEY_SET = papers.api_key_set(CFG)
# what API answers depend on, as the API rules pass it (their jobs' fingerprint covers it): the
# endpoint, without its user:password since snakemake stores params in .snakemake/metadata, and
# the answer length; jobs take the credentials and the client's settings (concurrency, retries)
# from the config (ftrepro.workflow.api_settings)
API_PARAMS = {
    "base_url": redact_urls(CFG.api["base_url"]),
    "max_tokens": CFG.api["max_tokens"],
}
# The jobs of the DAG; and every job a rule can make when its output is named (runs that share a
# model or need the API key included), by output: what input functions and resources look up
JOBS = papers.jobs(CFG, with_api=API_KEY_SET)
JOB_AT = {job.output: job for job in papers.jobs(CFG, API_KEY_SET, every=True)}
# every paper's targets: the outputs of its report jobs
TARGETS = {
    paper: [
        path
        for job in JOBS
        if job.paper == paper and job.stage == "report"
        for path in job.files
    ]
    for paper in PAPERS
}
# {paper: {family: {run: its train_log.jsonl}}} of the trained runs the tables take: the report's
# loss curves
TRAIN_LOGS = papers.train_logs(CFG, JOBS)
# each paper's runs (its tables' rows) and {run: the run whose model it shares}
RUNS = {paper: papers.runs(CFG, paper, with_api=API_KEY_SET) for paper in PAPERS}
SHARED = {paper: papers.shared_runs(CFG, paper) for paper in PAPERS}
# how each paper's tables judge a cell against the paper's number (ftrepro.report.Verdicts)
VERDICTS = {
    paper: {"basis": papers.verdict_basis(CFG, paper), "tolerance": CFG.stats.tolerance}
    for paper in PAPERS
}
# each paper's deviations from the paper in this preset, under every table ("" for a paper
# without a registry; ftrepro.papers.deviations)
DEVIATIONS = {paper: deviations.section(CFG, paper) for paper in PAPERS}
# Every training job the rules can make, by its output: the layout it runs in (ftrepro.layout:
# chosen by the plan on GPU presets, the recipe's on CPU ones), which its SLURM request, recipe,
# DeepSpeed config and processes follow
LAYOUTS = {out: job.choice for out, job in training_jobs(CFG, JOB_AT.values()).items()}


def one_of(names):
    # grouped: the seed wildcard's only value is "" where no run has several seeds, and an empty
    # constraint would leave Snakemake's default, which matches no empty value
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


# the shared rules' wildcards; the papers' take the values of their jobs in the table
WILDCARDS = {
    # every path's preset directory (ftrepro.jobs.PRESET): this run's preset's only
    "preset": re.escape(CFG.preset),
    "dataset": one_of(DATASETS),
    "model": one_of(CFG.models),
    "paper": one_of(PAPERS),
    "run": r"[^/]+",
}
for name, values in papers.wildcard_values(JOB_AT.values()).items():
    WILDCARDS.setdefault(name, one_of(values))


wildcard_constraints:
    **WILDCARDS,


# ---------------------------------------------------------------- a rule's jobs in the table


def job_key(rule):
    """wildcards -> the output that names the job of `rule` (a paper's ftrepro.jobs.Rule)."""
    return lambda wildcards: rule.output_at({"preset": CFG.preset, **wildcards})


def rule_jobs(rule):
    """{output: job} of every job of `rule` in the table."""
    return {output: job for output, job in JOB_AT.items() if job.rule == rule.name}


def report_job(rule):
    """The one job of a paper's report `rule` (it has no wildcards but the preset)."""
    return JOB_AT[job_key(rule)({})]


def job_inputs(rule):
    """The input function of `rule`: its job's inputs in the table."""
    key = job_key(rule)
    return lambda wildcards: JOB_AT[key(wildcards)].inputs


def job_resources(rule):
    """Resources of `rule`'s jobs: a training job's layout's, else by the model each loads in its
    mode (ftrepro.resources.job_request)."""
    return rule_resources(CFG, rule_jobs(rule), job_key(rule), LAYOUTS)


def job_threads(rule):
    return job_resources(rule).get("cpus_per_task", 1)


def of_layouts(rule, value):
    """`value(job, layout)` of each training job of `rule` (constant where its jobs agree)."""
    found = {
        out: value(job, LAYOUTS[out].layout) for out, job in rule_jobs(rule).items()
    }
    return per_job(found, job_key(rule))


def laid_out(rule, recipe):
    """A training job's recipe (a dict, or a function of the wildcards) with its layout's
    micro-batch, gradient accumulation and checkpointing, and its seed where config seeds sets
    one (ftrepro.jobs.Job.recipe)."""
    if callable(recipe):
        key = job_key(rule)
        return lambda wc: LAYOUTS[key(wc)].layout.recipe(
            JOB_AT[key(wc)].recipe(recipe(wc))
        )
    return of_layouts(rule, lambda job, layout: layout.recipe(job.recipe(recipe)))


def layout_deepspeed(rule):
    """The DeepSpeed config of a training job's layout (None: none)."""
    return of_layouts(rule, lambda job, layout: layout.deepspeed)


def layout_processes(rule):
    """A training job's processes per node (ftrepro.train.launch): one per GPU of its layout;
    CPU presets launch.cpu_processes."""
    return of_layouts(rule, lambda job, layout: layout.processes)


def layout_predict_processes(rule):
    """The processes of a training job's prediction on its first node: one per GPU when the
    model's inference fits one (ftrepro.resources.prediction_processes)."""

    def processes(job, layout):
        return prediction_processes(CFG, job.model, layout.processes if CFG.gpu else 0)

    return of_layouts(rule, processes)


def predict_processes(rule):
    """The processes of a prediction job, by the model its job loads (rows split between the
    GPUs when the model fits one; ftrepro.resources.prediction_processes)."""
    key = job_key(rule)
    return lambda wildcards, resources: prediction_processes(
        CFG, JOB_AT[key(wildcards)].model, resources.gpu
    )


def keep_dir(rule):
    """Where a trained model stays, with keep_checkpoints only (None: weights are scratch)."""
    return rule.model_dir if CFG.keep_checkpoints else None


def pinned_rows(dataset):
    """The rows of a dataset's pinned release (data.hub.<dataset>.rows), which derive checks a
    real raw file against; None for synthetic data."""
    if CFG.data.synthetic:
        return None
    return CFG.data.hub.get(dataset, {}).get("rows")


def newsgroups_splits():
    """The derived splits of 20 Newsgroups: train and test, and dev where the preset holds
    train rows out as one (data.held_out_dev)."""
    held_out = "20newsgroups" in CFG.data.held_out_dev
    splits = ["train", "test"] + (["dev"] if held_out else [])
    return {split: derived("20newsgroups", split) for split in splits}


# jobs without a model: the cluster's default size, on the CPU partition where one is set
CPU_RESOURCES = placement(CFG, gpu=False)
