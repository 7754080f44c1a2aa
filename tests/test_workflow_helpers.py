"""The job entry helpers: logs receive tracebacks; unbuilt families fail with their issue."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ftrepro.workflow import NotBuiltYet, job, not_built_yet


def fake_snakemake(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "job.log")], rule="fit_x", threads=1)


def test_job_failure_lands_in_the_log(tmp_path):
    sm = fake_snakemake(tmp_path)
    with pytest.raises(ValueError), job(sm) as log:
        log.info("started")
        raise ValueError("bad row 7")
    text = (tmp_path / "job.log").read_text()
    assert "started" in text and "ValueError: bad row 7" in text


def test_unbuilt_family_names_its_issue(tmp_path):
    sm = fake_snakemake(tmp_path)
    with pytest.raises(NotBuiltYet, match="issue 5"):
        not_built_yet(sm, "gupta2023 seq2seq", "issue 5: gupta2023")
    assert "not implemented yet (issue 5" in (tmp_path / "job.log").read_text()
