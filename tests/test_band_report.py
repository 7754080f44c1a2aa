"""band2025 scoring (docs/protocols.md 4: Kaggle's clip -> renormalise -> mean -ln p(true)) and the report."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from transformers import LlamaForCausalLM

from ftrepro.evaluate import score_run
from ftrepro.io import DataError, write_jsonl
from ftrepro.models.tiny import tiny_config
from ftrepro.papers.band2025 import PAPER as BAND
from ftrepro.papers.band2025.report import parameter_count, write_band_report, write_submission
from ftrepro.report import Verdicts

REPO = Path(__file__).resolve().parents[1]


def pred(i: int, label: str, a: float, b: float, tie: float) -> dict:
    return {"id": str(i), "label": label, "probs": {"A": a, "B": b, "tie": tie}}


# --- scoring ----------------------------------------------------------------------------------


def test_score_run_band_matches_hand_computation(tmp_path):
    path = tmp_path / "predictions.jsonl"
    # the last row sums to 2: Kaggle's scorer renormalises it to (0.1, 0.45, 0.45)
    write_jsonl(
        path, [pred(1, "A", 0.7, 0.2, 0.1), pred(2, "tie", 0.1, 0.5, 0.4), pred(3, "B", 0.2, 0.9, 0.9)]
    )
    metrics = score_run(BAND.scoring(), path)
    assert metrics["log_loss"] == pytest.approx(
        -(math.log(0.7) + math.log(0.4) + math.log(0.45)) / 3, rel=1e-12
    )
    # argmax: A (right), B (wrong: tie), B (right; B and tie tie, the first wins)
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["n_examples"] == 3


def test_uniform_prediction_scores_ln3(tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, [pred(i, label, 1 / 3, 1 / 3, 1 / 3) for i, label in enumerate(["A", "B", "tie", "A"])])
    assert score_run(BAND.scoring(), path)["log_loss"] == pytest.approx(math.log(3), rel=1e-12)


def test_zero_probability_for_the_truth_is_clipped_not_infinite(tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, [pred(1, "A", 0.0, 1.0, 0.0)])
    eps = 2.0**-52  # float64 machine epsilon; the row becomes (eps, 1-eps, eps) / (1 + eps)
    assert score_run(BAND.scoring(), path)["log_loss"] == pytest.approx(-math.log(eps / (1 + eps)), rel=1e-12)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "7", "label": "C", "probs": {"A": 0.2, "B": 0.3, "tie": 0.5}}, "'label'"),
        ({"id": "7", "label": "A", "probs": {"A": 0.2, "B": 0.3}}, "'probs'"),
        ({"id": "7", "label": "A", "probs": {"A": 0.2, "B": -0.3, "tie": 0.5}}, "finite numbers"),
        ({"id": "7", "label": "A", "probs": {"A": "0.2", "B": 0.3, "tie": 0.5}}, "finite numbers"),
        ({"id": "7", "label": "A", "probs": {"A": float("nan"), "B": 0.3, "tie": 0.5}}, "finite numbers"),
        ({"id": "1", "label": "A", "probs": {"A": 0.2, "B": 0.3, "tie": 0.5}}, "duplicate id"),
    ],
)
def test_bad_record_raises_naming_it(tmp_path, bad, message):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, [pred(1, "A", 0.7, 0.2, 0.1), bad])
    with pytest.raises(DataError, match=message) as error:
        score_run(BAND.scoring(), path)
    assert f"{path}: record 2 (id={bad['id']!r})" in str(error.value)


def test_empty_predictions_raise(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("")
    with pytest.raises(DataError, match="no predictions"):
        score_run(BAND.scoring(), path)


# --- the report -------------------------------------------------------------------------------

RUNS = [
    f"{m}.{a}.{v}"
    for m in ("bert-base", "distilbert")
    for a in ("single", "parallel")
    for v in ("plain", "llm-augmented")
] + ["llama3.1-8b.lora"]
TARGETS = REPO / "config" / "targets" / "band2025_results.csv"
PARAMETERS = REPO / "config" / "targets" / "band2025_parameters.csv"


def metrics(loss: float) -> dict:
    return {"log_loss": loss, "accuracy": 0.5, "n_examples": 10}


def test_report_table_paper_beside_ours_with_gain_and_efficiency(tmp_path):
    ours = {
        "distilbert.single.plain": metrics(1.10),
        "distilbert.parallel.plain": metrics(0.99),
        "llama3.1-8b.lora": metrics(1.045),
    }
    table = write_band_report(
        RUNS, ours, TARGETS, PARAMETERS, {"distilbert": 2_000_000, "llama3.1-8b": 5_000_000}, tmp_path
    ).set_index("run")
    assert list(table.index) == RUNS
    assert (table["status"] == "ok").sum() == 3 and table.loc["bert-base.single.plain", "status"] == "not run"
    llama = table.loc["llama3.1-8b.lora"]
    assert llama["paper_log_loss"] == 0.98 and llama["paper_params_millions"] == 7508
    assert llama["paper_efficiency"] == pytest.approx(1 / (0.98 * 7508))  # Table 1's unit: millions
    assert llama["params_millions"] == 5.0 and llama["efficiency"] == pytest.approx(1 / (1.045 * 5.0))
    assert table.loc["distilbert.parallel.plain", "improvement_pct"] == pytest.approx(
        100 * (1.10 - 0.99) / 1.10
    )
    assert table.loc["distilbert.single.plain", "improvement_pct"] == 0
    assert pd.isna(table.loc["distilbert.parallel.plain", "paper_log_loss"])  # only Llama's loss is printed
    md = (tmp_path / "tables" / "log_loss.md").read_text()
    assert "3 of 9 runs scored" in md and "not run" in md
    llama_row = next(line for line in md.splitlines() if line.startswith("| Llama 3.1 8B LoRA"))
    assert [cell.strip() for cell in llama_row.split("|")[2:4]] == ["0.98", "1.0450"]
    assert pd.read_csv(tmp_path / "tables" / "log_loss.csv")["run"].tolist() == RUNS
    for i in (10, 11):
        assert (tmp_path / "figures" / f"figure{i}.png").read_bytes()[:4] == b"\x89PNG"


def test_report_without_runs_reads_not_run(tmp_path):
    table = write_band_report(RUNS, {}, TARGETS, PARAMETERS, {}, tmp_path)
    assert (table["status"] == "not run").all() and table["improvement_pct"].isna().all()
    assert "0 of 9 runs scored" in (tmp_path / "tables" / "log_loss.md").read_text()


def test_the_table_names_the_stand_ins(tmp_path):
    write_band_report(
        RUNS, {}, TARGETS, PARAMETERS, {}, tmp_path, stand_ins={"bert-base": "all-MiniLM-L6-v2"}
    )
    text = (tmp_path / "tables" / "log_loss.md").read_text()
    assert "Stand-ins: this preset trains all-MiniLM-L6-v2 under bert-base.\n\n|" in text


def test_metrics_of_an_unknown_run_are_an_error(tmp_path):
    with pytest.raises(DataError, match="outside the band2025 matrix"):
        write_band_report(RUNS, {"roberta.single.plain": metrics(1.0)}, TARGETS, PARAMETERS, {}, tmp_path)


def test_parameter_count_reads_safetensors_without_lm_head(tmp_path):
    model = LlamaForCausalLM(tiny_config("llama"))
    model.save_pretrained(tmp_path)
    expected = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("lm_head."))
    assert parameter_count(tmp_path) == expected < sum(p.numel() for p in model.parameters())


def test_kaggle_submission_csv(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", [pred(11, "A", 0.5, 0.3, 0.2), pred(12, "tie", 0.1, 0.1, 0.8)])
    assert write_submission(tmp_path / "p.jsonl", tmp_path / "sub.csv") == 2
    sub = pd.read_csv(tmp_path / "sub.csv", dtype={"id": str})
    assert list(sub.columns) == ["id", "winner_model_a", "winner_model_b", "winner_tie"]
    assert sub["id"].tolist() == ["11", "12"] and sub.iloc[1].tolist()[1:] == [0.1, 0.1, 0.8]
    write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "label": "A", "probs": {"A": 1.0}}])
    with pytest.raises(DataError, match="record 1"):
        write_submission(tmp_path / "bad.jsonl", tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_an_encoder_the_paper_has_not_reads_not_in_paper(tmp_path):
    """An encoder added to the config's band2025.encoders is in the table, its paper cells marked."""
    from ftrepro import config as cfg
    from ftrepro import papers

    config = cfg.load(
        REPO / "config" / "config.yaml",
        {"band2025": {"encoders": ["bert-base", "distilbert", "roberta-base"]}},
    )
    runs = papers.runs(config, "band2025")
    ours = {"roberta-base.single.plain": metrics(1.0), "distilbert.single.plain": metrics(1.10)}
    table = write_band_report(runs, ours, TARGETS, PARAMETERS, {"roberta-base": 3_000_000}, tmp_path)
    table = table.set_index("run")
    assert len(table) == 13 and not table.loc["roberta-base.single.plain", "in_paper"]
    assert table.loc["distilbert.single.plain", "in_paper"] and table.loc["llama3.1-8b.lora", "in_paper"]
    md = (tmp_path / "tables" / "log_loss.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| roberta-base single "))
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[1:3] == ["not in paper", "1.0000"]
    assert cells[5:] == ["not in paper / 3.00", "not in paper / 0.333"]
    distilbert = next(line for line in md.splitlines() if line.startswith("| DistilBERT single "))
    assert distilbert.split("|")[2].strip() == "–"  # in the paper, only as a bar


