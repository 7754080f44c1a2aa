"""ftrepro.run: the console lines per job (start; end with wall time and result; failure; progress
bars) and the time per stage, from snakemake's output."""

from __future__ import annotations

import json

from ftrepro.run import Job, Progress, headline, last_bar, snakemake_command, stage_times, tables_only

OUTPUT = """\
Job stats:
job                 count
----------------  -------
fit_zhao_decoder        1
score                   1
total                   2

[Fri Dec  4 03:00:00 2026]
localrule fit_zhao_decoder:
    input: resources/models/base/llama2-7b
    output: results/zhao2025/20ng-7class.llama2-7b.zero-shot.ft/predictions.jsonl
    log: logs/zhao2025/fit/20ng-7class.llama2-7b.zero-shot.ft.log
    jobid: 7
    wildcards: task=20ng-7class
[Fri Dec  4 03:00:09 2026]
Finished jobid: 7 (Rule: fit_zhao_decoder)
[Fri Dec  4 03:00:10 2026]
localrule derive_massive:
    output: resources/derived/massive/train.jsonl, resources/derived/massive/dev.jsonl
    jobid: 3
"""


def test_each_job_is_named_by_paper_stage_and_run():
    progress = Progress()
    events = [event for line in OUTPUT.splitlines(keepends=True) if (event := progress.feed(line))]
    jobs = [event.job for event in events if event.kind == "start"]
    assert progress.total == 2
    assert [(j.jobid, j.paper, j.stage, j.what) for j in jobs] == [
        (7, "zhao2025", "fit", "20ng-7class.llama2-7b.zero-shot.ft"),
        (3, "data", "data", "massive"),
    ]
    assert progress.jobs[7].end is not None and progress.jobs[3].end is None
    assert progress.done == 1
    assert "zhao2025  fit     20ng-7class.llama2-7b.zero-shot.ft" in progress.line(jobs[0])


def test_stage_times_add_up_jobs_and_fit_families():
    jobs = [
        Job("fit_zhao_decoder", 1, start=0.0, end=10.0),
        Job("fit_zhao_decoder", 2, start=2.0, end=8.0),
        Job("score", 3, start=10.0, end=11.0),
        Job("score", 4, start=11.0),  # not finished: left out
    ]
    times = stage_times(jobs)
    assert times["fit"] == {"jobs": 2, "busy_s": 16.0, "span_s": 10.0}
    assert times["fit: zhao2025 decoders"]["jobs"] == 2
    assert times["score"] == {"jobs": 1, "busy_s": 1.0, "span_s": 1.0}


def test_the_demo_runs_the_tiny_preset_through_the_warm_interpreter_one_thread_a_job():
    command = snakemake_command("tiny", "2", ["results/report.html"], [])
    assert command[1:4] == ["-m", "ftrepro.warm", "snakemake"]
    assert command[command.index("--max-threads") + 1] == "1"
    assert "preset=tiny" in command and command[-2:] == ["--", "results/report.html"]


FAILING = """\
Job stats:
job                 count
----------------  -------
fit_zhao_encoder        1
score                   1
total                   2

[Fri Dec  4 03:00:00 2026]
rule score:
    input: results/zhao2025/massive-intent.roberta-base.ft/predictions.jsonl
    output: results/zhao2025/massive-intent.roberta-base.ft/metrics.json
    log: logs/zhao2025/score/massive-intent.roberta-base.ft.log
    jobid: 4
[Fri Dec  4 03:00:02 2026]
Finished jobid: 4 (Rule: score)
[Fri Dec  4 03:00:03 2026]
rule fit_zhao_encoder:
    input: resources/derived/massive/train.jsonl
    output: results/zhao2025/massive-slots.roberta-base.ft/predictions.jsonl
    log: logs/zhao2025/fit/massive-slots.roberta-base.ft.log
    jobid: 9
[Fri Dec  4 03:01:03 2026]
Error in rule fit_zhao_encoder:
    message: None
    jobid: 9
    input: resources/derived/massive/train.jsonl
    output: results/zhao2025/massive-slots.roberta-base.ft/predictions.jsonl
    log: logs/zhao2025/fit/massive-slots.roberta-base.ft.log (check log file(s) for error details)
"""


