"""SLURM resources follow the model's size; nothing that splits a multi-GPU job."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ftrepro.resources import CPU_JOB, gpus_needed, job_resources

CLUSTER = {"gpus_per_node": 8, "gpu_memory_gb": 80, "host_memory_gb_per_gpu": 60, "cpus_per_gpu": 12}


@pytest.mark.parametrize(
    "params_b, mode, gpus",
    [
        (70.6, "full", 8),  # a 70B full fine-tune takes the whole node
        (69.0, "full", 8),
        (8.03, "full", 4),
        (6.74, "full", 2),
        (2.85, "full", 1),  # T5-3B (ZeRO-2 with optimizer offload)
        (0.355, "full", 1),  # RoBERTa-large
        (8.03, "lora", 1),
        (70.6, "inference", 4),
        (8.03, "inference", 1),
    ],
)
def test_gpu_count_from_model_size(params_b, mode, gpus):
    assert gpus_needed(params_b, mode, 80, 8) == gpus


def test_smaller_gpus_need_more_of_them():
    assert gpus_needed(8.03, "full", 40, 8) == 8
    assert gpus_needed(0.125, "full", 16, 8) == 1


def test_gpu_job_scales_host_memory_and_cpus_and_never_sets_tasks():
    res = job_resources(70.6, "full", CLUSTER, use_gpu=True)
    assert res == {"gpu": 8, "mem_mb": 480000, "runtime": 72 * 60, "cpus_per_task": 96}
    assert not {"tasks", "tasks_per_gpu", "cpus_per_gpu"} & set(res)


def test_cpu_presets_and_api_models_ask_for_no_gpu():
    assert job_resources(70.6, "full", CLUSTER, use_gpu=False) == CPU_JOB
    assert job_resources(None, "inference", CLUSTER, use_gpu=True)["gpu"] == 0


# --- training jobs: the request of their layout (ftrepro.layout) ---------------------------------


def test_a_training_job_asks_for_its_layouts_gpus_and_the_host_memory_its_optimizer_needs():
    from conftest import REPO

    from ftrepro import config as cfg
    from ftrepro.plan import training_jobs

    paper = cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})
    jobs = training_jobs(paper)
    t5 = jobs["resources/paper/models/gupta2023/prefinetuned"].resources
    assert t5 == {"mem_mb": 60000, "runtime": 24 * 60, "cpus_per_task": 12, "gpu": 1, "nodes": 1}
    offload = jobs["results/paper/zhao2025/massive-intent.llama3-70b.five-shot.ft/predictions.jsonl"]
    # DeepSpeed's host estimate for the 70B optimizer states, far above 8 GPUs' share of 60 GB
    assert offload.resources["gpu"] == 8 and offload.resources["mem_mb"] > 8 * 60000
    assert offload.resources["mem_mb"] == pytest.approx(offload.choice.chosen.host_bytes / 1e6, rel=1e-3)


def test_a_job_over_several_nodes_asks_for_them_as_an_mpi_job_with_one_task_per_node():
    """The slurm plugin then leaves the job unwrapped (the launch calls srun itself), --gres gives
    the GPUs per node, and tasks_per_gpu 0 keeps `tasks` from becoming --ntasks-per-gpu."""
    from conftest import REPO

    from ftrepro import config as cfg
    from ftrepro.layout import Training, choose
    from ftrepro.resources import layout_job

    small = {"gpus_per_node": 2, "gpu_memory_gb": 24}
    paper = cfg.load(REPO / "config" / "config.yaml", {"preset": "paper", "cluster": small})
    spec = Training(
        "seq2seq", "full", 1152, 16, 1, deepspeed="config/deepspeed/zero2.json", target_tokens=128
    )
    choice = choose(paper.models["t5-3b"], spec, paper.cluster, paper.plan.layout_ranking)
    request = layout_job(paper, "t5-3b", "full", choice)
    assert {k: request[k] for k in ("gres", "nodes", "mpi", "tasks", "tasks_per_gpu", "cpus_per_task")} == {
        "gres": "gpu:2",
        "nodes": 2,
        "mpi": "srun",
        "tasks": 2,
        "tasks_per_gpu": 0,
        "cpus_per_task": 24,
    }
    assert "gpu" not in request  # gres and gpu exclude each other in the plugin


def test_rule_resources_are_constants_where_jobs_agree_and_per_job_where_they_differ():
    from ftrepro.resources import per_job

    sizes = {
        "results/p/a.x/predictions.jsonl": {"gpu": 1, "mem_mb": 1},
        "results/p/b.x/predictions.jsonl": {"gpu": 1, "mem_mb": 2, "mpi": "srun"},
    }  # a rule's jobs (common.smk job_resources: the table's jobs of that rule only)

    def key_of(wildcards):
        return "results/p/{name}.x/predictions.jsonl".format(**dict(wildcards.items()))

    resources = {
        name: per_job({key: size.get(name) for key, size in sizes.items()}, key_of)
        for name in ("gpu", "mem_mb", "mpi")
    }
    assert resources["gpu"] == 1  # a constant where every job agrees
    wildcards = SimpleNamespace(items=lambda: {"name": "a"}.items())
    assert resources["mem_mb"](wildcards) == 1 and resources["mpi"](wildcards) is None  # dropped by snakemake
    elsewhere = SimpleNamespace(items=lambda: {"name": "z"}.items())
    with pytest.raises(ValueError, match="no planned job writes results/p/z.x/predictions.jsonl"):
        resources["mem_mb"](elsewhere)


def test_a_rules_resources_come_from_its_own_jobs_in_the_table_each_in_its_layout():
    """common.smk job_resources: the table's jobs of one rule, each by its layout's request."""
    from conftest import REPO

    from ftrepro import config as cfg
    from ftrepro import papers
    from ftrepro.papers.gupta2023 import jobs as gupta
    from ftrepro.papers.zhao2025 import jobs as zhao
    from ftrepro.plan import training_jobs
    from ftrepro.resources import rule_resources

    paper = cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})
    laid_out = training_jobs(paper)
    choices = {output: job.choice for output, job in laid_out.items()}
    table = {job.output: job for job in papers.jobs(paper)}

    def resources(rule):
        jobs = {output: job for output, job in table.items() if job.rule == rule.name}
        # the job's key as common.smk's job_key finds it: the preset's among the wildcards
        return rule_resources(
            paper, jobs, lambda wc: rule.output_at({"preset": "paper", **dict(wc.items())}), choices
        )

    stl = resources(gupta.STL)
    assert stl["gpu"] == 1 and stl["nodes"] == 1  # 952 jobs agree: constants, not 952 lookups
    assert "mpi" not in stl  # no job of the rule spans nodes
    decoder = resources(zhao.DECODER)
    wildcards = {"task": "massive-intent", "decoder": "llama3-70b", "shots": "five-shot"}
    job = SimpleNamespace(items=lambda: wildcards.items())
    assert callable(decoder["mem_mb"])  # the 7-8B and 70B fine-tunes differ
    output = zhao.DECODER.output_at({"preset": "paper", **wildcards})
    assert decoder["mem_mb"](job) == laid_out[output].resources["mem_mb"] > 8 * 60000
