"""gupta2023's config section (key `gupta2023`, schema.yaml beside this file), typed and resolved
through the preset: read as `config.gupta2023`. The config layer imports this module by the
package name config `papers` registers (ftrepro.config.paper_settings): torch-free, and it imports
nothing above the config layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class Gupta2023:
    settings: dict[str, dict]  # name -> {model, samples, instructions, init}
    prefinetune: dict
    test_tasks: list[str]  # the SuperNI test tasks, capped by the preset
    train_tasks: int | None  # pre-finetune on the first N train tasks; None: all
    test_tasks_file: str  # where the test tasks are listed (relative to the workflow directory)


def resolve(section: dict, preset: dict, root: Path) -> Gupta2023:
    """The section with the SuperNI test tasks read from `test_tasks_file` (relative to `root`, the
    workflow directory) and the preset's caps (data.superni_tasks, data.superni_train_tasks)."""
    caps = preset.get("data", {})
    return Gupta2023(
        settings=section["settings"],
        prefinetune=section["prefinetune"],
        test_tasks=_read_task_list(root / section["test_tasks_file"])[: caps.get("superni_tasks")],
        train_tasks=caps.get("superni_train_tasks"),
        test_tasks_file=section["test_tasks_file"],
    )


def model_references(section: dict) -> Iterator[tuple[str, str, str | None]]:
    """(key in the section, model name, the kind it must be) of every model the section names."""
    for setting, spec in section["settings"].items():
        yield f"settings.{setting}.model", spec["model"], "seq2seq"
    yield "prefinetune.model", section["prefinetune"]["model"], "seq2seq"


def _read_task_list(path: Path) -> list[str]:
    return [name for name in (line.strip() for line in Path(path).read_text().splitlines()) if name]
