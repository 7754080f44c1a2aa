"""ftrepro.run: the console lines per job (start; end with wall time and result; failure; progress
bars) and the time per stage, from Snakemake's events (the logger plugin `ftrepro`)."""

from __future__ import annotations

import io
import json
import shutil
import sys
import time

import pytest
from conftest import REPO, snakemake

from ftrepro import run as console
from ftrepro.run import (
    PAPERS,
    Job,
    Progress,
    headline,
    last_bar,
    moved_bars,
    rule_names,
    rule_stages,
    snakemake_command,
    stage_times,
    tables_only,
)

T0 = 1_700_000_000.0  # the run's start, seconds since the epoch as events carry it


def job_start(jobid: int, rule: str, output: list[str], log: list[str], at: float, **wildcards) -> list:
    """A job's start as snakemake_logger_plugin_ftrepro writes it: Snakemake announces the job
    (job_started), then describes it (job_info, with the fields the console reads)."""
    started = {"event": "job_started", "jobs": [jobid], "time": T0 + at}
    return [
        started,
        {
            "event": "job_info",
            "jobid": jobid,
            "rule_name": rule,
            "output": output,
            "log": log,
            "wildcards": wildcards,
            "time": T0 + at,
        },
    ]


EVENTS = [
    {"event": "run_info", "stats": {"fit_zhao_decoder": 1, "score": 1, "total": 2}, "time": T0},
    *job_start(
        7,
        "fit_zhao_decoder",
        ["results/mini/zhao2025/20ng-7class.llama2-7b.zero-shot.ft/predictions.jsonl"],
        ["logs/mini/zhao2025/fit/20ng-7class.llama2-7b.zero-shot.ft.log"],
        0.0,
        task="20ng-7class",
    ),
    {"event": "job_finished", "job_id": 7, "time": T0 + 9},
    {"event": "progress", "done": 1, "total": 2, "time": T0 + 9},
    *job_start(
        3,
        "derive_massive",
        ["resources/mini/derived/massive/train.jsonl", "resources/mini/derived/massive/dev.jsonl"],
        ["logs/derive/massive.log"],
        10.0,
    ),
]


def _progress() -> Progress:
    return Progress(rule_stages(REPO), started=T0)


def test_a_job_s_stage_is_its_rules_in_the_job_table_or_the_rules_file_that_defines_it(workdir):
    stages = rule_stages(REPO)
    assert (
        stages["fit_zhao_decoder"],
        stages["fit_gupta_mtl"],
        stages["derive_massive"],
        stages["score"],
    ) == (
        "train",
        "train",  # a `use rule ... as` rule
        "derive",
        "evaluate",
    )
    listed = snakemake(["--list-rules", "--config", "preset=tiny"], workdir)
    assert listed.returncode == 0, listed.stderr[-2000:]
    names = {line.split()[0] for line in listed.stdout.splitlines() if line[:1].strip()}  # not a docstring
    # the Snakefile's `all` and each paper's target (its id) have no stage
    assert names == set(stages) | {"all", *PAPERS} == rule_names(REPO)


def test_each_job_is_named_by_paper_stage_and_run():
    progress = _progress()
    events = [event for e in EVENTS if (event := progress.feed(e))]
    jobs = [event.job for event in events if event.kind == "start"]
    assert progress.total == 2
    assert [(j.jobid, j.paper, j.stage, j.what) for j in jobs] == [
        (7, "zhao2025", "train", "20ng-7class.llama2-7b.zero-shot.ft"),
        (3, "data", "derive", "massive"),
    ]
    assert progress.jobs[7].end is not None and progress.jobs[3].end is None
    assert progress.done == 1
    assert "zhao2025  train    20ng-7class.llama2-7b.zero-shot.ft" in progress.line(jobs[0])


def test_stage_times_add_up_jobs_and_training_families():
    jobs = [
        Job("fit_zhao_decoder", 1, start=0.0, end=10.0, stage="train"),
        Job("fit_zhao_decoder", 2, start=2.0, end=8.0, stage="train"),
        Job("score", 3, start=10.0, end=11.0, stage="evaluate"),
        Job("score", 4, start=11.0, stage="evaluate"),  # not finished: left out
    ]
    times = stage_times(jobs)
    assert times["train"] == {"jobs": 2, "busy_s": 16.0, "span_s": 10.0}
    assert times["train: fit_zhao_decoder"]["jobs"] == 2
    assert times["evaluate"] == {"jobs": 1, "busy_s": 1.0, "span_s": 1.0}
    assert not any(name.startswith("evaluate: ") for name in times)  # families of training only


