"""gupta2023's settings as a preset resolves them, beside the thesis's (deviations.yaml): what the
registry compares (ftrepro.deviations). Cheap and torch-free."""

from __future__ import annotations

from pathlib import Path

from ftrepro.config import Config
from ftrepro.data.superni import PROMPTS
from ftrepro.papers.gupta2023.runs import ABLATION_PROMPTS, train_samples

REGISTRY = Path(__file__).with_name("deviations.yaml")
TEST_PER_TASK = 100  # the official test selection of each task (ftrepro.data.superni.TEST_SIZE)


def our_settings(config: Config) -> dict:
    """{setting id of deviations.yaml: the value the preset runs with}."""
    g = config.gupta2023
    listed_train_tasks = config.plan.rows["superni"]["train_tasks"]
    test_cap = config.data.caps("superni").get("test", TEST_PER_TASK)
    return {
        "data": "synthetic" if config.data.synthetic else "real",
        "samples_per_task": {name: train_samples(config, name) for name in g.settings},
        "mtl_settings": list(g.settings),
        "test_tasks": len(g.test_tasks),
        "test_per_task": min(TEST_PER_TASK, test_cap),
        "prefinetune_tasks": min(g.train_tasks or listed_train_tasks, listed_train_tasks),
        "prefinetune_per_task": g.prefinetune["samples_per_task"],
        "max_source_length": config.training["gupta2023-seq2seq"]["max_source_length"],
        "checkpoints": {
            name: config.models[name].checkpoint
            for name in dict.fromkeys([*(s["model"] for s in g.settings.values()), g.prefinetune["model"]])
        },
        "case_study": _case_study(config),
    }


def _case_study(config: Config) -> dict:
    """What the case study compares, and the ablation's task, prompt and training rows per task."""
    case = config.gupta2023.case_study
    positive, negative = PROMPTS[ABLATION_PROMPTS[-1]]
    return {
        "compared": {"tk_instruct": case["setting"], "baseline": case["baseline"]},
        "ablation_task": case["ablation_task"],
        "ablation_examples": {"positive": positive, "negative": negative},
        "ablation_samples": train_samples(config, case["setting"]),
    }
