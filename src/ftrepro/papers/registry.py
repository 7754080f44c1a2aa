"""The papers' deviation registries (each paper's deviations.yaml, ftrepro.deviations) against a
resolved config: the section under every table and in the report, the check the tests run, and
docs/deviations.md.

    python -m ftrepro.papers.registry [--out docs/deviations.md]

Cheap and torch-free: the table rules render their section at parse time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ftrepro.config import Config
from ftrepro.deviations import Registry, check, document, preset_markdown, read_registry
from ftrepro.papers.band2025 import deviations as band_deviations
from ftrepro.papers.gupta2023 import deviations as gupta_deviations
from ftrepro.papers.zhao2025 import deviations as zhao_deviations

MODULES = {"zhao2025": zhao_deviations, "gupta2023": gupta_deviations, "band2025": band_deviations}
DOC = Path("docs/deviations.md")
COMMAND = "python -m ftrepro.papers.registry --out docs/deviations.md"


def registry(paper: str) -> Registry:
    return read_registry(MODULES[paper].REGISTRY, paper)


def problems(config: Config, paper: str) -> list[str]:
    """A paper's undeclared differences and stale entries in the config's preset ([] when none)."""
    return check(registry(paper), MODULES[paper].our_settings(config), config.preset)


def section(config: Config, paper: str) -> str:
    """The markdown section under each of the paper's tables for the config's preset."""
    return preset_markdown(registry(paper), MODULES[paper].our_settings(config), config.preset)


def deviations_doc() -> str:
    """docs/deviations.md, from the three registries."""
    return document([registry(paper) for paper in MODULES], COMMAND)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ftrepro.papers.registry", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="write docs/deviations.md here (default: stdout)")
    args = parser.parse_args(argv)
    text = deviations_doc()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
