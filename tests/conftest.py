"""Shared fixtures: the repository, the shared data beside it, and sandboxed workflow runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import TrainerCallback

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# Starts a one-node SLURM (munged, slurmctld, slurmd), for tests marked slurm.
LOCAL_SLURM = REPO.parent / "shared" / "tools" / "local-slurm.sh"
# What a run needs from the checkout; outputs (resources/, results/, logs/) stay in the sandbox.
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles")


@pytest.fixture(scope="session", autouse=True)
def datasets_cache(tmp_path_factory) -> Path:
    """Tokenized training data (ftrepro.train.data) cached for this session only, not in the
    checkout's resources/; sandboxed workflow runs inherit it."""
    path = tmp_path_factory.mktemp("datasets-cache")
    os.environ["FTREPRO_DATASETS_CACHE"] = str(path)
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory that sees the workflow through symlinks and keeps its own outputs."""
    for name in WORKFLOW_FILES:
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


@pytest.fixture(scope="session")
def slurm_cluster():
    """The local SLURM of LOCAL_SLURM, started if needed (needs root; else the test is skipped and
    says why) and stopped at the end if this session started it."""
    if not LOCAL_SLURM.exists():
        pytest.skip(f"no {LOCAL_SLURM} to start a SLURM cluster with")
    if os.geteuid() != 0:
        pytest.skip("starting a local SLURM cluster needs root")
    running = subprocess.run(["bash", str(LOCAL_SLURM), "status"], capture_output=True).returncode == 0
    if not running:
        # the node's CPUs said outright: the script's default, `nproc`, honours OMP_NUM_THREADS,
        # and a node of 1 CPU leaves every 2-CPU job pending forever (Reason=PartitionConfig)
        cpus = {"LOCAL_SLURM_CPUS": str(len(os.sched_getaffinity(0)))}
        started = subprocess.run(
            ["bash", str(LOCAL_SLURM), "start"], capture_output=True, text=True, env={**os.environ, **cpus}
        )
        if started.returncode != 0:
            pytest.skip(f"could not start SLURM: {started.stderr.strip()[-500:]}")
    yield
    if not running:  # leave a cluster someone else started alone
        subprocess.run(["bash", str(LOCAL_SLURM), "stop"], capture_output=True)


@pytest.fixture(scope="session")
def deepspeed_ops() -> None:
    """DeepSpeed's JIT ops (CPU Adam, CPU collectives), built once per machine and checked once
    per test session (make setup builds them too), before the first DeepSpeed test needs them."""
    subprocess.run([sys.executable, "-m", "ftrepro.train.launch", "--build-ops"], check=True, timeout=900)


def snakemake(
    args: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the snakemake of this interpreter's environment (with `env` added to this process's
    environment); returns the completed process."""
    exe = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def expected_paper_jobs(c) -> dict[str, int]:
    """Job count per rule of a full run at paper scale (all models, API key set), computed from
    the papers' definitions in the config rather than copied from a run."""
    z, g, b = c.zhao2025, c.gupta2023, c.band2025
    tasks, shots = len(z.tasks), len(z.shots)
    superni_tasks = (REPO / "config" / "superni_test_tasks.txt").read_text().split()
    superni = len(superni_tasks)
    settings = len(g.settings)
    band_encoders = len(b.encoders) * len(b.architectures) * len(b.variants)
    jobs = {
        "download": 4,
        "prepare_model": sum(m.kind != "api" for m in c.models.values()),
        "derive_20newsgroups": 1,
        "derive_massive": 1,
        "derive_superni": 1,
        "derive_arena": 1,
        "data_stats": 1,
        "fit_zhao_encoder": len(z.encoders) * tasks,
        "fit_zhao_decoder": len(z.decoders) * shots * tasks,
        "predict_zhao_decoder": len(z.decoders) * shots * tasks,
        "predict_zhao_api": len(z.api_models) * shots * tasks,
        "prefinetune_t5": 1,
        "fit_gupta_stl": superni * settings,
        "fit_gupta_mtl": settings,
        "predict_gupta_anchor": 2,
        "predict_gupta_fewshot": 1,  # Figure 1.1: Tk-Instruct as released
        # the task-242 ablation's pair, less its def-pos model where the STL matrix holds it
        "fit_gupta_ablation": 2 - (g.case_study["ablation_task"] in superni_tasks),
        "gupta2023_prompt_tokens": 1,
        "annotate_arena": 1,
        "prefinetune_band_encoder": len(b.encoders),
        "fit_band_encoder": band_encoders,
        "fit_band_lora": 1,
        "zhao2025_table3": 1,
        "gupta2023_report": 1,
        "band2025_report": 1,
        "all": 1,
    }
    runs = sum(v for k, v in jobs.items() if k.startswith(("fit_", "predict_")))
    return {**jobs, "score": runs}


# the rules of a paper-scale run whose jobs load a model (ftrepro.plan sizes these)
MODEL_RULES = (
    "fit_zhao_encoder",
    "fit_zhao_decoder",
    "predict_zhao_decoder",
    "prefinetune_t5",
    "fit_gupta_stl",
    "fit_gupta_mtl",
    "predict_gupta_fewshot",
    "fit_gupta_ablation",
    "annotate_arena",
    "prefinetune_band_encoder",
    "fit_band_encoder",
    "fit_band_lora",
)


def job_stats(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake dry-run as {rule: count}."""
    lines = output.splitlines()
    start = lines.index("Job stats:") + 3
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


# The four real (truncated) SuperNI test-task files of ../shared/data (SOURCES.md section 5).
SUPERNI_SAMPLE_TASKS = [
    "task1345_glue_qqp_question_paraprashing",
    "task102_commongen_sentence_generation",
    "task1557_jfleg_answer_generation",
    "task645_summarization",
]


def superni_sample(root: Path) -> tuple[Path, Path]:
    """(raw, derived) SuperNI under `root` from the real sample task files and split lists."""
    from ftrepro.data.superni import derive_superni

    raw, superni = root / "raw", SHARED_DATA / "superni"
    shutil.copytree(superni / "splits", raw / "splits")
    shutil.copytree(superni / "tasks-sample", raw / "tasks")
    derive_superni(raw, root / "derived", test_tasks=SUPERNI_SAMPLE_TASKS, train_tasks=0)
    return raw, root / "derived"


class StopAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt  # stands for a job killed by the scheduler


class RecordSteps(TrainerCallback):
    """Where a (resumed) training started and how many steps it ran; fails unless the step
    count continues from the checkpoint."""

    def __init__(self):
        self.start_step, self.steps_run = None, 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        self.steps_run += 1
        if self.start_step is None or state.global_step <= self.start_step:
            raise AssertionError("global_step did not continue from the checkpoint")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """`make demo` once for the whole session (ftrepro run: the tiny preset of all
    three papers, raw data to results/report.html) in a sandbox; the slow tests read its outputs.
    With $FTREPRO_DEMO_DIR, that directory's earlier demo is brought up to date instead (only
    what changed reruns)."""
    reuse = os.environ.get("FTREPRO_DEMO_DIR")  # a demo directory to bring up to date instead
    workdir = Path(reuse) if reuse else tmp_path_factory.mktemp("demo")
    for name in WORKFLOW_FILES:
        if not (workdir / name).exists():
            (workdir / name).symlink_to(REPO / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "ftrepro.cli", "run", "--cores", "2"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return workdir
