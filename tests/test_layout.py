"""The layout of each training job (ftrepro.layout), as the plan chooses it: the fastest per GPU of
those that fit, optimizer offload only where nothing else fits, the recipe's effective batch kept;
the memory estimates behind it are DeepSpeed's own."""

from __future__ import annotations

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro.costs import GB, Zero, zero_states_bytes
from ftrepro.layout import Training, candidate, choose, layouts, recipe_layout
from ftrepro.plan import PlanError, plan, training, training_jobs

CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture(scope="module")
def paper():
    return cfg.load(CONFIG, {"preset": "paper"})


def jobs_of(config):
    """(work's Training, model, layout Choice) of every distinct training job of the plan."""
    from ftrepro.plan import _chooser, jobs

    chooser, seen = _chooser(config), {}
    for work in jobs(config):
        if work.mode != "inference":
            seen.setdefault((work.model, training(work)), chooser(work))
    return seen


@pytest.mark.parametrize("stage, offload", [(2, False), (2, True), (3, False), (3, True)])
@pytest.mark.parametrize("gpus, nodes", [(1, 1), (4, 1), (8, 2)])
def test_model_states_are_deepspeeds_own_estimates(paper, stage, offload, gpus, nodes):
    """The estimators' formulas are written out (the workflow sizes jobs without torch); they must
    stay DeepSpeed's."""
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    model = paper.models["llama3-8b"]
    params = model.params_b * 1e9
    if stage == 2:
        expected = estimate_zero2_model_states_mem_needs(params, gpus, nodes, cpu_offload=offload)
    else:
        largest = model.shape.vocab * model.shape.hidden
        expected = estimate_zero3_model_states_mem_needs(
            params, largest, gpus, nodes, cpu_offload=offload, cpu_offload_params=False
        )[:2]
    assert zero_states_bytes(model, Zero(stage, offload), gpus, nodes) == pytest.approx(expected)


def test_paper_jobs_run_without_offload_but_the_70b_fine_tunes(paper):
    every = jobs_of(paper)
    for (model, _), choice in every.items():
        assert choice.layout.offload == (model in ("llama2-70b", "llama3-70b")), (model, choice.layout)
    chosen = {(model, spec.family): choice.layout for (model, spec), choice in every.items()}
    assert chosen["t5-3b", "seq2seq"].gpus == chosen["tk-instruct-3b", "seq2seq"].gpus == 1
    assert chosen["t5-3b", "seq2seq"].zero == 2 and chosen["llama3-8b", "causal"].zero in (2, 3)
    assert chosen["llama3-70b", "causal"].gpus == 8 and chosen["llama3-70b", "causal"].checkpointing


def test_offload_only_where_nothing_without_it_fits_and_the_choice_is_the_fastest_that_fits(paper):
    cluster, ranking = paper.cluster, paper.plan.layout_ranking
    for (model, spec), choice in jobs_of(paper).items():
        every = [
            candidate(paper.models[model], spec, layout, cluster, ranking)
            for layout in layouts(spec, cluster)
        ]
        fitting = [c for c in every if c.gpu_bytes <= cluster["gpu_memory_gb"] * GB]
        fitting = [c for c in fitting if c.host_bytes <= cluster["host_memory_gb_per_node"] * GB]
        plain = [c for c in fitting if not c.layout.offload]
        assert choice.layout.offload == (not plain), (model, choice.layout)
        assert choice.chosen.gpu_seconds == pytest.approx(
            min(c.gpu_seconds for c in plain or fitting), rel=1e-3
        )
        assert choice.chosen.gpu_bytes <= cluster["gpu_memory_gb"] * GB
        if choice.layout.offload:
            assert "nothing without it fits" in choice.reason
        layout = choice.layout
        assert layout.micro_batch * layout.accumulation * layout.gpus == spec.effective_batch


def test_the_reason_names_the_runner_up_and_what_makes_it_slower(paper):
    choices = jobs_of(paper)
    for choice in choices.values():
        assert choice.runner_up is not None and choice.reason.count("runner-up") == 1
        assert choice.runner_up.layout.structure() != choice.layout.structure()
        assert "x the modelled GPU time (" in choice.reason or "the same modelled GPU time" in choice.reason
    (eight_b,) = [
        c for (model, spec), c in choices.items() if model == "llama3-8b" and spec.family == "causal"
    ]
    assert eight_b.runner_up.gpu_seconds > eight_b.chosen.gpu_seconds


