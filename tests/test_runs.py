"""The experiment matrix: run names and counts at paper scale, and preset caps."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from ftrepro import config as cfg
from ftrepro import papers
from ftrepro.papers.band2025 import runs as band_runs
from ftrepro.papers.gupta2023 import runs as gupta_runs
from ftrepro.papers.zhao2025 import runs as zhao_runs


@pytest.fixture
def paper(monkeypatch) -> cfg.Config:
    monkeypatch.chdir(REPO)  # config paths are relative to the workflow directory
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "paper"})


def test_zhao2025_matrix(paper):
    runs = papers.runs_by_family(paper)
    assert len(runs["zhao2025-encoder"]) == 2 * 6
    assert len(runs["zhao2025-decoder"]) == 4 * 2 * 2 * 6  # models x shots x (ft, noft) x tasks
    assert len(runs["zhao2025-api"]) == 3 * 2 * 6
    assert "massive-intent.llama3-8b.five-shot.ft" in runs["zhao2025-decoder"]
    assert "20ng-joint.roberta-large.ft" in runs["zhao2025-encoder"]
    assert "massive-slots.gpt-4o.zero-shot.noft" in runs["zhao2025-api"]


def test_gupta2023_has_952_stl_models_and_8_mtl(paper):
    stl = gupta_runs.stl_runs(paper)
    assert len(paper.gupta2023.test_tasks) == 119
    assert len(stl) == len(set(stl)) == 952
    assert gupta_runs.mtl_runs(paper) == [f"mtl.{s}" for s in paper.gupta2023.settings]
    assert "stl.task1356_xlsum_title_generation.baseline1" in stl


def test_band2025_has_eight_encoders_and_the_lora_llm(paper):
    assert sorted(band_runs.encoder_runs(paper)) == sorted(
        f"{e}.{a}.{v}"
        for e in ("bert-base", "distilbert")
        for a in ("single", "parallel")
        for v in ("plain", "llm-augmented")
    )
    assert band_runs.llm_runs(paper) == ["llama3.1-8b.lora"]


def test_presets_cap_superni_tasks_but_not_the_matrix_shape(monkeypatch):
    monkeypatch.chdir(REPO)
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    cap = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["presets"]["tiny"]["data"][
        "superni_tasks"
    ]
    assert len(tiny.gupta2023.test_tasks) == cap
    assert len(gupta_runs.stl_runs(tiny)) == cap * 8
    assert len(papers.runs(tiny, "zhao2025")) == 12 + 96 + 36


def test_families_of_the_matrix(paper):
    assert set(papers.runs_by_family(paper)) == {
        "zhao2025-encoder", "zhao2025-decoder", "zhao2025-api",
        "gupta2023-stl", "gupta2023-mtl", "gupta2023-anchor", "gupta2023-fewshot", "gupta2023-ablation",
        "band2025-encoder", "band2025-llm",
    }  # fmt: skip
    assert len(papers.runs(paper, "band2025")) == 9


@pytest.mark.parametrize(
    "module, name",
    [
        (zhao_runs.ZhaoRun, "20ng-joint.roberta-base.ft"),
        (zhao_runs.ZhaoRun, "massive-intent.llama3-8b.five-shot.ft"),
        (zhao_runs.ZhaoRun, "massive-slots.gpt-3.5.zero-shot.noft"),
        (gupta_runs.GuptaRun, "stl.task1356_xlsum_title_generation.baseline1"),
        (gupta_runs.GuptaRun, "mtl.tk-instruct-100"),
        (gupta_runs.GuptaRun, "anchor.copy_demo"),
        (gupta_runs.GuptaRun, "fewshot.tk-instruct-3b"),
        (gupta_runs.GuptaRun, "ablation.task1529_scitail1.1_classification.tk-instruct-1000.def-pos1-neg1"),
        (band_runs.BandRun, "distilbert.parallel.llm-augmented"),
        (band_runs.BandRun, "llama3.1-8b.lora"),
    ],
)
def test_run_names_parse_back_to_themselves(module, name):
    assert module.parse(name).name == name


def test_every_planned_run_name_parses(paper):
    classes = {"zhao2025": zhao_runs.ZhaoRun, "gupta2023": gupta_runs.GuptaRun, "band2025": band_runs.BandRun}
    for paper_id, run_class in classes.items():
        for name in papers.runs(paper, paper_id):
            assert run_class.parse(name).name == name


@pytest.mark.parametrize("bad", ["20ng-joint", "x.y.five-shot.maybe", "stl.only", "a.b.c.d"])
def test_malformed_run_names_are_refused(bad):
    for run_class in (zhao_runs.ZhaoRun, gupta_runs.GuptaRun, band_runs.BandRun):
        with pytest.raises(ValueError, match="run name"):
            run_class.parse(bad)


def test_gupta2023_has_the_fewshot_reference_and_the_task242_ablation(paper, monkeypatch):
    # Figure 1.1's few-shot reference: the Tk-Instruct settings' model, as released, one run
    assert gupta_runs.fewshot_runs(paper) == ["fewshot.tk-instruct-3b"]
    # task 242 is a paper test task: its def-pos model is the matrix's STL run, trained once
    case = paper.gupta2023.case_study
    assert case["ablation_task"] in paper.gupta2023.test_tasks
    stl = f"stl.{case['ablation_task']}.{case['setting']}"
    assert gupta_runs.ablation_pair(paper) == (
        stl,
        f"ablation.{case['ablation_task']}.{case['setting']}.def-pos1-neg1",
    )
    assert stl in papers.runs(paper, "gupta2023")
    assert gupta_runs.ablation_runs(paper) == [gupta_runs.ablation_pair(paper)[1]]
    # a preset without task 242 among its test tasks makes both of the pair, and derives the task
    tiny = cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})
    assert case["ablation_task"] not in tiny.gupta2023.test_tasks
    assert [gupta_runs.GuptaRun.parse(r).prompt for r in gupta_runs.ablation_runs(tiny)] == [
        "def-pos",
        "def-pos1-neg1",
    ]
    assert tiny.gupta2023.derived_tasks == [*tiny.gupta2023.test_tasks, case["ablation_task"]]
    for bad in ("fewshot", "ablation.task242.def-pos"):  # no model; no setting or no prompt
        with pytest.raises(ValueError, match="run name"):
            gupta_runs.GuptaRun.parse(bad)


def test_api_runs_are_planned_only_with_a_key(paper):
    zhao = papers.runs(paper, "zhao2025")
    assert papers.runs(paper, "zhao2025", with_api=False) == [
        r for r in zhao if r not in zhao_runs.api_runs(paper)
    ]
    key_env = paper.api["key_env"]
    assert papers.api_key_set(paper, {key_env: "sk-x"}) and not papers.api_key_set(paper, {key_env: ""})


def test_superni_task_list_matches_the_official_split(paper):
    official = REPO.parent / "shared" / "data" / "superni" / "splits" / "default" / "test_tasks.txt"
    if not official.exists():
        pytest.skip(f"{official} not present")
    assert paper.gupta2023.test_tasks == official.read_text().split()


@pytest.fixture
def tiny(monkeypatch) -> cfg.Config:
    monkeypatch.chdir(REPO)
    return cfg.load(REPO / "config" / "config.yaml", {"preset": "tiny"})


def test_at_paper_scale_every_run_trains_its_own_model(paper):
    for paper_id in papers.ids(paper):
        assert papers.shared_runs(paper, paper_id) == {}
        assert papers.trained_runs(paper, paper_id) == papers.runs(paper, paper_id)


def test_tiny_llama_names_are_one_model_trained_once(tiny):
    shared = papers.shared_runs(tiny, "zhao2025")
    assert shared["massive-joint.llama3-70b.five-shot.ft"] == "massive-joint.llama2-7b.five-shot.ft"
    assert shared["20ng-7class.llama3-8b.zero-shot.noft"] == "20ng-7class.llama2-7b.zero-shot.noft"
    trained = papers.trained_runs(tiny, "zhao2025", with_api=False)
    assert len(trained) == 12 + 2 * 2 * 6  # the encoders (distinct sizes) + one Llama, ft and noft
    assert not any(".roberta" in run for run in shared)  # roberta-base and -large differ in tiny


def test_settings_that_the_train_cap_makes_equal_share_their_models(tiny):
    # tiny caps SuperNI train rows at 160 per task: 200, 500, 1000 and all are the same 160 rows
    assert gupta_runs.shared_settings(tiny) == {
        "tk-instruct-500": "tk-instruct-200",
        "tk-instruct-1000": "tk-instruct-200",
        "tk-instruct-all": "tk-instruct-200",
        "baseline3": "baseline2",
    }
    assert papers.shared_runs(tiny, "gupta2023")["mtl.baseline3"] == "mtl.baseline2"
    assert "anchor.copy_input" in papers.trained_runs(tiny, "gupta2023")


def test_a_shared_run_reports_the_numbers_of_the_run_that_made_them(tiny):
    made = {"20ng-7class.llama2-7b.zero-shot.ft": {"7class_accuracy": 91.0}}
    metrics = papers.with_shared(made, papers.shared_runs(tiny, "zhao2025"))
    assert metrics["20ng-7class.llama3-70b.zero-shot.ft"] == {
        "7class_accuracy": 91.0,
        "shared_with": "20ng-7class.llama2-7b.zero-shot.ft",
    }
    assert "shared_with" not in metrics["20ng-7class.llama2-7b.zero-shot.ft"]


def test_mini_encoders_that_are_one_minilm_share(monkeypatch):
    monkeypatch.chdir(REPO)
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
    assert papers.shared_runs(mini, "band2025")["distilbert.parallel.plain"] == "bert-base.parallel.plain"
    assert papers.shared_runs(mini, "zhao2025")["20ng-joint.roberta-large.ft"] == "20ng-joint.roberta-base.ft"


def test_the_tables_name_each_stand_in_beside_the_papers_model(monkeypatch, paper):
    monkeypatch.chdir(REPO)
    mini = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
    zhao = papers.stand_ins(mini, "zhao2025")
    assert zhao["roberta-base"] == zhao["roberta-large"] == "all-MiniLM-L6-v2"
    assert zhao["llama3-70b"] == "SmolLM2-135M-Instruct"
    assert "gpt-4o" not in zhao  # an API model is the paper's own
    gupta = papers.stand_ins(mini, "gupta2023")
    assert gupta == {
        "tk-instruct-3b": "SmolLM2-135M-Instruct",
        "t5-3b": "encoder-decoder of all-MiniLM-L6-v2",
    }
    assert set(papers.stand_ins(mini, "band2025")) == {"bert-base", "distilbert", "llama3.1-8b", "annotator"}
    # at paper scale every name is the paper's own model
    assert all(papers.stand_ins(paper, name) == {} for name in papers.ids(paper))
