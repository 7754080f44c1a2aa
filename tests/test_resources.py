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
