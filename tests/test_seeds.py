"""config seeds (presets.<preset>.seeds.<paper>.<family>): one model per seed for the runs of a
family, each seed a job of the job table (a run of its own, <run>.seed<N>, where a run has several),
its recipe's seed set; the tables take the seeds of a run as one cell (their mean, spread and
count); names that are one model stay one model only with the same seeds."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO, job_stats, snakemake

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.fit import STAMP
from ftrepro.io import TRAIN_LOG, read_json, read_jsonl, write_json
from ftrepro.jobs import in_preset, run_file, seed_run, unseeded, work_dir
from ftrepro.metrics import Bootstrap, score_predictions
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.zhao2025.report import build_table3, paper_layout, read_targets
from ftrepro.report import run_metrics

CONFIG = REPO / "config" / "config.yaml"
INTENT = "massive-intent.roberta-base.ft"  # a tiny encoder run: seconds to train


def with_seeds(preset: str, seeds: dict) -> cfg.Config:
    return cfg.load(CONFIG, {"preset": preset, "presets": {preset: {"seeds": seeds}}})


def seeded_jobs(config: cfg.Config, run: str) -> list:
    return [
        job for job in papers.jobs(config, with_api=False) if unseeded(job.name) == run and job.stage == "fit"
    ]


def test_a_run_with_several_seeds_is_a_job_per_seed_in_a_run_of_its_own():
    tiny = with_seeds("tiny", {"zhao2025": {"encoder": {"seeds": [7, 8, 9], "runs": [INTENT]}}})
    fits = seeded_jobs(tiny, INTENT)
    assert [(job.name, job.seed) for job in fits] == [(seed_run(INTENT, s), s) for s in (7, 8, 9)]
    assert [job.output for job in fits] == [
        in_preset(run_file("zhao2025", seed_run(INTENT, s), "predictions.jsonl"), "tiny") for s in (7, 8, 9)
    ]
    assert [job.recipe({"seed": 42, "learning_rate": 1.0}) for job in fits] == [
        {"seed": s, "learning_rate": 1.0} for s in (7, 8, 9)
    ]
    # each seed is scored, and the table reads every seed's metrics
    table = papers.jobs(tiny, with_api=False)
    scored = {job.name for job in table if job.rule == papers.SCORE}
    assert {seed_run(INTENT, s) for s in (7, 8, 9)} <= scored and INTENT not in scored
    report = next(job for job in table if job.rule == "zhao2025_table3")
    assert {
        in_preset(run_file("zhao2025", seed_run(INTENT, s), "metrics.json"), "tiny") for s in (7, 8, 9)
    } <= set(report.inputs["metrics"])
    # the runs of the family the glob leaves out keep their one job and its paths
    other = seeded_jobs(tiny, "massive-slots.roberta-base.ft")
    assert [(job.name, job.seed) for job in other] == [("massive-slots.roberta-base.ft", None)]


def test_one_seed_keeps_the_runs_paths_and_sets_its_recipes_seed():
    tiny = with_seeds("tiny", {"zhao2025": {"encoder": [5]}})
    untouched = cfg.load(CONFIG, {"preset": "tiny"})
    fits = seeded_jobs(tiny, INTENT)
    assert [(job.name, job.output, job.seed) for job in fits] == [
        (job.name, job.output, 5) for job in seeded_jobs(untouched, INTENT)
    ]
    assert fits[0].recipe({"seed": 42}) == {"seed": 5}


def test_the_paper_preset_names_no_seed():
    paper = cfg.load(CONFIG, {"preset": "paper"})
    assert paper.seeds == {} and all(job.seed is None for job in papers.jobs(paper))


def test_the_dag_plans_a_fit_per_seed_of_every_family_that_trains(workdir):
    """Two seeds on every family whose rule trains, in every paper: each such rule makes twice the
    jobs it makes without seeds, a score job each; every other rule as many as before."""
    plain = cfg.load(CONFIG, {"preset": "tiny"})
    trained = {
        paper: [rule.name for rule in p.rules if rule.seeded] for paper, p in papers.registered(plain).items()
    }
    families = {
        paper: {f: [1, 2] for f in p.runs_by_family(plain) if f not in ("api", "anchor", "fewshot")}
        for paper, p in papers.registered(plain).items()
    }
    before = papers.job_counts(papers.jobs(plain, with_api=False))
    seeded_rules = [rule for rules in trained.values() for rule in rules]
    expected = {rule: count * (2 if rule in seeded_rules else 1) for rule, count in before.items()}
    expected[papers.SCORE] += sum(before[rule] for rule in seeded_rules)
    seeds = "presets=" + repr({"tiny": {"seeds": families}})
    result = snakemake(["-n", "--profile", "profiles/local", "--config", "preset=tiny", seeds], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout + result.stderr)
    assert all(before[rule] for rule in seeded_rules) and len(seeded_rules) >= 6
    assert {rule: stats[rule] for rule in expected} == expected


def test_the_reports_rows_name_each_seeds_run_and_its_owner_of_that_seed():
    """The HTML report lists a row per job's run (each seed of a run) and a shared run's seeds
    read its owner's of the same seed."""
    mini = cfg.load(CONFIG, {"preset": "mini"})
    rows = papers.each_seed(mini, "zhao2025", papers.runs(mini, "zhao2025"))
    assert INTENT not in rows and [seed_run(INTENT, s) for s in (42, 43, 44)] == [
        run for run in rows if unseeded(run) == INTENT
    ]
    assert "20ng-20class.roberta-base.ft" in rows  # 20NG keeps its one run
    shared = papers.shared_by_seed(mini, "zhao2025")
    large = "massive-intent.roberta-large.ft"  # one MiniLM with roberta-base at mini
    assert {shared[seed_run(large, s)] for s in (42, 43, 44)} == {seed_run(INTENT, s) for s in (42, 43, 44)}
    assert shared[seed_run(large, 43)] == seed_run(INTENT, 43)


