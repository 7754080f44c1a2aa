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
