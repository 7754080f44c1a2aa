"""issue 29.1: every `snakemake`, `ftrepro` and `make` command of README.md and docs/ runs as written,
on a fresh clone of the checkout (its committed files) with ../shared beside it.

Each command is run, never its jobs: where a command would run jobs it is dry-run, as cheap as
possible with the same arguments:
- snakemake: with -n added (`--report FILE` dropped: it needs a finished run; the dry-run checks its
  target);
- ftrepro run: with -- --dry-run added, and --plain (the warm runner only changes how the jobs'
  scripts start, and would import torch for a dry-run);
- make: make -n (make's own dry run: the target exists and its recipe expands);
- ftrepro stats, ftrepro report: they read what a run made, which a fresh clone lacks, so their
  arguments are parsed by the command's own parser, nothing run;
- anything else (ftrepro plan, --help, snakemake --lint) as written.
Every path a command names under results/, resources/ or logs/ must be a preset's
(results/<preset>/...). About a minute in all (mostly the paper preset's dry-runs)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("snakemake", "ftrepro", "make")
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMMAND = re.compile(r"^\s*(\.venv/bin/)?(snakemake|ftrepro|make)(\s|$)")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PRESETS = set(yaml.safe_load((REPO / "config/config.yaml").read_text())["presets"])


def _program(words: list[str]) -> str | None:
    name = words[0].removeprefix(".venv/bin/") if words else ""
    return name if name in PROGRAMS else None


def commands(text: str) -> list[str]:
    """The snakemake, ftrepro and make commands of a markdown text: each line of a fenced block
    (backslash continuations joined, comments dropped), and each inline code span that is one."""
    found = []
    for block in _FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if _COMMAND.match(line):
                found.append(shlex.join(shlex.split(line, comments=True)))
    prose = _FENCE.sub("", text)
    for span in _INLINE.findall(prose):
        if _COMMAND.match(span) and " " in span.strip():  # a program name alone is no command
            found.append(shlex.join(shlex.split(span)))
    return list(dict.fromkeys(found))


def documented() -> list[tuple[str, str]]:
    return [(str(doc.relative_to(REPO)), command) for doc in DOCS for command in commands(doc.read_text())]


def cheap(command: str) -> tuple[list[str], str]:
    """The command as it is run here (the module's doc), and how: "run", "dry-run" or "parse"."""
    words = shlex.split(command)
    program, args = _program(words), words[1:]
    if program == "make":
        return ["make", "-n", *args], "dry-run"
    if program == "snakemake":
        if "--lint" in args:
            return [sys.executable, "-m", "snakemake", *args], "run"
        if "--report" in args:
            at = args.index("--report")
            args = args[:at] + args[at + 2 :]
        dry = [] if {"-n", "--dry-run"} & set(args) else ["-n"]
        return [sys.executable, "-m", "snakemake", *dry, *args], "dry-run"
    if args[:1] == ["run"] and "--help" not in args:
        if "--" not in args:
            args = [*args, "--"]
        args = ["run", "--plain", *args[1:]] + ([] if "--dry-run" in args else ["--dry-run"])
        return [sys.executable, "-m", "ftrepro.cli", *args], "dry-run"
    if args[:1] in (["stats"], ["report"]) and "--help" not in args:
        return args, "parse"
    return [sys.executable, "-m", "ftrepro.cli", *args], "run"


def test_commands_are_found_in_the_docs():
    found = documented()
    assert len(found) >= 20
    programs = {_program(shlex.split(command)) for _, command in found}
    assert programs == set(PROGRAMS)
    text = "```bash\nsnakemake -n --config preset=mini \\\n    a=1 -- zhao2025   # one paper\nls\n```\n"
    assert commands(text + "and `ftrepro run --preset mini` or `make lint`, not `ftrepro` alone.") == [
        "snakemake -n --config preset=mini a=1 -- zhao2025",
        "ftrepro run --preset mini",
        "make lint",
    ]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """A clone of the checkout's HEAD, with ../shared beside it as a user's clone has."""
    root = tmp_path_factory.mktemp("clone")
    clone = root / "ftrepro"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{REPO}", str(clone)], check=True)
    (root / "shared").symlink_to(REPO.parent / "shared")
    return clone


@pytest.mark.parametrize(("doc", "command"), documented(), ids=[f"{d}: {c[:80]}" for d, c in documented()])
def test_every_documented_command_runs_as_written(fresh_clone, doc, command):
    from ftrepro import cli

    argv, how = cheap(command)
    paths = [
        w.split("=", 1)[-1]
        for w in shlex.split(command)
        if re.match(r"(--\w+=)?(results|resources|logs)/", w)
    ]
    stale = [path for path in paths if path.split("/")[1] not in PRESETS]
    assert not stale, f"{doc}: `{command}` names a path outside every preset's directory: {stale}"
    if how == "parse":
        cli.build_parser().parse_args(argv)  # exits 2 on an unknown option or a bad value
        return
    env = {**os.environ, "PYTHONPATH": str(fresh_clone / "src"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(argv, cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{doc}: `{command}` ({how}: {shlex.join(argv)}):\n" + (
        result.stdout[-2000:] + result.stderr[-2000:]
    )
