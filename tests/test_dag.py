"""Dry-runs of the workflow: the paper-scale matrix plans every job, with no data, GPU or SLURM."""

from __future__ import annotations

import fnmatch

import pytest
from conftest import REPO, expected_paper_jobs, job_stats, snakemake

from ftrepro import config as cfg
from ftrepro import papers

# targets go before these: --config takes every word after it
PAPER = ["--profile", "profiles/slurm", "--config", "preset=paper"]


@pytest.fixture(scope="module")
def paper_config() -> cfg.Config:
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})


def test_paper_matrix_dry_run_plans_every_job(workdir, paper_config, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dry-run")  # API runs are planned only with a key
    result = snakemake(["-n", *PAPER], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout + result.stderr)
    expected = expected_paper_jobs(paper_config)
    assert stats == expected
    assert expected["fit_gupta_stl"] == 119 * 8  # the thesis: 119 SuperNI test tasks x 8 settings
    # the job table holds every job of the papers' rules, as many as the DAG makes of each
    table = papers.job_counts(papers.jobs(paper_config))
    assert table == {rule: stats[rule] for rule in table}
    assert not (workdir / "resources").exists() and not (workdir / "results").exists()


@pytest.mark.parametrize(
    "target, rules",
    [
        # the papers' own definitions: 6 tasks x 2 encoders, x 4 decoders x 2 shots, x 3 API models x 2 shots
        (
            "zhao2025",
            {"fit_zhao_encoder": 6 * 2, "fit_zhao_decoder": 6 * 4 * 2, "predict_zhao_api": 6 * 3 * 2},
        ),
        # 119 test tasks x 8 settings, one MTL model per setting, one pre-finetuned T5; Tk-Instruct
        # few-shot (Figure 1.1); task 242 with a negative example (its def-pos model is an STL one)
        (
            "gupta2023",
            {
                "fit_gupta_stl": 119 * 8,
                "fit_gupta_mtl": 8,
                "prefinetune_t5": 1,
                "predict_gupta_fewshot": 1,
                "fit_gupta_ablation": 1,
            },
        ),
        # 2 encoders x single/parallel x plain/llm-augmented, one LoRA LLM, one annotation
        ("band2025", {"fit_band_encoder": 2 * 2 * 2, "fit_band_lora": 1, "annotate_arena": 1}),
    ],
)
def test_paper_targets_plan_their_paper_only(workdir, paper_config, target, rules, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dry-run")  # API runs are planned only with a key
    result = snakemake([target, "-n", *PAPER], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout + result.stderr)
    expected = expected_paper_jobs(paper_config)
    for rule, count in rules.items():
        assert stats[rule] == count == expected[rule]
    owner = {name: rule.paper for name, rule in papers.rules(paper_config).items()}
    assert {owner[rule] for rule in stats if rule in owner} == {target}
    table = papers.job_counts(job for job in papers.jobs(paper_config) if job.paper == target)
    assert {rule: stats[rule] for rule in table} == table


def test_one_model_is_rerun_by_naming_its_output(workdir):
    target = "results/paper/zhao2025/massive-intent.llama3-8b.five-shot.ft/metrics.json"
    result = snakemake([target, "-n", *PAPER], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_stats(result.stdout + result.stderr) == {
        "download": 1,
        "prepare_model": 1,
        "derive_massive": 1,
        "fit_zhao_decoder": 1,
        "score": 1,
    }


def test_gpu_requests_follow_model_size(workdir):
    """The 70B fine-tune asks for a whole node, and the host memory DeepSpeed estimates for its
    offloaded optimizer (70.6B x 16 bytes x 1.5, over 8 GPUs' share of 60 GB); its scoring asks
    for no GPU."""
    target = "results/paper/zhao2025/20ng-7class.llama3-70b.zero-shot.ft/metrics.json"
    result = snakemake([target, "-n", *PAPER], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    fit = out[out.index("rule fit_zhao_decoder:") : out.index("rule score:")]
    assert "gpu=8" in fit and "cpus_per_task=96" in fit and "mem_mb=1695000" in fit
    assert "tasks=" not in fit.replace("cpus_per_task=", "")
    score = out[out.index("rule score:") :]
    assert "gpu=" not in score[: score.index("Shell command")]


def test_bad_config_fails_before_any_job_naming_the_key(workdir):
    result = snakemake(["-n", *PAPER, "data={'source': 'local', 'local_dri': 'x'}"], workdir)
    assert result.returncode != 0
    assert "'local_dri' was unexpected" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout + result.stderr


def test_tiny_trains_each_model_once_and_ends_on_the_html_report(workdir):
    """Names that resolve to one model in the tiny preset are one job (papers.shared_runs)."""
    result = snakemake(
        ["results/tiny/report.html", "-n", "--profile", "profiles/local", "--config", "preset=tiny"], workdir
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout + result.stderr)
    assert stats["fit_zhao_decoder"] == stats["predict_zhao_decoder"] == 2 * 6  # one Llama for four names
    assert stats["fit_zhao_encoder"] == 2 * 6  # 2 encoders (distinct tiny models) x 6 tasks
    assert stats["fit_gupta_stl"] == 3 * 4 and stats["fit_gupta_mtl"] == 4  # 8 settings, 4 distinct models
    # task 242 is no tiny test task: the ablation trains both prompts; few-shot predicts once
    assert stats["fit_gupta_ablation"] == 2 and stats["predict_gupta_fewshot"] == 1
    assert stats["fit_band_encoder"] == 2 * 2 * 2 and stats["html_report"] == 1
    # the table the DAG was built from: as many jobs of each paper rule, and no more
    table = papers.job_counts(
        papers.jobs(cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"}), False)
    )
    assert {rule: stats.get(rule, 0) for rule in table} == table


def test_mini_plans_each_baseline_once_per_dataset_and_dev_splits_for_the_encoders(workdir):
    result = snakemake(
        [
            "results/mini/zhao2025/tables/table3.md",
            "-n",
            "--profile",
            "profiles/local",
            "--config",
            "preset=mini",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    stats = job_stats(out)
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
    datasets = {task.dataset for task in mini.zhao2025.tasks.values()}
    assert (
        stats["fit_zhao_baseline"] == stats["fit_zhao_frozen_baseline"] == len(datasets) == 2
    )  # 20NG, MASSIVE
    # roberta-large shares roberta-base's MiniLM: one model per task, and one per seed where the
    # preset gives a task's run several (config seeds)
    encoder = mini.seeds["zhao2025"]["encoder"]
    runs = {task: f"{task}.{mini.zhao2025.encoders[0]}.ft" for task in mini.zhao2025.tasks}
    seeded = [task for task, run in runs.items() if any(fnmatch.fnmatch(run, glob) for glob in encoder.runs)]
    assert seeded and len(encoder.seeds) > 1
    assert stats["fit_zhao_encoder"] == len(runs) - len(seeded) + len(seeded) * len(encoder.seeds)
    for task in seeded:
        assert all(
            f"results/mini/zhao2025/{runs[task]}.seed{seed}/predictions.jsonl" in out
            for seed in encoder.seeds
        )
    fits = [block for block in out.split("\nrule ") if block.startswith("fit_zhao_encoder:")]
    assert len(fits) == stats["fit_zhao_encoder"]
    assert all("/dev.jsonl" in block.split("output:")[0] for block in fits)
    assert (
        "resources/mini/derived/20newsgroups/dev.jsonl"
        in out.split("rule derive_20newsgroups:")[1].split("log:")[0]
    )
