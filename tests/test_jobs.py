"""The papers' job tables (ftrepro.papers.jobs): one row per output, found from a rule's wildcards,
every rule of a paper's rules file registered, and no paper named in the shared layers."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import papers


@pytest.fixture(scope="module")
def paper() -> cfg.Config:
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})


def test_each_job_is_one_output_found_from_its_rules_wildcards(paper):
    table = papers.jobs(paper, every=True)
    outputs = [path for job in table for path in job.files]
    assert len(outputs) == len(set(outputs))
    rules = papers.rules(paper)
    for job in table:
        if job.rule in rules:  # a paper's rule, found as common.smk finds it (Rule.output_at)
            assert rules[job.rule].output_at({"preset": paper.preset, **job.wildcards}) == job.output
            assert job.paper == rules[job.rule].paper and job.name == rules[job.rule].run.format(
                **job.wildcards
            )


def test_the_dags_table_leaves_out_the_api_runs_without_a_key_and_the_shared_runs(paper):
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    made = {job.name for job in papers.jobs(tiny, with_api=False) if job.paper == "zhao2025"}
    assert not made & set(papers.shared_runs(tiny, "zhao2025"))
    assert not any(".gpt-" in name for name in made)
    assert {job.name for job in papers.jobs(paper, with_api=True)} >= set(papers.runs(paper, "zhao2025"))


def test_every_rule_of_a_papers_rules_file_is_in_its_registration(paper):
    """The console reads each rule's paper, stage and family here (ftrepro.papers.rules)."""
    registered = papers.rules(paper)
    for name, registration in papers.registered(paper).items():
        text = (REPO / registration.rules_file).read_text()
        declared = set(re.findall(r"^(?:use )?rule (\w+)(?::| as (\w+) with:)", text, flags=re.M))
        rules = {alias or rule for rule, alias in declared}
        assert rules and all(registered[rule].paper == name for rule in rules), rules - set(registered)


def test_the_shared_layers_name_no_paper(paper):
    """Paper knowledge lives in the papers' packages (and the config layer resolves their sections
    through them). run.py and warm.py are left to issue 27's items 5 and 7 (the console's events
    and the warm server), which replace their lists of rules and modules."""
    pending = {"run.py", "warm.py"}
    named = re.compile("|".join(papers.ids(paper)))
    src = REPO / "src" / "ftrepro"
    found = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("*.py"))
        if "papers" not in path.relative_to(src).parts and path.name not in pending
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if named.search(line)
    ]
    assert found == []


def test_every_training_rule_declares_its_runs_train_log(paper):
    """train_log.jsonl is an output of every rule that trains a run (issue 29 item 2), at the path
    ftrepro.fit writes it to, and of no other rule."""
    from ftrepro.fit import train_log_path

    training = {
        "fit_zhao_encoder",
        "fit_zhao_decoder",
        "fit_gupta_stl",
        "fit_gupta_mtl",
        "fit_gupta_ablation",
    }
    training |= {"fit_band_encoder", "fit_band_lora"}
    rules = papers.rules(paper)
    assert {name for name, rule in rules.items() if "train_log" in rule.output} == training
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})  # seeds: a run per seed
    seeded = 0
    for job in [*papers.jobs(paper, every=True), *papers.jobs(mini, every=True)]:
        if job.rule in training:
            assert job.outputs["train_log"] == str(train_log_path(job.outputs["predictions"]))
            seeded += ".seed" in job.name
    assert seeded  # each seed's run keeps its own log


def test_the_report_takes_the_train_logs_of_the_finished_runs(paper, tmp_path):
    table = papers.jobs(paper, every=True)
    done = next(job for job in table if job.rule == "fit_gupta_mtl")
    metrics = tmp_path / done.outputs["predictions"].replace("predictions.jsonl", "metrics.json")
    metrics.parent.mkdir(parents=True)
    metrics.write_text("{}")
    everything = papers.train_logs(paper, table, tmp_path)
    assert len(everything["gupta2023"]["mtl"]) > 1  # all of them, made before the report
    partial = cfg.load(REPO / "config" / "config.yaml", {"preset": "paper", "partial": True})
    logs = papers.train_logs(partial, table, tmp_path)  # only the runs finished now
    assert logs["gupta2023"]["mtl"] == {done.name: done.outputs["train_log"]}
    assert logs["gupta2023"]["stl"] == {} and logs["zhao2025"]["encoder"] == {}
