"""The memory and cost plan: every model-loading job of a preset, sized with DeepSpeed's estimators;
every paper job fits the GPUs it asks for, and one that would not is an error naming it."""

from __future__ import annotations

import csv
import os
import shutil
import sys

import pytest
from conftest import MODEL_RULES, REPO, expected_paper_jobs, snakemake

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.cli import main
from ftrepro.costs import parameters
from ftrepro.plan import PlanError, plan

CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture(scope="module")
def paper():
    config = cfg.load(CONFIG, {"preset": "paper"})
    return config, {row.job: row for row in plan(config)}


def planned_jobs(config: cfg.Config) -> dict[str, int]:
    """{paper: its jobs that load a model}, from the papers' definitions (conftest)."""
    expected = expected_paper_jobs(config)
    owner = {name: rule.paper for name, rule in papers.rules(config).items()}
    counts = {}
    for rule in MODEL_RULES:
        counts[owner[rule]] = counts.get(owner[rule], 0) + expected[rule]
    return counts


def test_every_paper_job_is_planned_and_fits_the_gpus_it_asks_for(paper):
    config, rows = paper
    # zhao2025: 12 encoders, 48 fine-tuned and 48 prompted decoders; gupta2023: 119 tasks x 8
    # settings, 8 MTL models, the pre-finetuning, Tk-Instruct few-shot and the task-242 model with a
    # negative example (its def-pos one is an STL model); band2025: annotation, 2 pre-fine-tunings, 9 fits
    assert planned_jobs(config) == {
        "zhao2025": 6 * 2 + 6 * 4 * 2 * 2,
        "gupta2023": 119 * 8 + 8 + 1 + 1 + 1,
        "band2025": 1 + 2 + 9,
    }
    assert len(rows) == sum(planned_jobs(config).values())
    assert all(row.gpus >= 1 for row in rows.values())
    assert all(0 < row.mem_gb_per_gpu <= config.cluster["gpu_memory_gb"] for row in rows.values())


def test_each_job_has_the_zero_stage_and_gpus_of_its_layout(paper):
    """The 70B fine-tunes keep ZeRO-3 with optimizer offload on a node (nothing else fits 8 x 80 GB
    at their effective batch of 8); the 7-8B and gupta2023 jobs run without offload."""
    _, rows = paper
    row = rows["results/paper/zhao2025/massive-intent.llama3-70b.five-shot.ft/predictions.jsonl"]
    assert (row.gpus, row.zero) == (8, "3+offload") and "nothing without it fits" in row.runner_up
    row = rows["results/paper/zhao2025/massive-intent.llama3-8b.five-shot.ft/predictions.jsonl"]
    assert row.zero in ("2", "3") and row.gpus in (4, 8) and "runner-up ZeRO-" in row.runner_up
    assert rows["results/paper/zhao2025/massive-intent.llama2-7b.five-shot.ft/predictions.jsonl"].zero in (
        "2",
        "3",
    )
    prefinetuned = rows["resources/paper/models/gupta2023/prefinetuned"]
    assert (prefinetuned.zero, prefinetuned.gpus, prefinetuned.nodes) == ("2", 1, 1)
    assert prefinetuned.layout.startswith("ZeRO-2, 1 GPU, micro-batch")
    assert rows["results/paper/zhao2025/20ng-joint.roberta-large.ft/predictions.jsonl"].zero == "-"
    noft = rows["results/paper/zhao2025/20ng-joint.llama3-70b.zero-shot.noft/predictions.jsonl"]
    assert noft.gpus == 4 and noft.train_tokens == 0 < noft.infer_tokens and noft.layout == "-"


def test_memory_holds_deepspeeds_model_states_and_unmeasured_training_has_no_gpu_hours(paper):
    config, rows = paper
    row = rows["results/paper/zhao2025/massive-intent.llama3-8b.zero-shot.ft/predictions.jsonl"]
    # every ZeRO layout keeps at least the bf16 weights' share and the 8,192-token activations
    assert row.mem_gb_per_gpu > 2 * row.params_b / row.gpus
    # no training loop was measured on A100s: no figure, and the plan says so
    assert row.gpu_hours is None and row.basis.startswith("unmeasured: no causal zero")
    recipe = config.training["zhao2025-decoder"]
    assert row.train_tokens % (recipe["max_steps"]["small"] * recipe["effective_batch_size"]) == 0
    noft = rows["results/paper/zhao2025/20ng-joint.llama3-70b.zero-shot.noft/predictions.jsonl"]
    kind = config.plan.gpu
    seconds = 2 * parameters(config.models["llama3-70b"]) * noft.infer_tokens
    assert noft.gpu_hours == pytest.approx(seconds / (kind["peak_tflops"] * 1e12 * 0.10) / 3600, abs=0.01)
    assert "assumed" in noft.basis


