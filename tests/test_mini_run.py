"""The mini preset's zhao2025 numbers on the real data against the bar of issue 16: fine-tuned
encoders at or above both baselines of their column (below them is a bug in the recipe) and
within 10 points of the paper's RoBERTa-base, and the fine-tuned decoder 20 points above its
prompted self on MASSIVE intent.

A mini run takes hours on 2 cores, so CI has none: these tests read the metrics of one made
earlier ($FTREPRO_MINI_DIR, the working directory of `ftrepro run --preset mini` or of
any snakemake run with preset=mini) and build Table 3 from them with this checkout's code, in a
sandbox. The runs missing there read "not run" and are not checked; the three encoder cells of
the bar must be there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, snakemake

from ftrepro import config as cfg
from ftrepro.papers.zhao2025.report import below_baselines

pytestmark = pytest.mark.slow

MINI = cfg.load(REPO / "config" / "config.yaml", {"preset": "mini"})
TABLE = "results/mini/zhao2025/tables/table3.csv"
# the cells of the bar: the paper's RoBERTa-base row on MASSIVE intent, slots and 20NG-20
BAR_COLUMNS = ("massive_dual_intent", "massive_dual_slots", "ng20_dual_20class")
PAPER_GAP = 10
DECODER_GAIN = 20


@pytest.fixture(scope="module")
def mini_table(tmp_path_factory) -> pd.DataFrame:
    source = os.environ.get("FTREPRO_MINI_DIR")
    if not source:
        pytest.skip("needs a finished mini run (hours on 2 cores): FTREPRO_MINI_DIR=<its working directory>")
    workdir = tmp_path_factory.mktemp("mini")
    for name in ("Snakefile", "workflow", "config", "profiles"):
        (workdir / name).symlink_to(REPO / name)
    metrics = sorted(Path(source).glob("results/mini/zhao2025/*/metrics.json"))
    assert metrics, f"{source}: no results/mini/zhao2025/*/metrics.json"
    for path in metrics:
        target = workdir / "results" / "mini" / "zhao2025" / path.parent.name / path.name
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
    # the data the mini runs read (never synthetic: the table says nothing else); no data job runs here
    data = f"data={{'source': 'local', 'local_dir': '{REPO.parent / 'shared' / 'data'}'}}"
    result = snakemake([TABLE, "--cores", "1", "--config", "preset=mini", "partial=true", data], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return pd.read_csv(workdir / TABLE, keep_default_na=False, na_values=[""])


def _encoder_cells(table: pd.DataFrame) -> pd.DataFrame:
    encoder = MINI.zhao2025.encoders[0]  # roberta-base: the paper's row of the bar
    return table[(table["model"] == encoder) & (table["finetuned"] == "yes")].set_index("column")


def test_fine_tuned_encoders_are_not_below_the_baselines(mini_table):
    cells = _encoder_cells(mini_table)
    assert (cells.loc[list(BAR_COLUMNS), "status"] == "ok").all(), cells.loc[list(BAR_COLUMNS)]
    baselines = mini_table[mini_table["finetuned"] == "baseline"]
    assert (baselines["status"] == "ok").any(), "no baseline row was run"
    below = below_baselines(mini_table, MINI.zhao2025.encoders)
    assert below.empty, below[["run", "column", "ours", "floor"]]


def test_fine_tuned_encoders_are_within_10_points_of_the_paper(mini_table):
    cells = _encoder_cells(mini_table).loc[list(BAR_COLUMNS)]
    assert (cells["ours"] >= cells["paper"] - PAPER_GAP).all(), cells[["ours", "paper", "diff"]]


def test_the_fine_tuned_decoder_beats_its_prompted_self_on_massive_intent(mini_table):
    intent = mini_table[(mini_table["column"] == "massive_dual_intent") & (mini_table["status"] == "ok")]
    scored = intent.set_index(["model", "shots", "finetuned"])["ours"]
    pairs = [
        (model, shots)
        for model, shots, finetuned in scored.index
        if finetuned == "yes" and (model, shots, "no") in scored.index
    ]
    assert pairs, "no decoder on MASSIVE intent both fine-tuned and prompted"
    for model, shots in pairs:
        gain = scored[model, shots, "yes"] - scored[model, shots, "no"]
        assert gain >= DECODER_GAIN, (model, shots, gain)
