"""band2025's settings as a preset resolves them, beside the paper's (deviations.yaml): what the
registry compares (ftrepro.deviations). Cheap and torch-free."""

from __future__ import annotations

from pathlib import Path

from ftrepro.config import Config
from ftrepro.papers.band2025.runs import model_names

REGISTRY = Path(__file__).with_name("deviations.yaml")


def our_settings(config: Config) -> dict:
    """{setting id of deviations.yaml: the value the preset runs with}."""
    b, caps = config.band2025, config.data.caps("arena")
    total = sum(config.plan.rows["arena"].values())  # the 57,477 rows of train.csv
    held_out = {split: round(config.data.arena_splits[split] * total) for split in ("dev", "test")}
    full = {"train": total - sum(held_out.values()), **held_out}
    encoder, lora = config.training["band2025-encoder"], config.training["band2025-lora"]
    return {
        "data": "synthetic" if config.data.synthetic else "real",
        "rows": {split: min(caps.get(split, n), n) for split, n in full.items()},
        "encoder": {
            "learning_rate": encoder["learning_rate"],
            "batch_size": encoder["per_device_train_batch_size"],
            "gradient_accumulation_steps": encoder["gradient_accumulation_steps"],
            "epochs": encoder["num_train_epochs"],
            "weight_decay": encoder["weight_decay"],
            "warmup_steps": encoder["warmup_steps"],
            "eval_steps": encoder["eval_steps"],
            "max_length": encoder["max_length"],
        },
        "allocation": {"single": b.allocation["single"], "parallel": b.allocation["parallel"]},
        "prefinetune_epochs": config.training["band2025-prefinetune"]["num_train_epochs"],
        "frozen_layers": encoder["frozen_layers"],
        "annotation_rows": b.annotation_rows,
        "lora": {
            "r": lora["lora_r"],
            "alpha": lora["lora_alpha"],
            "target_modules": lora["target_modules"],
            "max_length": lora["max_length"],
        },
        "checkpoints": {name: config.models[name].checkpoint for name in model_names(config)},
    }
