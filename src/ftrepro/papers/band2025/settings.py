"""band2025's config section (key `band2025`, schema.yaml beside this file), typed and resolved
through the preset: read as `config.band2025`. The config layer imports this module by the
package name config `papers` registers (ftrepro.config.paper_settings): torch-free, and it imports
nothing above the config layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class Band2025:
    encoders: list[str]
    architectures: list[str]
    variants: list[str]
    llm: str
    annotator: str
    allocation: dict
    annotation: dict
    annotation_rows: int  # annotation.rows capped by the preset


def resolve(section: dict, preset: dict, root: Path) -> Band2025:
    """The section with annotation.rows capped by the preset (data.annotation_rows)."""
    rows = section["annotation"]["rows"]
    return Band2025(**section, annotation_rows=min(rows, preset.get("data", {}).get("annotation_rows", rows)))


def model_references(section: dict) -> Iterator[tuple[str, str, str | None]]:
    """(key in the section, model name, the kind it must be) of every model the section names."""
    for name in section["encoders"]:
        yield "encoders", name, "encoder"
    yield "llm", section["llm"], "decoder"
    yield "annotator", section["annotator"], None
