"""The memory and cost plan: every model-loading job of a preset, sized with DeepSpeed's estimators;
every paper job fits the GPUs it asks for, and one that would not is an error naming it."""

from __future__ import annotations

import csv

import pytest
from conftest import REPO, snakemake

from ftrepro import config as cfg
from ftrepro.cli import main
from ftrepro.costs import parameters
from ftrepro.plan import PlanError, plan

CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture(scope="module")
def paper():
    config = cfg.load(CONFIG, {"preset": "paper"})
    return config, {row.job: row for row in plan(config)}


def test_every_paper_job_is_planned_and_fits_the_gpus_it_asks_for(paper):
    config, rows = paper
    # zhao2025: 12 encoders, 48 fine-tuned and 48 prompted decoders; gupta2023: 119 tasks x 8
    # settings, 8 MTL models and the pre-finetuning; band2025: annotation, 2 pre-fine-tunings, 9 fits
    assert len(rows) == 108 + 961 + 12
    assert all(row.gpus >= 1 for row in rows.values())
    assert all(0 < row.mem_gb_per_gpu <= config.cluster["gpu_memory_gb"] for row in rows.values())


def test_each_job_has_its_recipes_zero_stage_and_gpus(paper):
    _, rows = paper
    row = rows["results/zhao2025/massive-intent.llama3-70b.five-shot.ft/predictions.jsonl"]
    assert (row.gpus, row.zero) == (8, "3+offload")
    row = rows["results/zhao2025/massive-intent.llama3-8b.five-shot.ft/predictions.jsonl"]
    assert (row.gpus, row.zero) == (4, "2+offload")
    assert rows["resources/models/gupta2023/prefinetuned"].zero == "2+offload"
    assert rows["results/zhao2025/20ng-joint.roberta-large.ft/predictions.jsonl"].zero == "-"
    noft = rows["results/zhao2025/20ng-joint.llama3-70b.zero-shot.noft/predictions.jsonl"]
    assert noft.gpus == 4 and noft.train_tokens == 0 < noft.infer_tokens


def test_memory_holds_deepspeeds_model_states_and_gpu_hours_follow_6nd(paper):
    config, rows = paper
    row = rows["results/zhao2025/massive-intent.llama3-8b.zero-shot.ft/predictions.jsonl"]
    # ZeRO-2 with the optimizer offloaded keeps the bf16 weights on every GPU: 2 bytes a parameter
    assert row.mem_gb_per_gpu > 2 * row.params_b
    kind = config.plan.gpu
    params = parameters(config.models["llama3-8b"])
    seconds = 6 * params * row.train_tokens / (kind["peak_tflops"] * 1e12 * kind["mfu"]["train"])
    seconds += 2 * params * row.infer_tokens / (kind["peak_tflops"] * 1e12 * kind["mfu"]["inference"])
    assert row.gpu_hours == pytest.approx(seconds / 3600, abs=0.01)
    recipe = config.training["zhao2025-decoder"]
    assert row.train_tokens % (recipe["max_steps"]["small"] * recipe["effective_batch_size"]) == 0


def test_a_job_beyond_its_gpus_is_an_error_naming_the_job_and_both_figures():
    config = cfg.load(CONFIG, {"preset": "paper", "cluster": {"gpu_memory_gb": 40}})
    with pytest.raises(
        PlanError, match=r"llama3-70b\..*ft/predictions.jsonl: needs .* \d+\.\d GB per GPU .* 40"
    ):
        plan(config)


def test_cpu_presets_plan_cpu_jobs():
    rows = plan(cfg.load(CONFIG, {"preset": "tiny"}))
    assert rows and all(row.gpus == 0 and row.gpu_hours == 0 for row in rows)


def test_the_command_prints_every_job_and_the_summary_per_paper(tmp_path, capsys):
    assert (
        main(["plan", "--preset", "paper", "--configfile", str(CONFIG), "--out", str(tmp_path / "p.tsv")])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("/predictions.jsonl\t") == 1081 - 4  # all but three pre-finetunings and the annotation
    assert "resources/annotations/band2025/properties.jsonl\t" in out
    assert "| zhao2025 | 108 | 108 |" in out and "| all | 1081 | 1081 |" in out
    with open(tmp_path / "p.tsv") as f:
        assert len(list(csv.DictReader(f, delimiter="\t"))) == 1081


@pytest.mark.slow
def test_plan_is_a_pipeline_target(workdir):
    result = snakemake(
        ["--profile", "profiles/local", "--cores", "1", "--config", "preset=paper", "--", "results/plan.tsv"],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(workdir / "results" / "plan.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 1081 and {r["paper"] for r in rows} == {"zhao2025", "gupta2023", "band2025"}
