"""--config partial=true: the table rules build from the runs that have finished and mark the rest
"not run", so a long run shows numbers as they arrive and a --keep-going run that lost jobs still
ends with its tables."""

import json

import pandas as pd
from conftest import job_stats, snakemake

TABLE = "results/{preset}/zhao2025/tables/table3.csv"  # of the preset's run
FINISHED = "massive-intent.llama2-7b.zero-shot.ft"  # the tiny Llama that three other names share


def _finish(workdir, run: str, metrics: dict, preset: str = "tiny") -> None:
    path = workdir / "results" / preset / "zhao2025" / run / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(metrics))


def test_partial_tables_plan_no_training(workdir):
    _finish(workdir, FINISHED, {"intent_accuracy": 91.5, "n_examples": 64})
    whole = snakemake([TABLE.format(preset="tiny"), "-n", "--config", "preset=tiny"], workdir)
    partial = snakemake(
        [TABLE.format(preset="tiny"), "-n", "--config", "preset=tiny", "partial=true"], workdir
    )
    assert whole.returncode == 0 and partial.returncode == 0, partial.stderr[-3000:]
    assert job_stats(whole.stdout + whole.stderr)["fit_zhao_encoder"] > 1
    # the finished run's metrics are there: nothing to make but the table itself
    assert job_stats(partial.stdout + partial.stderr) == {"zhao2025_table3": 1}


