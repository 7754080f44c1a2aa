"""The experiment matrix: run names and counts at paper scale, and preset caps."""

from __future__ import annotations

import pytest
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import matrix


@pytest.fixture
def paper(monkeypatch) -> dict:
    monkeypatch.chdir(REPO)  # config paths are relative to the workflow directory
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})


def test_zhao2025_matrix(paper):
    runs = matrix.runs_by_family(paper)
    assert len(runs["zhao2025-encoder"]) == 2 * 6
    assert len(runs["zhao2025-decoder"]) == 4 * 2 * 2 * 6  # models x shots x (ft, noft) x tasks
    assert len(runs["zhao2025-api"]) == 3 * 2 * 6
    assert "massive-intent.llama3-8b.five-shot.ft" in runs["zhao2025-decoder"]
    assert "20ng-joint.roberta-large.ft" in runs["zhao2025-encoder"]
    assert "massive-slots.gpt-4o.zero-shot.noft" in runs["zhao2025-api"]


def test_gupta2023_has_952_stl_models_and_8_mtl(paper):
    stl = matrix.gupta_stl_runs(paper)
    assert len(matrix.superni_test_tasks(paper)) == 119
    assert len(stl) == len(set(stl)) == 952
    assert matrix.gupta_mtl_runs(paper) == [f"mtl.{s}" for s in paper["gupta2023"]["settings"]]
    assert "stl.task1356_xlsum_title_generation.baseline1" in stl


def test_band2025_has_eight_encoders_and_the_lora_llm(paper):
    assert sorted(matrix.band_encoder_runs(paper)) == sorted(
        f"{e}.{a}.{v}"
        for e in ("bert-base", "distilbert")
        for a in ("single", "parallel")
        for v in ("plain", "llm-augmented")
    )
    assert matrix.band_llm_runs(paper) == ["llama3.1-8b.lora"]


def test_presets_cap_superni_tasks_but_not_the_matrix_shape(monkeypatch):
    monkeypatch.chdir(REPO)
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    cap = tiny["presets"]["tiny"]["data"]["superni_tasks"]
    assert len(matrix.superni_test_tasks(tiny)) == cap
    assert len(matrix.gupta_stl_runs(tiny)) == cap * 8
    assert len(matrix.runs(tiny, "zhao2025")) == 12 + 96 + 36


def test_implemented_only_keeps_families_whose_code_exists(paper, monkeypatch):
    monkeypatch.setattr(matrix, "IMPLEMENTED_FAMILIES", frozenset({"zhao2025-encoder", "gupta2023-anchor"}))
    assert matrix.runs(paper, "zhao2025", implemented_only=True) == matrix.zhao_encoder_runs(paper)
    assert matrix.runs(paper, "gupta2023", implemented_only=True) == matrix.gupta_anchor_runs(paper)
    assert matrix.runs(paper, "band2025", implemented_only=True) == []
    assert len(matrix.runs(paper, "band2025")) == 9


def test_every_family_of_the_matrix_is_implemented(paper):
    assert set(matrix.runs_by_family(paper)) == matrix.IMPLEMENTED_FAMILIES


def test_api_runs_are_planned_only_with_a_key(paper):
    zhao = matrix.runs(paper, "zhao2025")
    assert matrix.runs(paper, "zhao2025", with_api=False) == [
        r for r in zhao if r not in matrix.zhao_api_runs(paper)
    ]
    key_env = paper["api"]["key_env"]
    assert matrix.api_key_set(paper, {key_env: "sk-x"}) and not matrix.api_key_set(paper, {key_env: ""})


def test_superni_task_list_matches_the_official_split(paper):
    official = REPO.parent / "shared" / "data" / "superni" / "splits" / "default" / "test_tasks.txt"
    if not official.exists():
        pytest.skip(f"{official} not present")
    assert matrix.superni_test_tasks(paper) == official.read_text().split()
