# The config resolved once (ftrepro.config.Config), the job table of every paper config `papers`
# registers (ftrepro.papers.jobs), and what the rules read from it: targets, input functions,
# wildcard constraints and resources. Everything here runs at parse time, and every SLURM job
# re-parses the workflow: keep it cheap (no torch, no data reads beyond the 119-line SuperNI task
# list).
import re

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.data import DATASETS
from ftrepro.jobs import base_model, derived, derived_data, labels, raw_data
from ftrepro.provenance import config_hash
from ftrepro.resources import placement, prediction_processes, rule_resources

# nested --config values arrive as strings: typed again, then checked, naming the key and its source
ftconfig.apply_overrides(config, workflow.config_settings.config_args)
ftconfig.validate_config(
    config,
    workflow.config_settings.config_args,
    workflow.config_settings.configfiles,
    schema=f"{workflow.current_basedir}/../schemas/config.schema.yaml",
)
CFG = ftconfig.resolve(config)
PAPERS = papers.registered(CFG)
# API runs are targets only while the key is set (config api.key_env); else "not run" in tables
API_KEY_SET = papers.api_key_set(CFG)
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
# each paper's runs (its tables' rows) and {run: the run whose model it shares}
RUNS = {paper: papers.runs(CFG, paper, with_api=API_KEY_SET) for paper in PAPERS}
SHARED = {paper: papers.shared_runs(CFG, paper) for paper in PAPERS}


def one_of(names):
    return "|".join(re.escape(n) for n in names)


# the shared rules' wildcards; the papers' take the values of their jobs in the table
WILDCARDS = {
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
    return lambda wildcards: rule.output_at(dict(wildcards.items()))


def job_inputs(rule):
    """The input function of `rule`: its job's inputs in the table."""
    key = job_key(rule)
    return lambda wildcards: JOB_AT[key(wildcards)].inputs


def job_resources(rule):
    """Resources of `rule`'s jobs, by the model each loads in its mode (ftrepro.resources)."""
    jobs = {output: job for output, job in JOB_AT.items() if job.rule == rule.name}
    return rule_resources(CFG, jobs, job_key(rule))


def job_threads(rule):
    return job_resources(rule).get("cpus_per_task", 1)


def processes(wildcards, resources):
    """A job's processes (ftrepro.train.launch): one per GPU; CPU presets launch.cpu_processes."""
    return CFG.processes(resources.gpu)


def predict_processes(rule):
    """The processes of a job's prediction, by the model its job loads (rows split between the
    GPUs when the model fits one; ftrepro.resources.prediction_processes)."""
    key = job_key(rule)
    return lambda wildcards, resources: prediction_processes(
        CFG, JOB_AT[key(wildcards)].model, resources.gpu
    )


def keep_dir(rule):
    """Where a trained model stays, with keep_checkpoints only (None: weights are scratch)."""
    return rule.model_dir if CFG.keep_checkpoints else None


def newsgroups_splits():
    """The derived splits of 20 Newsgroups: train and test, and dev where the preset holds
    train rows out as one (data.held_out_dev)."""
    held_out = "20newsgroups" in CFG.data.held_out_dev
    splits = ["train", "test"] + (["dev"] if held_out else [])
    return {split: derived("20newsgroups", split) for split in splits}


# jobs without a model: the cluster's default size, on the CPU partition where one is set
CPU_RESOURCES = placement(CFG, gpu=False)
