"""The job entry helpers: logs receive tracebacks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ftrepro.workflow import job


def fake_snakemake(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "job.log")], rule="fit_x", threads=1)


def test_job_failure_lands_in_the_log(tmp_path):
    sm = fake_snakemake(tmp_path)
    with pytest.raises(ValueError), job(sm) as log:
        log.info("started")
        raise ValueError("bad row 7")
    text = (tmp_path / "job.log").read_text()
    assert "started" in text and "ValueError: bad row 7" in text