def test_the_demo_runs_the_tiny_preset_through_the_warm_interpreter_one_thread_a_job(tmp_path):
    command = snakemake_command("tiny", "2", ["results/tiny/report.html"], [], tmp_path / "events.jsonl")
    assert command[1:4] == ["-m", "ftrepro.warm", "snakemake"]
    assert command[command.index("--max-threads") + 1] == "1"
    assert "preset=tiny" in command and command[-2:] == ["--", "results/tiny/report.html"]
    assert command[command.index("--logger") + 1] == "ftrepro"
    assert command[command.index("--logger-ftrepro-events") + 1] == str(tmp_path / "events.jsonl")


FAILING = [
    {"event": "run_info", "stats": {"fit_zhao_encoder": 1, "score": 1, "total": 2}, "time": T0},
    *job_start(
        4,
        "score",
        ["results/mini/zhao2025/massive-intent.roberta-base.ft/metrics.json"],
        ["logs/mini/zhao2025/score/massive-intent.roberta-base.ft.log"],
        0.0,
        paper="zhao2025",
        run="massive-intent.roberta-base.ft",
    ),
    {"event": "job_finished", "job_id": 4, "time": T0 + 2},
    *job_start(
        9,
        "fit_zhao_encoder",
        ["results/mini/zhao2025/massive-slots.roberta-base.ft/predictions.jsonl"],
        ["logs/mini/zhao2025/fit/massive-slots.roberta-base.ft.log"],
        3.0,
    ),
    {"event": "error", "exception": "RuleException", "time": T0 + 63},
    {
        "event": "job_error",
        "rule_name": "fit_zhao_encoder",
        "jobid": 9,
        "output": ["results/mini/zhao2025/massive-slots.roberta-base.ft/predictions.jsonl"],
        "log": ["logs/mini/zhao2025/fit/massive-slots.roberta-base.ft.log"],
        "time": T0 + 63,
    },
]


def test_a_scored_run_ends_with_its_result_and_a_failed_one_names_its_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "results/mini/zhao2025/massive-intent.roberta-base.ft"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(
        json.dumps({"intent_accuracy": 87.25, "constrained_intent_accuracy": 1.0})
    )
    progress = _progress()
    lines = [progress.describe(e) for event in FAILING if (e := progress.feed(event))]
    assert [line.split()[0] for line in lines] == ["[", "done", "[", "FAILED"]
    assert lines[1].startswith("  done   massive-intent.roberta-base.ft in ")
    assert lines[1].endswith(": intent_accuracy 87.25")  # the constrained score is a side number
    assert lines[3].endswith("see logs/mini/zhao2025/fit/massive-slots.roberta-base.ft.log")
    assert "after 1m00s (rule fit_zhao_encoder)" in lines[3]  # the events' own times
    assert progress.jobs[9].failed and progress.done == 1
    assert stage_times(progress.jobs.values())["evaluate"]["jobs"] == 1 and "train" not in stage_times(
        progress.jobs.values()
    )


def test_headline_takes_accuracies_f1_rouge_and_log_loss_only():
    metrics = {
        "intent_accuracy": 91.0,
        "slots_f1": 80.5,
        "exact_match": 70.0,
        "n_examples": 64,
        "log_loss": 0.5,
    }
    assert headline(metrics) == "intent_accuracy 91, slots_f1 80.5, log_loss 0.5"
    assert headline({"rougeL": 41.234567, "exact_match": 3.0}) == "rougeL 41.23"
    assert headline({"n_examples": 3}) == ""


def test_last_bar_is_the_latest_tqdm_redraw_in_the_log(tmp_path):
    log = tmp_path / "fit.log"
    log.write_text(
        "INFO loading\r 10%|#         | 2/20 [00:01<00:09]\r 15%|#5        | 3/20 [00:02<00:08]\nINFO step 3\n"
    )
    assert last_bar(log) == "15%|#5        | 3/20 [00:02<00:08]"
    log.write_text(
        "generate:  49%|####9     | 39/80 [00:04<00:04,  9.99it/s]2026-12-04 10:47:17 INFO step 40\n"
    )
    assert last_bar(log) == "generate:  49%|####9     | 39/80 [00:04<00:04,  9.99it/s]"
    log.write_text("INFO no bar yet\n")
    assert last_bar(log) is None and last_bar(tmp_path / "missing.log") is None