def test_the_mini_preset_trains_the_massive_encoder_rows_with_three_seeds():
    mini = cfg.load(CONFIG, {"preset": "mini"})
    seeds = papers.run_seeds(mini, "zhao2025")
    massive = [
        run for run in papers.runs(mini, "zhao2025") if run.startswith("massive-") and run.count(".") == 2
    ]
    assert sorted(seeds) == sorted(massive) and len(massive) == 3 * len(mini.zhao2025.encoders)
    assert {len(found) for found in seeds.values()} == {3}
    fits = seeded_jobs(mini, "massive-intent.roberta-base.ft")
    assert len(fits) == 3 and len({job.output for job in fits}) == 3


@pytest.mark.parametrize(
    "seeds, message",
    [
        ({"zhao2026": {"encoder": [1]}}, r"presets\.tiny\.seeds\.zhao2026: no paper is registered.*zhao2025"),
        ({"zhao2025": {"encodr": [1, 2]}}, r"seeds\.zhao2025\.encodr: zhao2025 has no run family.*encoder"),
        ({"zhao2025": {"api": [1, 2]}}, r"seeds\.zhao2025\.api: its runs train no model"),
        ({"gupta2023": {"anchor": [1, 2]}}, r"seeds\.gupta2023\.anchor: its runs train no model"),
        (
            {"zhao2025": {"encoder": {"seeds": [1, 2], "runs": ["massive-intnet.*"]}}},
            r"seeds\.zhao2025\.encoder\.runs: 'massive-intnet\.\*' selects no run",
        ),
        ({"zhao2025": {"encoder": []}}, r"seeds\.zhao2025\.encoder"),
        ({"zhao2025": {"encoder": {"seeds": [1, 1]}}}, r"seeds\.zhao2025\.encoder"),
    ],
)
def test_bad_seeds_fail_naming_the_key(seeds, message):
    with pytest.raises(cfg.ConfigError, match=message):
        papers.jobs(with_seeds("tiny", seeds))


def test_names_that_are_one_model_stay_one_only_with_the_same_seeds():
    """The tiny preset's four Llama names are one random model: with the same seeds they stay one
    model per seed; a name with seeds of its own trains apart, and the others keep sharing."""
    llama = "massive-intent.{}.zero-shot.ft"
    same = with_seeds(
        "tiny", {"zhao2025": {"decoder": {"seeds": [1, 2], "runs": ["massive-intent.*.zero-shot.ft"]}}}
    )
    shared = papers.shared_runs(same, "zhao2025")
    assert {shared[llama.format(m)] for m in ("llama2-70b", "llama3-8b", "llama3-70b")} == {
        llama.format("llama2-7b")
    }
    assert [job.name for job in seeded_jobs(same, llama.format("llama2-7b"))] == [
        seed_run(llama.format("llama2-7b"), s) for s in (1, 2)
    ]
    assert papers.shared_by_seed(same, "zhao2025")[seed_run(llama.format("llama3-8b"), 2)] == seed_run(
        llama.format("llama2-7b"), 2
    )
    apart = with_seeds(
        "tiny", {"zhao2025": {"decoder": {"seeds": [1, 2], "runs": [llama.format("llama2-7b")]}}}
    )
    shared = papers.shared_runs(apart, "zhao2025")
    assert llama.format("llama2-70b") not in shared  # the first of the seedless names trains for them
    assert {shared[llama.format(m)] for m in ("llama3-8b", "llama3-70b")} == {llama.format("llama2-70b")}
    made = {job.name for job in papers.jobs(apart, with_api=False)}
    assert {seed_run(llama.format("llama2-7b"), 1), llama.format("llama2-70b")} <= made
    # the prompted runs the glob also selects train nothing: they keep their one shared job
    assert shared["massive-intent.llama3-8b.zero-shot.noft"] == "massive-intent.llama2-7b.zero-shot.noft"


