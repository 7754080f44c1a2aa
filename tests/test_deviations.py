"""The deviation registries (issue 24 item 3): every preset's settings that differ from a paper's
transcribed settings are declared, with the value the preset has; docs/deviations.md is generated
from the registries; the section under each table names undeclared differences."""

from __future__ import annotations

import functools

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.deviations import differences, read_registry
from ftrepro.io import DataError
from ftrepro.papers import deviations

CONFIG = REPO / "config" / "config.yaml"
PRESETS = ("tiny", "mini", "paper")
PAPERS = papers.ids(cfg.load(CONFIG))


@functools.cache
def preset(name: str) -> cfg.Config:
    return cfg.load(CONFIG, {"preset": name})


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("paper", PAPERS)
def test_every_difference_from_the_paper_is_declared(paper, name):
    assert deviations.problems(preset(name), paper) == []


def test_the_committed_deviations_doc_is_up_to_date():
    committed = (REPO / deviations.DOC).read_text(encoding="utf-8")
    assert committed == deviations.deviations_doc(preset("tiny")), f"regenerate it: {deviations.COMMAND}"


def test_the_registries_list_what_issue_24_found(tmp_path):
    ids = {paper: {e.id for e in deviations.registry(preset("paper"), paper).entries} for paper in PAPERS}
    assert {"decoder-context", "chat-template", "gpt-snapshots", "mini-test-sample"} <= ids["zhao2025"]
    assert {
        "anchors-source",
        "few-shot-reference",
        "case-study",
        "task-242-ablation",
        "sample-size-500",
        "mtl-settings",
        "t5-checkpoint",
        "prefinetune-tasks",
        "source-length",
    } <= ids["gupta2023"]
    assert "held-out-test" in ids["band2025"]
    absent = {e.id for e in deviations.registry(preset("paper"), "gupta2023").entries if e.status == "absent"}
    assert absent == set()  # the few-shot reference, the case study and the ablation are run


# a change to a setting the paper transcribes, at the paper preset, and the setting it shows up as
CHANGES = [
    (
        {"gupta2023": {"settings": {"tk-instruct-100": {"samples": 50}}}},
        "gupta2023",
        "samples_per_task.tk-instruct-100",
    ),
    ({"training": {"gupta2023-seq2seq": {"max_source_length": 768}}}, "gupta2023", "max_source_length"),
    ({"data": {"arena_splits": {"dev": 0.1, "test": 0.2}}}, "band2025", "rows.train"),
    (
        {"models": {"llama3-8b": {"hub": {"repo": "meta-llama/Meta-Llama-3-8B"}}}},
        "zhao2025",
        "checkpoints.llama3-8b",
    ),
    ({"training": {"zhao2025-encoder": {"learning_rate": 2.0e-5}}}, "zhao2025", "encoder.learning_rate"),
    ({"data": {"source": "synthetic"}}, "band2025", "data"),
    (
        {"gupta2023": {"case_study": {"setting": "tk-instruct-500"}}},
        "gupta2023",
        "case_study.compared.tk_instruct",
    ),
    (
        {"gupta2023": {"case_study": {"ablation_task": "task233_iirc_link_exists_classification"}}},
        "gupta2023",
        "case_study.ablation_task",
    ),
    (
        {"gupta2023": {"settings": {"tk-instruct-1000": {"samples": 900}}}},
        "gupta2023",
        "case_study.ablation_samples",
    ),
    # one model per seed (config seeds) where the paper trains one per cell
    (
        {"presets": {"paper": {"seeds": {"zhao2025": {"decoder": [1, 2]}}}}},
        "zhao2025",
        "seeds.decoder.massive",
    ),
]


@pytest.mark.parametrize(("overrides", "paper", "setting"), CHANGES)
def test_a_setting_changed_without_an_entry_fails_the_check(overrides, paper, setting):
    config = cfg.load(CONFIG, {"preset": "paper", **overrides})
    problems = deviations.problems(config, paper)
    assert any(f"setting {setting}:" in p or f"declares {setting} =" in p for p in problems), problems
    section = deviations.section(config, paper)
    assert "**Undeclared differences from the paper (no registry entry):**" in section
    assert setting in section.split("Undeclared differences")[1]


def test_a_declared_value_the_preset_does_not_have_is_stale():
    config = cfg.load(
        CONFIG, {"preset": "paper", "training": {"gupta2023-seq2seq": {"max_source_length": 512}}}
    )
    # back at the thesis's 512: the entry declaring 1,024 no longer holds
    assert deviations.problems(config, "gupta2023") == [
        "gupta2023 entry source-length: declares max_source_length = 1024, but preset paper has 512"
    ]


def test_the_section_under_a_table_lists_the_presets_entries_only():
    mini = deviations.section(preset("mini"), "zhao2025")
    paper = deviations.section(preset("paper"), "zhao2025")
    assert mini.startswith("## Deviations from the paper (zhao2025, preset mini)")
    assert "| mini-test-sample |" in mini and "| decoder-context |" not in mini
    assert "| decoder-context |" in paper and "| mini-test-sample |" not in paper
    assert "| gpt-snapshots |" in mini and "| gpt-snapshots |" in paper and "Undeclared" not in paper


def test_a_registry_entry_must_be_complete_and_declare_transcribed_settings(tmp_path):
    path = tmp_path / "deviations.yaml"
    path.write_text("settings: {x: {paper: 1, where: §1, what: x}}\nentries:\n  - {id: a, kind: choice}\n")
    with pytest.raises(DataError, match=r"entries\[0\] \(a\): missing \['paper', 'ours', 'why', 'touches'\]"):
        read_registry(path, "p")
    entry = "{id: a, kind: choice, paper: p, ours: o, why: w, touches: t, settings: {y: 2}}"
    path.write_text(f"settings: {{x: {{paper: 1, where: §1, what: x}}}}\nentries:\n  - {entry}\n")
    with pytest.raises(DataError, match=r"settings \['y'\] are not transcribed"):
        read_registry(path, "p")
    path.write_text("settings: {x: {paper: {a: 1, b: 2}, where: §1, what: x}}\nentries: []\n")
    found = differences(read_registry(path, "p"), {"x": {"a": 1, "b": 3, "c": 4}}, "paper")
    assert [(d.setting, d.paper, d.ours, d.entry) for d in found] == [
        ("x.b", 2, 3, None),
        ("x.c", "(none)", 4, None),
    ]