def test_a_job_running_longer_than_the_interval_shows_its_bar_when_it_moves(tmp_path):
    log = tmp_path / "fit.log"
    progress = Progress(started=time.time() - 100)
    progress.jobs[1] = Job("fit_toy", 1, "results/mini/zhao2025/a.ft/predictions.jsonl", str(log), start=0.0)
    progress.jobs[2] = Job("fit_toy", 2, "results/mini/zhao2025/b.ft/predictions.jsonl", str(log), start=90.0)
    shown: dict[int, str] = {}
    log.write_text("train:  10%|#         | 2/20 [00:01<00:09]")
    assert moved_bars(progress, shown, every=60) == [
        "  ...    a.ft: train:  10%|#         | 2/20 [00:01<00:09]"
    ]
    assert moved_bars(progress, shown, every=60) == []  # the same bar again: no line
    log.write_text("train:  15%|#5        | 3/20 [00:02<00:08]")
    assert len(moved_bars(progress, shown, every=60)) == 1
    progress.jobs[1].end = 101.0
    log.write_text("train:  20%|##        | 4/20 [00:02<00:08]")
    assert moved_bars(progress, shown, every=60) == []  # ended, and job 2 runs for less than 60 s


def test_partial_tables_are_rebuilt_for_report_targets_only(tmp_path):
    assert tables_only(
        ["results/mini/report.html", "results/mini/zhao2025/x.ft/metrics.json", "zhao2025"], "mini"
    ) == [
        "results/mini/report.html",
        "zhao2025",
    ]
    assert tables_only(
        ["results/mini/band2025/x.lora/predictions.jsonl", "results/mini/gupta2023/figures/figure5_1.png"],
        "mini",
    ) == ["results/mini/gupta2023/figures/figure5_1.png"]
    command = snakemake_command("mini", "2", ["results/mini/report.html"], [], tmp_path / "e", partial=True)
    config = command[command.index("--config") + 1 : command.index("--")]
    assert config == ["preset=mini", "partial=true"] and "--max-threads" not in command
    # issue 29.3: a partial run may run the report rules only, so it re-plans nothing upstream
    allowed = command[command.index("--allowed-rules") + 1 : command.index("--nolock")]
    assert {"zhao2025_table3", "band2025_report", "html_report", "all"} <= set(allowed)
    assert not any(rule.startswith(("fit_", "predict_", "derive_")) or rule == "score" for rule in allowed)


def _fake_snakemake(calls: list, events: list[dict], code: int):
    """A snakemake_command whose process writes `events` to its events file and exits with `code`
    (a partial=true run writes none and succeeds)."""

    def command(preset, cores, targets, extra, events_path, partial=False, warm=True):
        calls.append((list(targets), partial))
        lines = "" if partial else "".join(json.dumps(e) + "\n" for e in events)
        script = f"import sys; open({str(events_path)!r}, 'a').write({lines!r}); sys.exit({0 if partial else code})"
        return [sys.executable, "-c", script, "--logger-ftrepro-events", str(events_path)]

    return command


def test_a_run_that_lost_jobs_builds_its_tables_from_the_finished_runs(tmp_path, monkeypatch):
    """After a failure the report targets are made again with partial=true; the job targets are not."""
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(console, "snakemake_command", _fake_snakemake(calls, FAILING, 1))
    out = io.StringIO()
    code = console.run(
        "mini", "2", ["results/mini/report.html", "results/mini/zhao2025/a.ft/metrics.json"], out=out
    )
    assert code == 1
    assert calls == [
        (["results/mini/report.html", "results/mini/zhao2025/a.ft/metrics.json"], False),
        (["results/mini/report.html"], True),
    ]
    assert (
        "1 job(s) failed" in out.getvalue() and "from the runs that finished (partial=true)" in out.getvalue()
    )
    timings = json.loads((tmp_path / "logs/mini/run/timings.json").read_text())
    assert timings["exit_status"] == 1 and [j["failed"] for j in timings["job_times"]] == [False, True]