def test_a_gupta_setting_whose_runs_train_apart_is_not_called_shared():
    tiny = with_seeds("tiny", {"gupta2023": {"stl": {"seeds": [1, 2], "runs": ["*.tk-instruct-500"]}}})
    plain = cfg.load(CONFIG, {"preset": "tiny"})
    assert gupta_runs.shared_settings(plain)["tk-instruct-500"] == "tk-instruct-200"
    assert gupta_runs.shared_settings(
        plain, papers.shared_runs(plain, "gupta2023")
    ) == gupta_runs.shared_settings(plain)
    found = gupta_runs.shared_settings(tiny, papers.shared_runs(tiny, "gupta2023"))
    assert "tk-instruct-500" not in found and found["tk-instruct-1000"] == "tk-instruct-200"


def test_the_seeds_of_a_run_are_one_cell_of_the_table(tmp_path):
    """run_metrics takes each seed's metrics.json into its run's one cell: the mean, with the
    seeds' count and spread, which Table 3 shows."""
    boot = Bootstrap(200, 0)
    paths = []
    for seed, wrong in ((1, 5), (2, 7)):  # 80% and 85.7% right
        records = [
            {"id": str(i), "gold": {"intent": "a"}, "pred": {"intent": "b" if i % wrong == 0 else "a"}}
            for i in range(70)
        ]
        path = tmp_path / seed_run(INTENT, seed) / "metrics.json"
        path.parent.mkdir()
        write_json(path, score_predictions(records, ["intent"], bootstrap=boot))
        paths.append(path)
    metrics = run_metrics(paths)
    assert list(metrics) == [INTENT]
    first, second = (read_json(p)["intent_accuracy"] for p in paths)
    assert metrics[INTENT]["intent_accuracy"] == pytest.approx((first + second) / 2)
    assert metrics[INTENT]["seeds"]["n"] == 2
    table = build_table3(read_targets(REPO / "config" / "targets" / "zhao2025_table3.csv"), metrics)
    cell = table[(table["run"] == INTENT) & (table["metric"] == "intent_accuracy")].iloc[0]
    assert cell["seeds"] == 2 and cell["ours"] == pytest.approx((first + second) / 2)
    assert "(2 seeds, sd " in paper_layout(table).to_string()


@pytest.mark.slow
def test_two_seeds_of_a_tiny_encoder_through_the_rules(workdir):
    """Two seeds of one tiny encoder run, through the real rules: each trains in a work directory of
    its own, stamped with a fingerprint that differs in the recipe's seed, and Table 3 shows the
    run's cell over both seeds."""
    seeds = "presets=" + repr(
        {"tiny": {"seeds": {"zhao2025": {"encoder": {"seeds": [1, 2], "runs": [INTENT]}}}}}
    )
    config = ["--profile", "profiles/local", "--cores", "2", "--config", "preset=tiny", seeds]
    runs = [seed_run(INTENT, seed) for seed in (1, 2)]
    predictions = [in_preset(run_file("zhao2025", run, "predictions.jsonl"), "tiny") for run in runs]
    result = snakemake([*predictions, *config], workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    # until its score job releases it, a fit's work directory keeps the fingerprint it trained under
    stamps = [
        read_json(workdir / in_preset(work_dir("zhao2025", run), "tiny") / STAMP)["params"] for run in runs
    ]
    assert [stamp["hparams"]["seed"] for stamp in stamps] == [1, 2]
    assert {key: value for key, value in stamps[0]["hparams"].items() if key != "seed"} == {
        key: value for key, value in stamps[1]["hparams"].items() if key != "seed"
    }
    assert stamps[0]["work_dir"] != stamps[1]["work_dir"]
    # another initialisation and data order: another training loss
    first, second = (
        read_jsonl(workdir / in_preset(run_file("zhao2025", run, TRAIN_LOG), "tiny")) for run in runs
    )
    assert len(first) == len(second) and first != second
    metrics = [in_preset(run_file("zhao2025", run, "metrics.json"), "tiny") for run in runs]
    result = snakemake([*metrics, *config], workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    table = "results/tiny/zhao2025/tables/table3.csv"
    result = snakemake([table, *config, "partial=true"], workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    cells = pd.read_csv(workdir / table)
    ours = cells[cells["status"] == "ok"]
    assert set(ours["run"]) == {INTENT} and set(ours["seeds"]) == {2}
    assert "(2 seeds, sd " in (workdir / table.replace(".csv", ".md")).read_text()