def test_a_job_too_big_for_one_node_spans_several_rather_than_offload(paper):
    """GPUs of 24 GB, two a node: T5-3B's states and activations need four GPUs, two nodes; ZeRO-2
    with offload would fit one GPU, but offload comes only where nothing else fits."""
    cluster = {**paper.cluster, "gpus_per_node": 2, "gpu_memory_gb": 24}
    spec = Training(
        "seq2seq", "full", 1152, 16, 1, deepspeed="config/deepspeed/zero2_offload.json", target_tokens=128
    )
    choice = choose(paper.models["t5-3b"], spec, cluster, paper.plan.layout_ranking)
    assert (choice.layout.offload, choice.layout.processes, choice.layout.nodes) == (False, 2, 2)
    assert choice.layout.deepspeed == f"config/deepspeed/zero{choice.layout.zero}.json"
    single = choose(paper.models["t5-3b"], spec, {**cluster, "max_nodes": 1}, paper.plan.layout_ranking)
    assert single.layout.offload and single.layout.nodes == 1


def test_a_job_no_layout_fits_is_an_error_naming_it_and_the_figures(paper):
    small = cfg.load(CONFIG, {"preset": "paper", "cluster": {"gpu_memory_gb": 16}})
    with pytest.raises(
        PlanError,
        match=r"\.ft/predictions.jsonl: needs more than .* \d+\.\d GB per GPU \(cluster.gpu_memory_gb: 16\)",
    ):
        plan(small)


def test_gpu_jobs_get_their_layouts_recipe_and_cpu_presets_keep_theirs(paper):
    jobs = training_jobs(paper)
    gupta = jobs["resources/paper/models/gupta2023/prefinetuned"].layout
    recipe = paper.training["gupta2023-seq2seq"]
    laid_out = gupta.recipe(recipe)
    assert (
        laid_out["per_device_train_batch_size"] == gupta.micro_batch != recipe["per_device_train_batch_size"]
    )
    assert "gradient_accumulation_steps" not in laid_out  # effective_batch_size: from the world size
    lora = jobs["results/paper/band2025/llama3.1-8b.lora/predictions.jsonl"].layout
    lora_recipe = lora.recipe(paper.training["band2025-lora"])
    assert lora_recipe["activation_checkpointing"] is False  # not needed on one 80 GB GPU
    assert lora_recipe["per_device_train_batch_size"] * lora_recipe["gradient_accumulation_steps"] == 16
    for preset in ("tiny", "mini"):  # the recipe's layout changes nothing in a recipe
        config = cfg.load(CONFIG, {"preset": preset, "launch": {"cpu_processes": 2}})
        assert all(job.layout.processes == 2 for job in training_jobs(config).values())
        for recipe in config.training.values():
            explicit = "effective_batch_size" not in recipe
            micro, steps = recipe["per_device_train_batch_size"], recipe.get("gradient_accumulation_steps", 1)
            spec = Training(
                "causal",
                "full",
                64,
                recipe.get("effective_batch_size", micro * steps),
                micro,
                accumulation=steps if explicit else None,
                checkpointing=recipe.get("activation_checkpointing", False),
            )
            assert recipe_layout(spec, 2).recipe(recipe) == recipe


def test_a_cpu_preset_with_cpu_deepspeed_runs_the_recipes_deepspeed_config():
    config = cfg.load(CONFIG, {"preset": "tiny", "launch": {"cpu_processes": 2, "cpu_deepspeed": True}})
    jobs = training_jobs(config)
    decoder = jobs["results/tiny/zhao2025/massive-intent.llama3-8b.zero-shot.ft/predictions.jsonl"].layout
    assert (decoder.zero, decoder.offload, decoder.deepspeed) == (
        2,
        True,
        "config/deepspeed/zero2_offload.json",
    )
    spec = Training("causal", "full", 64, 8, 4, deepspeed="config/deepspeed/zero3_offload.json")
    assert recipe_layout(spec, 2).accumulation == 1 and recipe_layout(spec, 1).accumulation == 2
