"""gupta2023's config section (key `gupta2023`, schema.yaml beside this file), typed and resolved
through the preset: read as `config.gupta2023`. The config layer imports this module by the
package name config `papers` registers (ftrepro.config.paper_settings): torch-free, and it imports
nothing above the config layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ftrepro.config import ConfigError

SCHEMA = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class Gupta2023:
    settings: dict[str, dict]  # name -> {model, samples, instructions, init}
    prefinetune: dict
    test_tasks: list[str]  # the SuperNI test tasks, capped by the preset
    train_tasks: int | None  # pre-finetune on the first N train tasks; None: all
    test_tasks_file: str  # where the test tasks are listed (relative to the workflow directory)
    case_study: dict  # §5.2.5: {setting, baseline, ablation_task}

    @property
    def derived_tasks(self) -> list[str]:
        """The SuperNI test tasks the runs read (what download and derive write): the test tasks,
        then the ablation's task where they lack it."""
        return list(dict.fromkeys([*self.test_tasks, self.case_study["ablation_task"]]))


def resolve(section: dict, preset: dict, root: Path) -> Gupta2023:
    """The section with the SuperNI test tasks read from `test_tasks_file` (relative to `root`, the
    workflow directory) and the preset's caps (data.superni_tasks, data.superni_train_tasks)."""
    caps = preset.get("data", {})
    _check_case_study(section["settings"], section["case_study"])
    return Gupta2023(
        settings=section["settings"],
        prefinetune=section["prefinetune"],
        test_tasks=_read_task_list(root / section["test_tasks_file"])[: caps.get("superni_tasks")],
        train_tasks=caps.get("superni_train_tasks"),
        test_tasks_file=section["test_tasks_file"],
        case_study=section["case_study"],
    )


def _check_case_study(settings: dict, case_study: dict) -> None:
    """The case study compares a Tk-Instruct setting (instructions) with a baseline (none)."""
    for key, instructions in (("setting", True), ("baseline", False)):
        name = case_study[key]
        if name not in settings or settings[name]["instructions"] is not instructions:
            kind = "with" if instructions else "without"
            choices = sorted(n for n, s in settings.items() if s["instructions"] is instructions)
            raise ConfigError(
                f"config key gupta2023.case_study.{key}: {name!r} is not a setting {kind} "
                f"instructions; one of {choices}"
            )


def model_references(section: dict) -> Iterator[tuple[str, str, str | None]]:
    """(key in the section, model name, the kind it must be) of every model the section names."""
    for setting, spec in section["settings"].items():
        yield f"settings.{setting}.model", spec["model"], "seq2seq"
    yield "prefinetune.model", section["prefinetune"]["model"], "seq2seq"


def _read_task_list(path: Path) -> list[str]:
    return [name for name in (line.strip() for line in Path(path).read_text().splitlines()) if name]
