"""zhao2025 runs: the name grammar (built and parsed here only) and the matrix of the paper.

    <task>.<encoder>.ft                     20ng-joint.roberta-base.ft
    <task>.<decoder>.<shots>.<ft|noft>      massive-intent.llama3-8b.five-shot.ft
    <task>.<api model>.<shots>.noft         massive-slots.gpt-4o.zero-shot.noft
    <dataset>.<method>.baseline             massive.tfidf-svm.baseline (not in the paper)

Tasks have no dots; model names may ("gpt-3.5"), so the model is what lies between the task and
the suffix. Cheap and torch-free: common.smk calls it while every SLURM job re-parses the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ftrepro.config import Config, ConfigError
from ftrepro.data import RELEASE_DEV

SHOTS = ("zero-shot", "five-shot")
MODES = ("ft", "noft")
BASELINE = "baseline"  # the suffix of baseline runs: <dataset>.<method>.baseline
# the baselines' methods (ftrepro.papers.zhao2025.baselines, which needs torch and scikit-learn)
# and what each is, for the tables ({encoder}: what stands behind zhao2025.baseline_encoder)
BASELINES = {
    "tfidf-svm": "TF-IDF of word 1-2-grams + linear SVM; slots: a linear SVM per word over the word, "
    "two neighbours each side, its prefix, suffix and shape",
    "frozen-encoder": "{encoder} frozen, mean-pooled + logistic regression; slots: logistic "
    "regression on each word's first sub-word state",
}


@dataclass(frozen=True)
class ZhaoRun:
    task: str
    model: str
    shots: str | None = None  # None: an encoder, which has no prompt
    mode: str = "ft"

    @property
    def name(self) -> str:
        if self.shots is None:
            return f"{self.task}.{self.model}.{self.mode}"
        return f"{self.task}.{self.model}.{self.shots}.{self.mode}"

    @classmethod
    def parse(cls, name: str) -> ZhaoRun:
        parts = name.split(".")
        if len(parts) >= 4 and parts[-2] in SHOTS and parts[-1] in MODES:
            return cls(parts[0], ".".join(parts[1:-2]), parts[-2], parts[-1])
        if len(parts) >= 3 and parts[-1] == "ft" and parts[-2] not in SHOTS:
            return cls(parts[0], ".".join(parts[1:-1]))
        raise ValueError(f"not a zhao2025 run name: {name!r}")


def encoder_runs(config: Config) -> list[str]:
    z = config.zhao2025
    return [ZhaoRun(task, model).name for model in z.encoders for task in z.tasks]


def decoder_runs(config: Config, mode: str) -> list[str]:
    """Runs of the open decoders, fine-tuned (mode 'ft') or prompted as released ('noft')."""
    return _prompted_runs(config, config.zhao2025.decoders, mode)


def api_runs(config: Config) -> list[str]:
    return _prompted_runs(config, config.zhao2025.api_models, "noft")


def _prompted_runs(config: Config, models: list[str], mode: str) -> list[str]:
    z = config.zhao2025
    return [
        ZhaoRun(task, model, shots, mode).name for model in models for shots in z.shots for task in z.tasks
    ]


def baseline_run(dataset: str, method: str) -> str:
    """A baseline's run on a dataset (ftrepro.papers.zhao2025.baselines): one for every subtask
    of the dataset's tasks, outside the paper's matrix."""
    return f"{dataset}.{method}.{BASELINE}"


def baseline_runs(config: Config) -> list[str]:
    z = config.zhao2025
    datasets = dict.fromkeys(task.dataset for task in z.tasks.values())
    return [baseline_run(dataset, method) for method in z.baselines for dataset in datasets]


def baseline_descriptions(config: Config) -> dict[str, str]:
    """{method: what it is} of the preset's baselines, naming the encoder the preset freezes."""
    name = frozen_encoder_name(config)
    return {method: BASELINES[method].format(encoder=name) for method in config.zhao2025.baselines}


def frozen_encoder_name(config: Config) -> str:
    """The model the frozen-encoder baseline freezes: its stand-in in the preset, or its name."""
    encoder = config.models[config.zhao2025.baseline_encoder]
    return encoder.stand_in or encoder.name