def test_partial_table_takes_the_finished_runs_and_marks_the_rest_not_run(workdir):
    _finish(workdir, FINISHED, {"intent_accuracy": 91.5, "n_examples": 64})
    result = snakemake(
        [TABLE.format(preset="tiny"), "--cores", "1", "--config", "preset=tiny", "partial=true"], workdir
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(workdir / TABLE.format(preset="tiny"))
    cell = table[(table["run"] == FINISHED) & (table["metric"] == "intent_accuracy")]
    assert cell["status"].tolist() == ["ok"] and cell["ours"].tolist() == [91.5]
    # the Llamas that share its tiny model repeat its number and say so; every other cell is "not run"
    ok = table[(table["status"] == "ok") & (table["metric"] == "intent_accuracy")]
    assert sorted(ok["run"]) == sorted(
        f"massive-intent.{model}.zero-shot.ft"
        for model in ("llama2-7b", "llama2-70b", "llama3-8b", "llama3-70b")
    )
    assert set(ok["ours"]) == {91.5}
    assert (table["status"] == "not run").sum() == len(table) - len(ok)


def test_partial_tables_plan_no_baselines(workdir):
    # mini computes baseline rows in the pipeline: a partial table takes those that have finished
    whole = snakemake([TABLE.format(preset="mini"), "-n", "--config", "preset=mini"], workdir)
    partial = snakemake(
        [TABLE.format(preset="mini"), "-n", "--config", "preset=mini", "partial=true"], workdir
    )
    assert whole.returncode == 0 and partial.returncode == 0, partial.stderr[-3000:]
    assert job_stats(whole.stdout + whole.stderr)["fit_zhao_baseline"] >= 1
    assert job_stats(partial.stdout + partial.stderr) == {"zhao2025_table3": 1}


def test_the_tiny_table_carries_an_interval_per_cell_of_ours_and_no_verdicts(workdir):
    from ftrepro import config as cfg
    from ftrepro.metrics import Bootstrap, score_predictions

    stats = cfg.load(workdir / "config" / "config.yaml", {"preset": "tiny"}).stats
    records = [
        {"id": str(i), "gold": {"intent": f"i{i % 4}"}, "pred": {"intent": f"i{i % 4}" if i % 5 else "i9"}}
        for i in range(64)
    ]  # as the score rule scores them, with the config's bootstrap
    _finish(
        workdir,
        FINISHED,
        score_predictions(records, ["intent"], bootstrap=Bootstrap(stats.resamples, stats.seed)),
    )
    result = snakemake(
        [TABLE.format(preset="tiny"), "--cores", "1", "--config", "preset=tiny", "partial=true"], workdir
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(workdir / TABLE.format(preset="tiny"))
    ours = table[table["status"] == "ok"]
    assert len(ours) == 4 and (ours["ci_lo"] < ours["ours"]).all() and (ours["ours"] < ours["ci_hi"]).all()
    assert table.loc[table["status"] != "ok", ["ci_lo", "ci_hi"]].isna().all().all()
    # synthetic data and random models: no cell is judged against the paper
    assert (
        set(ours["verdict"]) == {"meaningless"}
        and not table["verdict"].isin(["reproduced", "above", "below"]).any()
    )
    md = (workdir / TABLE.format(preset="tiny")).with_suffix(".md").read_text()
    assert "79.7 ±9.4" in md and "**Verdicts:** verdicts meaningless" in md


def _scored(tasks: list[str], right: int, bootstrap) -> dict:
    """A gupta2023 metrics.json as the score rule writes it: 64 test rows per task of `tasks`, the
    first `right` of them answered right (ROUGE-L right / 64 x 100), the rest wrong."""
    from ftrepro.metrics import score_superni_predictions

    records = [
        {
            "task": t,
            "category": "Title Generation",
            "id": f"{t}-{i}",
            "prediction": "yes" if i < right else "no",
            "references": ["yes"],
        }
        for t in tasks
        for i in range(64)
    ]
    return score_superni_predictions(records, bootstrap=bootstrap)


def test_gupta2023_figure_1_1_and_the_case_study_from_the_finished_runs(workdir):
    """Figure 1.1 and the §5.2.5 case study through the real rules at tiny: the prompt lengths are
    measured from the derived data; the few-shot run, the MTL models and the task-242 pair have
    finished (their metrics stand in for the fits); every other cell reads "not run"."""
    from ftrepro import config as cfg
    from ftrepro import papers
    from ftrepro.jobs import METRICS, figure_file, in_preset, run_file, table_file
    from ftrepro.metrics import Bootstrap
    from ftrepro.papers.gupta2023 import runs as gupta_runs

    tiny = cfg.load(workdir / "config" / "config.yaml", {"preset": "tiny"})
    tokens = in_preset(table_file("gupta2023", "case_study_tokens", "json"), "tiny")
    measured = snakemake([tokens, "--cores", "1", "--config", "preset=tiny"], workdir)
    assert measured.returncode == 0, measured.stderr[-3000:]
    case, tasks = tiny.gupta2023.case_study, tiny.gupta2023.test_tasks
    lengths = json.loads((workdir / tokens).read_text())["tasks"]
    assert set(lengths) == {*tasks, case["ablation_task"]}  # derive adds the ablation's task
    assert all(t["n"] == 64 and 0 < t["median"] <= t["max"] for t in lengths.values())
    shared = papers.shared_runs(tiny, "gupta2023")
    setting = case["setting"]
    finished = {
        "fewshot.tk-instruct-3b": (tasks, 32),
        shared.get(f"mtl.{setting}", f"mtl.{setting}"): (tasks, 48),
        **{
            run: ([case["ablation_task"]], 40 + 16 * i)
            for i, run in enumerate(gupta_runs.ablation_pair(tiny))
        },
    }
    bootstrap = Bootstrap(tiny.stats.resamples, tiny.stats.seed)
    for run, (run_tasks, right) in finished.items():
        path = workdir / in_preset(run_file("gupta2023", run, METRICS), "tiny")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_scored(run_tasks, right, bootstrap)))
    targets = [
        in_preset(table_file("gupta2023", name, "csv"), "tiny") for name in ("case_study", "figure1_1_table")
    ]
    plan = snakemake([*targets, "-n", "--config", "preset=tiny", "partial=true"], workdir)
    assert job_stats(plan.stdout + plan.stderr) == {"gupta2023_report": 1}, plan.stdout[-3000:]
    result = snakemake([*targets, "--cores", "1", "--config", "preset=tiny", "partial=true"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]

    figure = pd.read_csv(workdir / targets[1])
    assert figure["paper"].tolist() == [54.30, 70.40, 73.14, 70.99]
    assert figure["ours"].tolist()[:3] == [50.0, 75.0, 75.0]  # 200 and 1000 share a model in tiny
    assert figure["status"].tolist() == ["ok", "ok", "ok", "not run"]
    figure_png = in_preset(figure_file("gupta2023", "figure1_1"), "tiny")
    assert (workdir / figure_png).read_bytes()[:4] == b"\x89PNG"

    table = pd.read_csv(workdir / targets[0]).set_index(["task", "column"])
    ablation = case["ablation_task"]
    assert table.loc[(ablation, "ablation: def-pos"), ["paper", "ours"]].tolist() == [0.63, 0.625]
    assert table.loc[(ablation, "ablation: def-pos1-neg1"), ["paper", "ours"]].tolist() == [1.00, 0.875]
    mtl = table.loc[("task1356_xlsum_title_generation", f"Tk-Instruct MTL ({setting})")]
    assert (mtl["paper"], mtl["ours"], mtl["status"]) == (0.03, 0.75, "ok")
    assert table.loc["task602_wikitext-103_answer_generation", "status"].eq("not run").all()
    md = (workdir / targets[0]).with_suffix(".md").read_text()
    length = lengths["task1356_xlsum_title_generation"]
    assert f"| {length['median']:.0f} / {length['max']} (" in md and "| 1256 " in md
    assert "## Deviations from the paper (gupta2023, preset tiny)" in md and "| task-242-ablation |" in md
