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


def test_a_job_writes_its_provenance_beside_its_log(tmp_path):
    from ftrepro import provenance

    sm = SimpleNamespace(
        log=[str(tmp_path / "run.log")],
        rule="fit_x",
        threads=1,
        config={"preset": "tiny", "data": {"seed": 42}},
        resources={"gpu": 2},
        wildcards={"task": "t"},
        scriptdir=str(tmp_path),
    )
    with job(sm) as log:
        log.info("working")
    record = provenance.read(tmp_path / "run.log")
    assert (tmp_path / "run.provenance.json").exists()
    assert record["status"] == "ok" and record["rule"] == "fit_x" and record["preset"] == "tiny"
    assert record["wildcards"] == {"task": "t"} and record["hardware"]["gpus"] == 2
    assert record["gpu_hours"] == round(record["wall_s"] / 3600 * 2, 4)
    assert record["config_hash"] == provenance.config_hash(sm.config) and len(record["config_hash"]) == 12
    assert record["git_commit"] is None  # tmp_path is no repository
    assert record["packages"]["torch"] and record["log"] == sm.log[0]
    with pytest.raises(ValueError), job(sm):
        raise ValueError("broken")
    assert provenance.read(tmp_path / "run.log")["status"] == "failed"


def test_provenance_records_the_data_source_and_the_raw_digest_of_what_the_job_read(tmp_path, monkeypatch):
    """issue 24: every run's provenance names its data source and the SHA256SUMS it was made from."""
    import hashlib

    import yaml
    from conftest import REPO

    from ftrepro import provenance

    monkeypatch.chdir(tmp_path)
    sums = tmp_path / "resources/raw/massive/SHA256SUMS"
    sums.parent.mkdir(parents=True)
    sums.write_text(f"{'0' * 64}  en-US.jsonl\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sm = SimpleNamespace(
        log=[str(tmp_path / "run.log")],
        rule="fit_x",
        threads=1,
        config={**config, "preset": "mini"},
        input=["resources/derived/massive/train.jsonl", "resources/models/base/roberta-base"],
        output=["results/zhao2025/massive-intent.roberta-base.ft/predictions.jsonl"],
        scriptdir=str(tmp_path),
    )
    with job(sm):
        pass
    data = provenance.read(tmp_path / "run.log")["data"]
    assert data == {
        "source": "hub",
        "raw_sha256sums": {"massive": hashlib.sha256(sums.read_bytes()).hexdigest()},
    }
    sm.config = {**config, "data": {**config["data"], "source": "synthetic"}}
    sm.input = ["resources/derived/arena/train.jsonl"]
    with job(sm):
        pass
    assert provenance.read(tmp_path / "run.log")["data"] == {
        "source": "synthetic",
        "raw_sha256sums": {"arena": None},
    }