def dataset_subtasks(config: Config, dataset: str) -> list[str]:
    """Every subtask of a dataset's tasks, in task order."""
    tasks = config.zhao2025.tasks.values()
    return list(dict.fromkeys(s for task in tasks if task.dataset == dataset for s in task.subtasks))


def model_names(config: Config) -> list[str]:
    """The paper's models (config.models names) its matrix trains or prompts."""
    z = config.zhao2025
    return [*z.encoders, *z.decoders, *z.api_models]


def runs_by_family(config: Config) -> dict[str, list[str]]:
    return {
        "encoder": encoder_runs(config),
        "decoder": decoder_runs(config, "ft") + decoder_runs(config, "noft"),
        "api": api_runs(config),
    }


# ---------------------------------------------------------------- recipes of the runs


# encoder recipe keys that may be given per dataset ({20newsgroups: ..., massive: ...})
PER_DATASET = ("num_train_epochs", "max_length")


def encoder_recipe(config: Config, dataset: str) -> dict:
    """Section 5.4's recipe with the values of `dataset` where they are given per dataset."""
    recipe = config.training["zhao2025-encoder"]
    return {k: v[dataset] if k in PER_DATASET and isinstance(v, dict) else v for k, v in recipe.items()}


def encoder_hparams(config: Config, task: str) -> dict:
    """The encoder recipe of a task's dataset."""
    return encoder_recipe(config, config.zhao2025.tasks[task].dataset)


def encoder_dev_split(config: Config, task: str) -> bool:
    """Whether a task's encoder runs read a dev split: when the recipe evaluates each epoch.
    MASSIVE's release has one; 20 Newsgroups only where the preset holds train rows out."""
    if config.training["zhao2025-encoder"].get("eval_strategy", "no") == "no":
        return False
    dataset = config.zhao2025.tasks[task].dataset
    if dataset not in RELEASE_DEV and dataset not in config.data.held_out_dev:
        raise ConfigError(
            f"config key presets.{config.preset}.training.zhao2025-encoder.eval_strategy: task {task} "
            f"needs a dev split, which {dataset} has only with presets.{config.preset}.data.held_out_dev"
        )
    return True


def decoder_size(config: Config, model: str) -> str:
    """Section 5.7's small (7-8B) or large (70B) recipe, by the model's paper-scale size."""
    large_from = config.training["zhao2025-decoder"]["large_from_params_b"]
    return "large" if config.models[model].params_b >= large_from else "small"


def decoder_hparams(config: Config, model: str) -> dict:
    recipe = {k: v for k, v in config.training["zhao2025-decoder"].items() if k != "deepspeed"}
    return {**recipe, "max_steps": recipe["max_steps"][decoder_size(config, model)]}


def decoder_deepspeed(config: Config, model: str) -> str | None:
    """ZeRO-2 (optimizer offload) for 7-8B, ZeRO-3 (optimizer offload) for 70B, where DeepSpeed
    applies (Config.deepspeed: GPU presets, or CPU ones with launch.cpu_deepspeed)."""
    return config.deepspeed(config.training["zhao2025-decoder"]["deepspeed"][decoder_size(config, model)])


def _decoder_identity(config: Config, model: str) -> tuple:
    """A fine-tuned decoder beyond its task and shots: the weights behind the name and the
    recipe's size-dependent fields (steps; DeepSpeed where it applies)."""
    steps = decoder_hparams(config, model)["max_steps"]
    return config.models[model].identity, steps, decoder_deepspeed(config, model)


def shared_runs(config: Config) -> dict[str, str]:
    """{run: the run whose model it shares}. Model names that resolve to the same weights (and,
    for decoders, the same recipe) in the preset make the same model from the same data: only
    the first of them in the matrix is trained, and its predictions serve the others (the tiny
    preset's four Llama names are one random model). Runs that share nothing are left out."""
    z = config.zhao2025
    first: dict = {}
    owner = {}
    for model in (*z.encoders, *z.decoders, *z.api_models):
        identity = _decoder_identity(config, model) if model in z.decoders else config.models[model].identity
        owner[model] = first.setdefault(identity, model)
    shared = {}
    for run in (name for names in runs_by_family(config).values() for name in names):
        parsed = ZhaoRun.parse(run)
        if owner[parsed.model] != parsed.model:
            shared[run] = replace(parsed, model=owner[parsed.model]).name
    return shared
