"""zhao2025's settings as a preset resolves them, beside the paper's (deviations.yaml): what the
registry compares (ftrepro.report.deviations). Cheap and torch-free."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from ftrepro.config import Config
from ftrepro.papers.zhao2025.runs import ZhaoRun, decoder_runs, encoder_runs

REGISTRY = Path(__file__).with_name("deviations.yaml")


def our_settings(config: Config) -> dict:
    """{setting id of deviations.yaml: the value the preset runs with}."""
    z, full = config.zhao2025, config.plan.rows
    encoder, decoder = config.training["zhao2025-encoder"], config.training["zhao2025-decoder"]
    datasets = list(dict.fromkeys(task.dataset for task in z.tasks.values()))

    def rows(dataset: str, split: str, held_out: int = 0) -> int:
        return min(
            config.data.caps(dataset).get(split, full[dataset][split]), full[dataset][split] - held_out
        )

    test_rows = {d: rows(d, "test") for d in datasets}
    predicted = decoder.get("predict_rows")
    return {
        "data": "synthetic" if config.data.synthetic else "real",
        "train_rows": {d: rows(d, "train", config.data.held_out_dev.get(d, 0)) for d in datasets},
        "test_rows": test_rows,
        "decoder_test_rows": {d: min(n, predicted or n) for d, n in test_rows.items()},
        "encoder_checkpoint": "best epoch on the dev split"
        if encoder.get("load_best_model_at_end")
        else "the last epoch",
        "encoder": {
            "learning_rate": encoder["learning_rate"],
            "batch_size": encoder["per_device_train_batch_size"],
            "epochs": encoder["num_train_epochs"],
        },
        "decoder": {
            "learning_rate": decoder["learning_rate"],
            "warmup_steps": decoder["warmup_steps"],
            "steps": decoder["max_steps"],
            "batch_size": decoder["effective_batch_size"],
            "max_length": {m: min(decoder["max_length"], config.models[m].shape.context) for m in z.decoders},
        },
        "checkpoints": {m: config.models[m].checkpoint for m in [*z.encoders, *z.decoders]},
        "seeds": {
            "encoder": _seeds(config, "encoder", encoder_runs(config), datasets),
            "decoder": _seeds(config, "decoder", decoder_runs(config, "ft"), datasets),
        },
    }


def _seeds(config: Config, family: str, runs: list[str], datasets: list[str]) -> dict[str, int]:
    """{dataset: the most seeds a fine-tuned run of `family` on it trains} (config seeds)."""
    spec = config.seeds.get("zhao2025", {}).get(family)
    tasks = config.zhao2025.tasks
    seeded = [run for run in runs if spec and any(fnmatch.fnmatch(run, glob) for glob in spec.runs)]
    on = {d: [run for run in seeded if tasks[ZhaoRun.parse(run).task].dataset == d] for d in datasets}
    return {d: len(spec.seeds) if on[d] else 1 for d in datasets}
