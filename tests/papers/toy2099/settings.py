"""toy2099's config section (key `toy2099`, schema.yaml beside this file): read as config.toy2099."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class Toy2099:
    encoders: list[str]
    dataset: str


def resolve(section: dict, preset: dict, root: Path) -> Toy2099:
    return Toy2099(**section)


def model_references(section: dict) -> Iterator[tuple[str, str, str | None]]:
    for name in section["encoders"]:
        yield "encoders", name, "encoder"
