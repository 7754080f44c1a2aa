"""SLURM resources follow the model's size; nothing that splits a multi-GPU job."""

from __future__ import annotations

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
    t5 = jobs["resources/models/gupta2023/prefinetuned"].resources
    assert t5 == {"mem_mb": 60000, "runtime": 24 * 60, "cpus_per_task": 12, "gpu": 1, "nodes": 1}
    offload = jobs["results/zhao2025/massive-intent.llama3-70b.five-shot.ft/predictions.jsonl"]
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
    from types import SimpleNamespace

    from ftrepro.resources import output_resources

    jobs = {
        "results/p/a.x/predictions.jsonl": {"gpu": 1, "mem_mb": 1},
        "results/p/b.x/predictions.jsonl": {"gpu": 1, "mem_mb": 2, "mpi": "srun"},
        "results/q/other": {"gpu": 8},
    }
    resources = output_resources("results/p/{name}.x/predictions.jsonl", jobs)
    assert resources["gpu"] == 1  # the other rule's job does not count
    wildcards = SimpleNamespace(items=lambda: {"name": "a"}.items())
    assert resources["mem_mb"](wildcards) == 1 and resources["mpi"](wildcards) is None  # dropped by snakemake
    with pytest.raises(ValueError, match="no planned job writes results/z"):
        output_resources("results/z/{name}", jobs)
