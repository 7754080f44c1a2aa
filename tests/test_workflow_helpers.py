"""The job entry helpers: logs receive tracebacks."""

from __future__ import annotations

import shutil
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


# Every rule of the workflow whose jobs resume their work (a work_dir param), with its params: the
# values given in the rules file, or a placeholder where a function of the job gives them.
RULE_PARAMS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings, StorageSettings
with SnakemakeApi() as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(config={"preset": "tiny"}),
        storage_settings=StorageSettings(),
        snakefile=Path("Snakefile"),
        workdir=Path("."),
    )._workflow
    rules = {}
    for rule in workflow.rules:
        names = sorted(rule.params._names, key=lambda name: rule.params._names[name][0])
        if "work_dir" in names:
            values = [rule.params[rule.params._names[name][0]] for name in names]
            rules[rule.name] = {n: None if callable(v) else v for n, v in zip(names, values)}
    print(json.dumps(rules, default=str))
"""


@pytest.fixture(scope="module")
def resumable_rules(tmp_path_factory) -> dict[str, dict]:
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO, WORKFLOW_FILES

    workdir = tmp_path_factory.mktemp("rules")
    for name in WORKFLOW_FILES:
        (workdir / name).symlink_to(REPO / name)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", RULE_PARAMS], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_a_change_to_any_param_of_a_training_rule_is_not_resumed(resumable_rules, tmp_path):
    """ftrepro.workflow.fingerprint stamps every param of the rule and every input: a checkpoint left
    by a job with any other param value, or another input, is wiped instead of resumed."""
    from snakemake.iocontainers import Namedlist

    from ftrepro.fit import prepare_work_dir
    from ftrepro.workflow import fingerprint

    data = tmp_path / "train.jsonl"
    data.write_text("{}\n")

    def job(params: dict):
        return SimpleNamespace(
            params=Namedlist(fromdict=params), input=Namedlist(fromdict={"train": str(data)})
        )

    assert {"fit_band_lora", "fit_zhao_encoder", "fit_gupta_stl", "prefinetune_t5"} <= set(resumable_rules)
    work = tmp_path / "work"
    for rule, given in resumable_rules.items():
        params = {name: f"<{name} of the job>" if value is None else value for name, value in given.items()}
        for name in params:
            prepare_work_dir(work, fingerprint(job(params)))
            (work / "checkpoint-1").mkdir()
            prepare_work_dir(work, fingerprint(job(params)))  # the same job resumes
            assert (work / "checkpoint-1").is_dir(), rule
            prepare_work_dir(work, fingerprint(job({**params, name: ["changed", params[name]]})))
            assert not (work / "checkpoint-1").exists(), f"{rule}: a changed {name} resumed the checkpoint"
            shutil.rmtree(work)
        prepare_work_dir(work, fingerprint(job(params)))
        (work / "checkpoint-1").mkdir()
        data.write_text("{}\n{}\n")  # another input
        prepare_work_dir(work, fingerprint(job(params)))
        assert not (work / "checkpoint-1").exists(), f"{rule}: a changed input resumed the checkpoint"
        shutil.rmtree(work)


def test_provenance_records_the_data_source_and_the_raw_digest_of_what_the_job_read(tmp_path, monkeypatch):
    """issue 24: every run's provenance names its data source and the SHA256SUMS it was made from."""
    import hashlib

    import yaml
    from conftest import REPO

    from ftrepro import provenance

    monkeypatch.chdir(tmp_path)
    sums = tmp_path / "resources/mini/raw/massive/SHA256SUMS"
    sums.parent.mkdir(parents=True)
    sums.write_text(f"{'0' * 64}  en-US.jsonl\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sm = SimpleNamespace(
        log=[str(tmp_path / "run.log")],
        rule="fit_x",
        threads=1,
        config={**config, "preset": "mini"},
        input=["resources/mini/derived/massive/train.jsonl", "resources/mini/models/base/roberta-base"],
        output=["results/mini/zhao2025/massive-intent.roberta-base.ft/predictions.jsonl"],
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
    sm.input = ["resources/mini/derived/arena/train.jsonl"]
    with job(sm):
        pass
    assert provenance.read(tmp_path / "run.log")["data"] == {
        "source": "synthetic",
        "raw_sha256sums": {"arena": None},
    }
