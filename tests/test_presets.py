"""issue 29.3: one preset's run never overwrites another's files, and a partial run (the tables from
the runs that finished) plans no job that has finished.

The demo's outputs are stood in for by empty files at every path its dry-run plans (outputs and
logs), all with one mtime, as a finished run leaves them; no job runs. Each test takes about 15 s
(three or four dry-runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import job_stats

from ftrepro.run import snakemake_command

TINY_REPORT = "results/tiny/report.html"


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def planned(workdir, preset: str, targets: list[str]) -> set[str]:
    """Every output and log file a dry-run of `preset` plans to write (snakemake --summary)."""
    command = [sys.executable, "-m", "snakemake", "-n", "--summary", "--cores", "1"]
    result = subprocess.run(
        [*command, "--config", f"preset={preset}", "--", *targets],
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    rows = [row for row in rows if len(row) >= 6 and row[0] != "output_file"]
    logs = {log.strip() for row in rows for log in row[3].split(",") if log.strip() not in ("", "-")}
    return {row[0] for row in rows} | logs


@pytest.fixture
def tiny_done(workdir):
    """The tiny demo's outputs and logs, as empty files with one mtime (nothing newer than another,
    nor than the config and code)."""
    files = planned(workdir, "tiny", ["all", TINY_REPORT])
    assert TINY_REPORT in files and len(files) > 100  # the whole demo, not a slice of it
    for path in sorted(files):
        target = workdir / path
        if not any(parent.is_file() for parent in target.parents):  # a directory output's files
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    now = time.time()  # after the config and code the plan and tables read
    for path in files:
        if (workdir / path).exists():
            os.utime(workdir / path, (now, now))
    return files


def test_a_mini_run_after_the_demo_plans_nothing_that_would_overwrite_the_demo_s_files(workdir, tiny_done):
    mini = planned(workdir, "mini", ["all", "results/mini/report.html"])
    assert mini and not mini & tiny_done
    assert not [path for path in mini if (workdir / path).exists()]
    # every file of either run is under its preset's directory of results/, resources/ or logs/
    for preset, files in (("tiny", tiny_done), ("mini", mini)):
        assert {path.split("/")[1] for path in files} == {preset}, preset


def _dry_run(workdir, extra: list[str], partial: bool) -> dict[str, int]:
    command = snakemake_command(
        "tiny",
        "1",
        [TINY_REPORT],
        [*extra, "--dry-run"],
        workdir / "events.jsonl",
        partial=partial,
        warm=False,
    )
    # the plugin's package from this checkout, as `ftrepro run` finds it
    env = {
        **_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [*sys.path[:1], os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout + result.stderr
    return job_stats(text) if "Job stats:" in text else {}


def test_the_partial_command_plans_no_finished_job_even_with_another_config(workdir, tiny_done):
    # as in a live run: the band2025 annotations redone (newer than the runs that read them), a table
    # and the report not made yet; and a --config that differs from the run's
    os.utime(workdir / "resources/tiny/annotations/band2025/properties.jsonl")
    for made_last in ("results/tiny/zhao2025/tables/table3.csv", TINY_REPORT):
        (workdir / made_last).unlink()
    extra = ["keep_checkpoints=true"]
    whole = _dry_run(workdir, extra, partial=False)
    assert whole.get("fit_band_encoder", 0) >= 1  # a plain run makes the band2025 encoders again
    partial = _dry_run(workdir, extra, partial=True)
    assert partial.get("zhao2025_table3") == 1 and partial.get("html_report") == 1
    assert set(partial) <= {"zhao2025_table3", "html_report", "all"}, partial