def test_the_console_says_what_data_the_run_reads_at_its_start_and_end(tmp_path, monkeypatch):
    """issue 24: synthetic data is said when the run starts and when it ends; real data names its source."""
    import io
    import sys

    from conftest import REPO

    from ftrepro import run as console

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").symlink_to(REPO / "config")
    ok = [sys.executable, "-c", "print('Job stats:')"]
    monkeypatch.setattr(console, "snakemake_command", lambda *args, **kwargs: ok)

    def lines(preset, extra=()):
        out = io.StringIO()
        assert console.run(preset, "1", ["results/mini/report.html"], extra, out=out) == 0
        return out.getvalue().splitlines()

    asked = lines("paper", ["--config", "data={'source': 'synthetic'}", "--dry-run"])
    said = [i for i, line in enumerate(asked) if "synthetic data (data.source: synthetic)" in line]
    assert said and said[0] <= 2 and said[-1] == len(asked) - 1  # at the start and at the end
    assert any("synthetic data" in line for line in lines("tiny")[:3])
    real = lines("mini", ["--config", "data={'source': 'local', 'local_dir': '../shared/data'}"])
    assert "  data: the real datasets (data.source: local from ../shared/data)" in real
    assert not any("synthetic" in line for line in real)


def test_a_run_with_nothing_to_do_keeps_the_last_run_s_timings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    timings = tmp_path / "logs/mini/run/timings.json"
    monkeypatch.setattr(console, "snakemake_command", _fake_snakemake([], EVENTS[:4], 0))
    assert console.run("mini", "2", ["all"], out=io.StringIO()) == 0
    real = json.loads(timings.read_text())
    assert real["jobs"] == 1 and real["job_times"][0]["rule"] == "fit_zhao_decoder"
    nothing = [{"event": "workflow_started", "time": T0}]  # Snakemake's "Nothing to be done"
    monkeypatch.setattr(console, "snakemake_command", _fake_snakemake([], nothing, 0))
    out = io.StringIO()
    assert console.run("mini", "2", ["all"], out=out) == 0
    assert json.loads(timings.read_text()) == real
    assert "nothing to do" in out.getvalue()
    dry_run = [e for e in EVENTS if e["event"] != "job_started"]  # described, never started
    monkeypatch.setattr(console, "snakemake_command", _fake_snakemake([], dry_run, 0))
    out = io.StringIO()
    assert console.run("mini", "2", ["all"], out=out) == 0
    assert json.loads(timings.read_text()) == real
    assert "a dry run, 2 jobs to do" in out.getvalue() and "] zhao2025" not in out.getvalue()


TOY_RULES = """\
rule fit_toy:
    output:
        "results/toy/zhao2025/a.ft/metrics.json",
    log:
        "logs/toy/zhao2025/fit/a.ft.log",
    shell:
        "echo '{{\\"intent_accuracy\\": 75.0}}' > {output}"


rule broken_toy:
    output:
        "results/toy/zhao2025/broken.ft/predictions.jsonl",
    log:
        "logs/toy/zhao2025/fit/broken.ft.log",
    shell:
        "exit 3"
"""


@pytest.fixture
def toy_workflow(tmp_path, monkeypatch):
    """A workflow with one rules file (workflow/rules/train.smk) and the project's local profile;
    Snakemake runs it with the logger plugin from this checkout."""
    (tmp_path / "workflow/rules").mkdir(parents=True)
    (tmp_path / "workflow/rules/train.smk").write_text(TOY_RULES)
    (tmp_path / "Snakefile").write_text('include: "workflow/rules/train.smk"\n')
    shutil.copytree(REPO / "profiles/local", tmp_path / "profiles/local")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(REPO / "src"))
    return tmp_path


def test_snakemake_s_events_reach_the_console_through_the_logger_plugin(toy_workflow):
    out = io.StringIO()
    targets = ["results/toy/zhao2025/a.ft/metrics.json", "results/toy/zhao2025/broken.ft/predictions.jsonl"]
    code = console.run("toy", "1", targets, out=out, warm=False)
    lines = out.getvalue().splitlines()
    assert code != 0
    assert any(line.endswith("] zhao2025  train    a.ft") for line in lines), lines
    assert any(
        line.startswith("  done   a.ft in ") and line.endswith(": intent_accuracy 75") for line in lines
    )
    assert any(
        "FAILED broken.ft" in line and line.endswith("see logs/toy/zhao2025/fit/broken.ft.log")
        for line in lines
    )
    timings = json.loads((toy_workflow / "logs/toy/run/timings.json").read_text())
    assert timings["jobs"] == 2 and timings["stages"]["train"]["jobs"] == 1
    assert "train: fit_toy" in timings["stages"] and timings["exit_status"] == code