def test_gpu_hours_come_from_the_measured_table_of_the_gpu_kind(tmp_path):
    """On H200s the LoRA classifier's layout (no DeepSpeed, no checkpointing) was measured
    (config/throughput.csv, 2026-12-04): its training is priced at that MFU, 4 x parameters x
    tokens; a newer row of the same layout wins; layouts nobody measured stay without a figure."""
    h200 = {"preset": "paper", "plan": {"gpu_kind": "h200-141gb"}, "cluster": {"gpu_memory_gb": 141}}
    job = "results/paper/band2025/llama3.1-8b.lora/predictions.jsonl"
    row = {r.job: r for r in plan(cfg.load(CONFIG, h200))}[job]
    params, peak = parameters(cfg.load(CONFIG, h200).models["llama3.1-8b"]), 989e12
    train = 4 * params * row.train_tokens / (peak * 0.252)
    infer = 2 * params * row.infer_tokens / (peak * 0.10)
    assert row.layout.startswith("no DeepSpeed, 1 GPU") and "measured 2026-12-04" in row.basis
    assert row.gpu_hours == pytest.approx((train + infer) / 3600, abs=0.01)

    table = tmp_path / "throughput.csv"
    rows = (CONFIG.parent / "throughput.csv").read_text().splitlines()
    newer = "2027-01-02,h200-141gb,lora,plain,1,llama,1,0.5,a test"
    table.write_text("\n".join([*rows, newer]) + "\n")
    newer_row = {
        r.job: r for r in plan(cfg.load(CONFIG, {**h200, "plan": {**h200["plan"], "throughput": str(table)}}))
    }
    assert "measured 2027-01-02" in newer_row[job].basis and newer_row[job].gpu_hours < row.gpu_hours
    t5 = newer_row["resources/paper/models/gupta2023/prefinetuned"]
    assert t5.gpu_hours is None and t5.basis == "unmeasured: no seq2seq zero2 row for h200-141gb"


def test_a_job_beyond_its_gpus_is_an_error_naming_the_job_and_both_figures():
    config = cfg.load(CONFIG, {"preset": "paper", "cluster": {"gpu_memory_gb": 40}})
    with pytest.raises(
        PlanError, match=r"llama3-70b\..*ft/predictions.jsonl: needs .* \d+\.\d GB per GPU .* 40"
    ):
        plan(config)


def test_cpu_presets_plan_cpu_jobs():
    rows = plan(cfg.load(CONFIG, {"preset": "tiny"}))
    assert rows and all(row.gpus == 0 and row.gpu_hours == 0 for row in rows)


def test_the_command_prints_every_job_and_the_summary_per_paper(paper, tmp_path, capsys):
    config, _ = paper
    counts = planned_jobs(config)
    total, zhao = sum(counts.values()), counts["zhao2025"]
    expected = expected_paper_jobs(config)
    outside_runs = (
        expected["prefinetune_t5"] + expected["prefinetune_band_encoder"] + expected["annotate_arena"]
    )
    assert (
        main(["plan", "--preset", "paper", "--configfile", str(CONFIG), "--out", str(tmp_path / "p.tsv")])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        out.count("/predictions.jsonl\t") == total - outside_runs
    )  # all but the pre-finetunings and the annotation
    assert "resources/paper/annotations/band2025/properties.jsonl\t" in out
    assert f"| zhao2025 | {zhao} | {zhao} |" in out and f"| all | {total} | {total} |" in out
    assert "runner-up" in out and "ZeRO-3 + optimizer offload, 8 GPUs" in out
    with open(tmp_path / "p.tsv") as f:
        assert len(list(csv.DictReader(f, delimiter="\t"))) == total


@pytest.mark.slow
def test_plan_is_a_pipeline_target(workdir):
    result = snakemake(
        [
            "--profile",
            "profiles/local",
            "--cores",
            "1",
            "--config",
            "preset=paper",
            "--",
            "results/paper/plan.tsv",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(workdir / "results" / "paper" / "plan.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    config = cfg.load(CONFIG, {"preset": "paper"})
    assert len(rows) == sum(planned_jobs(config).values())
    assert {r["paper"] for r in rows} == {"zhao2025", "gupta2023", "band2025"}


def test_the_plan_is_made_again_when_the_config_or_a_job_table_changes(tmp_path):
    """results/<preset>/plan.tsv reads the config files and the papers' job tables: newer ones plan again."""
    for name in ("Snakefile", "workflow", "profiles"):
        (tmp_path / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "config", tmp_path / "config")  # copied: the test touches it
    plan_tsv = tmp_path / "results" / "tiny" / "plan.tsv"
    plan_tsv.parent.mkdir(parents=True)
    plan_tsv.write_text("made before\n")
    dry_run = ["results/tiny/plan.tsv", "-n", "--profile", "profiles/local", "--rerun-triggers", "mtime"]
    result = snakemake([*dry_run, "--config", "preset=tiny"], tmp_path)
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr
    os.utime(tmp_path / "config" / "config.yaml")  # edited after the plan
    result = snakemake([*dry_run, "--config", "preset=tiny"], tmp_path)
    assert "rule plan:" in result.stdout and "config/config.yaml" in result.stdout
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    sources = papers.table_sources(tiny)
    for registered in papers.registered(tiny).values():
        package = sys.modules[registered.jobs.__module__]
        assert package.__file__ in sources  # the paper's job table
    assert "config/superni_test_tasks.txt" in sources  # a file gupta2023's section names
