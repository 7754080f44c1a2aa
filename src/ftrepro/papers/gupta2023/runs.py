"""gupta2023 runs: the name grammar (built and parsed here only) and the matrix of the paper.

    stl.<superni task>.<setting>                 stl.task1356_xlsum_title_generation.baseline1
    mtl.<setting>                                mtl.tk-instruct-100
    anchor.<method>                              anchor.copy_demo
    fewshot.<model>                              fewshot.tk-instruct-3b
    ablation.<superni task>.<setting>.<prompt>   ablation.task242_tweetqa_classification.tk-instruct-1000.def-pos1-neg1

SuperNI task names may hold dots (task1529_scitail1.1_classification); settings, anchor methods
and prompts do not, so an STL run's setting is its last part and an ablation's the last two.
Model names may hold dots (a few-shot run's model is all after "fewshot."). Cheap and torch-free:
common.smk calls it while every SLURM job re-parses the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ftrepro.config import Config
from ftrepro.data.superni import DEF_POS

# Tk-Instruct's two no-training heuristics on the test split (docs/protocols.md 1.5)
ANCHORS = ("copy_input", "copy_demo")
# §5.2.5's task-242 ablation: the STL Tk-Instruct prompt, and a negative example substituted into it
# (ftrepro.data.superni.PROMPTS)
ABLATION_PROMPTS = (DEF_POS, "def-pos1-neg1")


@dataclass(frozen=True)
class GuptaRun:
    # stl: one model per task; mtl: one for all tasks; anchor: no training, a heuristic; fewshot:
    # no training, Tk-Instruct as released; ablation: one model per task and prompt
    paradigm: str
    setting: str  # a setting of config gupta2023.settings, an anchor method, or (fewshot) a model
    task: str | None = None  # stl and ablation
    prompt: str | None = None  # ablation only

    @property
    def name(self) -> str:
        if self.paradigm == "stl":
            return f"stl.{self.task}.{self.setting}"
        if self.paradigm == "ablation":
            return f"ablation.{self.task}.{self.setting}.{self.prompt}"
        return f"{self.paradigm}.{self.setting}"

    @classmethod
    def parse(cls, name: str) -> GuptaRun:
        paradigm, *rest = name.split(".")
        if paradigm == "stl" and len(rest) >= 2:
            return cls("stl", rest[-1], ".".join(rest[:-1]))
        if paradigm == "ablation" and len(rest) >= 3:
            return cls("ablation", rest[-2], ".".join(rest[:-2]), rest[-1])
        if paradigm in ("mtl", "anchor") and len(rest) == 1:
            return cls(paradigm, rest[0])
        if paradigm == "fewshot" and rest:
            return cls(paradigm, ".".join(rest))
        raise ValueError(f"not a gupta2023 run name: {name!r}")


def stl_runs(config: Config) -> list[str]:
    g = config.gupta2023
    return [GuptaRun("stl", s, task).name for task in g.test_tasks for s in g.settings]


def mtl_runs(config: Config) -> list[str]:
    return [GuptaRun("mtl", s).name for s in config.gupta2023.settings]


def anchor_runs(config: Config) -> list[str]:
    return [GuptaRun("anchor", method).name for method in ANCHORS]


def fewshot_model(settings: Mapping[str, Mapping]) -> str:
    """The model the Tk-Instruct settings fine-tune (those with instructions): as released, it is
    the thesis's few-shot reference (Figure 1.1), prompted with def-pos and not trained."""
    models = sorted({s["model"] for s in settings.values() if s["instructions"]})
    if len(models) != 1:
        raise ValueError(f"gupta2023: the settings with instructions must share one model, not {models}")
    return models[0]


def fewshot_runs(config: Config) -> list[str]:
    return [GuptaRun("fewshot", fewshot_model(config.gupta2023.settings)).name]


def ablation_pair(config: Config) -> tuple[str, ...]:
    """The task-242 ablation's runs, one per prompt (ABLATION_PROMPTS): STL models of the case
    study's setting on its ablation task. Where the matrix holds that STL run (the task is a test
    task of the preset) it is the def-pos one, trained once."""
    g = config.gupta2023
    setting, task = g.case_study["setting"], g.case_study["ablation_task"]
    pair = [GuptaRun("ablation", setting, task, prompt) for prompt in ABLATION_PROMPTS]
    if task in g.test_tasks:
        pair[0] = GuptaRun("stl", setting, task)
    return tuple(run.name for run in pair)


def ablation_runs(config: Config) -> list[str]:
    """The runs of the ablation pair that the STL matrix does not hold."""
    return [run for run in ablation_pair(config) if GuptaRun.parse(run).paradigm == "ablation"]


def model_names(config: Config) -> list[str]:
    """The paper's models (config.models names): those of its settings and of pre-finetuning."""
    g = config.gupta2023
    return list(dict.fromkeys([*(s["model"] for s in g.settings.values()), g.prefinetune["model"]]))


def runs_by_family(config: Config) -> dict[str, list[str]]:
    return {
        "stl": stl_runs(config),
        "mtl": mtl_runs(config),
        "anchor": anchor_runs(config),
        "fewshot": fewshot_runs(config),
        "ablation": ablation_runs(config),
    }


def train_samples(config: Config, setting: str) -> int | str:
    """A setting's training rows per task once the preset's train cap applies ("all": every
    row; with a cap of 160, 200 samples and "all" are the same 160 rows)."""
    samples = config.gupta2023.settings[setting]["samples"]
    cap = config.data.caps("superni").get("train")
    if cap is not None:
        samples = cap if samples == "all" else min(samples, cap)
    return samples


def _setting_identity(config: Config, setting: str) -> tuple:
    """What a setting trains beyond its tasks: the start (the model behind its name, or the one
    pre-finetuned model), the prompt encoding and the training rows per task (train_samples)."""
    spec = config.gupta2023.settings[setting]
    start = "prefinetuned" if spec["init"] == "prefinetuned" else config.models[spec["model"]].identity
    return start, spec["instructions"], train_samples(config, setting)


def shared_settings(config: Config, shared: Mapping[str, str] | None = None) -> dict[str, str]:
    """{setting: the earlier setting that trains the same models} for the settings that do; with
    `shared` (ftrepro.papers.shared_runs, where runs of other seeds train apart), those of them
    whose every run shares that setting's model."""
    first: dict[tuple, str] = {}
    owner = {s: first.setdefault(_setting_identity(config, s), s) for s in config.gupta2023.settings}
    found = {setting: other for setting, other in owner.items() if other != setting}
    if shared is None:
        return found
    runs = [GuptaRun.parse(run) for run in (*stl_runs(config), *mtl_runs(config))]
    apart = {
        run.setting
        for run in runs
        if shared.get(run.name) != replace(run, setting=found.get(run.setting)).name
    }
    return {setting: other for setting, other in found.items() if setting not in apart}


def shared_runs(config: Config) -> dict[str, str]:
    """{run: the run whose model it shares}: settings that train the same model from the same
    rows in the preset are trained once, by the first of them (ftrepro.papers.shared_runs)."""
    owner = {s: s for s in config.gupta2023.settings} | shared_settings(config)
    shared = {}
    for run in (*stl_runs(config), *mtl_runs(config)):
        parsed = GuptaRun.parse(run)
        if owner[parsed.setting] != parsed.setting:
            shared[run] = replace(parsed, setting=owner[parsed.setting]).name
    return shared