def scored(loss: float, se: float) -> dict:
    """metrics() with intervals: log loss +- 2 se, accuracy 0.5 +- 0.05."""
    return {
        **metrics(loss),
        "ci": {"log_loss": [loss - 2 * se, loss + 2 * se], "accuracy": [0.45, 0.55]},
        "se": {"log_loss": se, "accuracy": 0.025},
    }


def test_our_losses_carry_intervals_and_llamas_a_verdict(tmp_path):
    ours = {
        "distilbert.single.plain": scored(1.10, 0.01),
        "distilbert.parallel.plain": scored(0.99, 0.02),
        "llama3.1-8b.lora": scored(1.045, 0.02),
    }
    table = write_band_report(
        RUNS, ours, TARGETS, PARAMETERS, {}, tmp_path, verdicts=Verdicts("paper")
    ).set_index("run")
    llama = table.loc["llama3.1-8b.lora"]
    assert (llama["log_loss_ci_lo"], llama["log_loss_ci_hi"]) == pytest.approx((1.005, 1.085))
    assert llama["verdict"] == "above"  # the paper's 0.98 lies below our interval: our loss is higher
    assert table.loc["distilbert.parallel.plain", "verdict"] == "no paper number"  # a bar only
    # the gain's interval: the two losses' standard errors as if independent (delta method)
    gain = table.loc["distilbert.parallel.plain"]
    half = 1.959964 * 100 * math.hypot(0.02 / 1.10, 0.99 * 0.01 / 1.10**2)
    assert (gain["improvement_ci_lo"], gain["improvement_ci_hi"]) == pytest.approx(
        (gain["improvement_pct"] - half, gain["improvement_pct"] + half)
    )
    base = table.loc["distilbert.single.plain"]
    assert base["improvement_ci_lo"] == base["improvement_ci_hi"] == 0  # the reference itself
    md = (tmp_path / "tables" / "log_loss.md").read_text()
    llama_row = next(line for line in md.splitlines() if line.startswith("| Llama 3.1 8B LoRA"))
    assert [cell.strip() for cell in llama_row.split("|")[2:5]] == [
        "0.98",
        "1.0450 ±0.0400 above",
        "0.500 ±0.050",
    ]
    assert "**Verdicts:** 0 reproduced, 0 below, 1 above of 1 cells; 2 no paper number, 6 not run." in md
    parallel = next(line for line in md.splitlines() if line.startswith("| DistilBERT parallel "))
    assert parallel.split("|")[5].strip() == f"+10.0% ±{half:.1f}%"
    write_band_report(RUNS, ours, TARGETS, PARAMETERS, {}, tmp_path / "m", verdicts=Verdicts("meaningless"))
    assert "above" not in (tmp_path / "m" / "tables" / "log_loss.md").read_text()


