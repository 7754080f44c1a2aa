"""The papers' deviation registries (each paper's deviations.yaml, ftrepro.deviations) against a
resolved config: the section under every table and in the report, the check the tests run, and
docs/deviations.md. A paper names its registry in its registration (ftrepro.jobs.Paper.deviations);
a paper without one has no section and nothing to check.

    python -m ftrepro.papers.deviations [--out docs/deviations.md]

Cheap and torch-free: the table rules render their section at parse time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from ftrepro import config as ftconfig
from ftrepro.config import Config
from ftrepro.deviations import Registry, check, document, preset_markdown, read_registry
from ftrepro.papers import registered

DOC = Path("docs/deviations.md")
COMMAND = "python -m ftrepro.papers.deviations --out docs/deviations.md"


def _module(config: Config, paper: str) -> ModuleType | None:
    """A paper's deviations module: REGISTRY (its deviations.yaml) and our_settings(config)."""
    name = registered(config)[paper].deviations
    return importlib.import_module(name) if name else None


def registry(config: Config, paper: str) -> Registry | None:
    module = _module(config, paper)
    return read_registry(module.REGISTRY, paper) if module else None


def problems(config: Config, paper: str) -> list[str]:
    """A paper's undeclared differences and stale entries in the config's preset ([] when none)."""
    module = _module(config, paper)
    if module is None:
        return []
    return check(read_registry(module.REGISTRY, paper), module.our_settings(config), config.preset)


def section(config: Config, paper: str) -> str:
    """The markdown section under each of the paper's tables for the config's preset ("": none)."""
    module = _module(config, paper)
    if module is None:
        return ""
    return preset_markdown(read_registry(module.REGISTRY, paper), module.our_settings(config), config.preset)


def deviations_doc(config: Config) -> str:
    """docs/deviations.md, from the registries of the papers the config registers."""
    registries = (registry(config, paper) for paper in registered(config))
    return document([found for found in registries if found], COMMAND)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ftrepro.papers.deviations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, help="write docs/deviations.md here (default: stdout)")
    parser.add_argument("--configfile", type=Path, default=ftconfig.CONFIG, help="its papers are documented")
    args = parser.parse_args(argv)
    text = deviations_doc(ftconfig.load(args.configfile))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
