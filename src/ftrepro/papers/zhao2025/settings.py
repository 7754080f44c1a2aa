"""zhao2025's config section (key `zhao2025`, schema.yaml beside this file), typed and resolved
through the preset: read as `config.zhao2025`. The config layer imports this module by the
package name config `papers` registers (ftrepro.config.paper_settings): torch-free, and it imports
nothing above the config layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class ZhaoTask:
    dataset: str
    subtasks: list[str]


@dataclass(frozen=True)
class Zhao2025:
    tasks: dict[str, ZhaoTask]
    encoders: list[str]
    decoders: list[str]
    api_models: list[str]
    shots: list[str]
    constrained_decoding: bool
    baseline_encoder: str  # the model the frozen-encoder baseline freezes
    baselines: list[str] = field(default_factory=list)  # the preset's (not in the paper)


def resolve(section: dict, preset: dict, root: Path) -> Zhao2025:
    """The section with the preset's baselines (presets.<preset>.baselines)."""
    tasks = {name: ZhaoTask(**task) for name, task in section["tasks"].items()}
    return Zhao2025(**{**section, "tasks": tasks}, baselines=preset["baselines"])


def model_references(section: dict) -> Iterator[tuple[str, str, str | None]]:
    """(key in the section, model name, the kind it must be) of every model the section names."""
    for group, kind in (("encoders", "encoder"), ("decoders", "decoder"), ("api_models", "api")):
        for name in section[group]:
            yield group, name, kind
    yield "baseline_encoder", section["baseline_encoder"], "encoder"