def test_figure_10_draws_our_intervals(monkeypatch):
    from matplotlib.container import ErrorbarContainer

    import ftrepro.papers.band2025.report as band

    table = band.log_loss_table(
        RUNS, {"llama3.1-8b.lora": scored(1.045, 0.02)}, {"llama3.1-8b": 0.98}, {}, {}
    )
    drawn = []
    monkeypatch.setattr(band, "save_figure", lambda fig, path, **_: drawn.append(fig.axes[0]))
    band.plot_log_loss(table, Path("figure10.png"))
    (bars,) = [c for c in drawn[0].containers if isinstance(c, ErrorbarContainer)]
    segments = bars.lines[2][0].get_segments()
    assert [tuple(round(y, 3) for _, y in segment) for segment in segments][-1] == (1.005, 1.085)


# --- issue 24: test log loss, synthetic data, deviations -----------------------------------------


def test_the_table_reports_test_log_loss_and_flags_synthetic_data_and_deviations(tmp_path):
    write_band_report(RUNS, {}, TARGETS, PARAMETERS, {}, tmp_path / "real")
    real = (tmp_path / "real" / "tables" / "log_loss.md").read_text()
    assert "| log loss (ours, test)" in real and "validation" not in real
    assert "synthetic data" not in real.lower()
    write_band_report(
        RUNS,
        {},
        TARGETS,
        PARAMETERS,
        {},
        tmp_path / "synthetic",
        synthetic=True,
        deviations="## Deviations x\n",
    )
    text = (tmp_path / "synthetic" / "tables" / "log_loss.md").read_text()
    assert "**Synthetic data** (data.source: synthetic)" in text and text.endswith("\n## Deviations x\n")
    for i in (10, 11):  # the corner mark makes other pixels
        figure = f"figures/figure{i}.png"
        assert (tmp_path / "synthetic" / figure).read_bytes() != (tmp_path / "real" / figure).read_bytes()


def test_save_figure_marks_synthetic_data_in_the_corner(tmp_path):
    from matplotlib.figure import Figure

    from ftrepro.report import save_figure

    fig = Figure()
    save_figure(fig, tmp_path / "f.png", synthetic=True)
    assert [t.get_text() for t in fig.texts] == ["synthetic data"]


def test_competition_rows_without_labels_make_a_submission(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", [{"id": "136060", "probs": {"A": 0.2, "B": 0.5, "tie": 0.3}}])
    assert write_submission(tmp_path / "c.jsonl", tmp_path / "c.csv") == 1
    (tmp_path / "none.jsonl").write_text("")
    assert write_submission(tmp_path / "none.jsonl", tmp_path / "none.csv") == 0
    assert (tmp_path / "none.csv").read_text().strip() == "id,winner_model_a,winner_model_b,winner_tie"
