"""ftrepro.demo: the line per job (paper, stage, run) and the time per stage, from snakemake's output."""

from __future__ import annotations

from ftrepro.demo import Job, Progress, snakemake_command, stage_times

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
    jobs = [job for line in OUTPUT.splitlines(keepends=True) if (job := progress.feed(line))]
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
    command = snakemake_command("2", ["results/report.html"], [])
    assert command[1:4] == ["-m", "ftrepro.warm", "snakemake"]
    assert command[command.index("--max-threads") + 1] == "1"
    assert "preset=tiny" in command and command[-2:] == ["--", "results/report.html"]