def test_a_scored_run_ends_with_its_result_and_a_failed_one_names_its_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "results/zhao2025/massive-intent.roberta-base.ft"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(
        json.dumps({"intent_accuracy": 87.25, "constrained_intent_accuracy": 1.0})
    )
    progress = Progress()
    lines = [progress.describe(e) for line in FAILING.splitlines(keepends=True) if (e := progress.feed(line))]
    assert [line.split()[0] for line in lines] == ["[", "done", "[", "FAILED"]
    assert lines[1].startswith("  done   massive-intent.roberta-base.ft in ")
    assert lines[1].endswith(": intent_accuracy 87.25")  # the constrained score is a side number
    assert lines[3].endswith("see logs/zhao2025/fit/massive-slots.roberta-base.ft.log")
    assert progress.jobs[9].failed and progress.done == 1
    assert stage_times(progress.jobs.values())["score"]["jobs"] == 1 and "fit" not in stage_times(
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


def test_partial_tables_are_rebuilt_for_report_targets_only():
    assert tables_only(["results/report.html", "results/zhao2025/x.ft/metrics.json", "zhao2025"]) == [
        "results/report.html",
        "zhao2025",
    ]
    assert tables_only(
        ["results/band2025/x.lora/predictions.jsonl", "results/gupta2023/figures/figure5_1.png"]
    ) == ["results/gupta2023/figures/figure5_1.png"]
    command = snakemake_command("mini", "2", ["results/report.html"], [], partial=True)
    config = command[command.index("--config") + 1 : command.index("--")]
    assert config == ["preset=mini", "partial=true"] and "--max-threads" not in command


def test_a_run_that_lost_jobs_builds_its_tables_from_the_finished_runs(tmp_path, monkeypatch):
    """After a failure the report targets are made again with partial=true; the job targets are not."""
    import io
    import sys

    from ftrepro import run as console

    monkeypatch.chdir(tmp_path)
    calls = []

    def fake_snakemake(preset, cores, targets, extra, partial=False):
        calls.append((list(targets), partial))
        text, code = ("Job stats:\n", 0) if partial else (FAILING, 1)
        return [sys.executable, "-c", f"import sys; sys.stdout.write({text!r}); sys.exit({code})"]

    monkeypatch.setattr(console, "snakemake_command", fake_snakemake)
    out = io.StringIO()
    code = console.run("mini", "2", ["results/report.html", "results/zhao2025/a.ft/metrics.json"], out=out)
    assert code == 1
    assert calls == [
        (["results/report.html", "results/zhao2025/a.ft/metrics.json"], False),
        (["results/report.html"], True),
    ]
    assert (
        "1 job(s) failed" in out.getvalue() and "from the runs that finished (partial=true)" in out.getvalue()
    )
    timings = json.loads((tmp_path / "logs/run/mini/timings.json").read_text())
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
        assert console.run(preset, "1", ["results/report.html"], extra, out=out) == 0
        return out.getvalue().splitlines()

    asked = lines("paper", ["--config", "data={'source': 'synthetic'}", "--dry-run"])
    said = [i for i, line in enumerate(asked) if "synthetic data (data.source: synthetic)" in line]
    assert said and said[0] <= 2 and said[-1] == len(asked) - 1  # at the start and at the end
    assert any("synthetic data" in line for line in lines("tiny")[:3])
    real = lines("mini", ["--config", "data={'source': 'local', 'local_dir': '../shared/data'}"])
    assert "  data: the real datasets (data.source: local from ../shared/data)" in real
    assert not any("synthetic" in line for line in real)
