"""Deviation registries: where a run departs from its paper, declared once per paper and checked
(each paper package holds its own; ftrepro.papers.deviations puts them together).

Each paper package holds `deviations.yaml` with two parts:

- `settings`: the paper's own settings, transcribed ({id: {paper, where, what}}), each a value
  the resolved config of a preset also yields (the paper's `our_settings`), so the two compare;
- `entries`: every deviation (what the paper did, what we do, why, the rows or cells it touches,
  `kind` choice | unstated, the `presets` it holds in, the `settings` values it declares there,
  and `settings_by_preset` {preset: values} where a preset's differ; `status: absent` marks work
  not done yet).

A setting whose value in a preset differs from the paper's must be declared, with that value, by
an entry of the preset; an entry's declared value must be the preset's (`check`). Dicts compare
leaf by leaf ("samples_per_task.baseline3"), so an entry declares exactly what it covers. Under
every table, in the report and in docs/deviations.md the registry reads as markdown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftrepro.io import DataError

KINDS = {
    "choice": "our choice",
    "unstated": "the paper leaves it unstated",
}
HEADING = "## Deviations from the paper"
ABSENT = "(none)"  # a leaf that one side has and the other has not


@dataclass(frozen=True)
class Setting:
    id: str
    paper: Any
    where: str  # the paper's section, table or figure it is transcribed from
    what: str


@dataclass(frozen=True)
class Entry:
    id: str
    paper: str
    ours: str
    why: str
    touches: str
    kind: str  # choice | unstated
    presets: tuple[str, ...]  # the presets it holds in
    # {preset: {leaf id: the value it declares there}}
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = ""  # "absent": work not done yet (e.g. a run the matrix lacks)

    def declared(self, preset: str) -> dict[str, Any]:
        return self.settings.get(preset, {})


@dataclass(frozen=True)
class Registry:
    paper: str
    path: Path
    settings: dict[str, Setting]
    entries: list[Entry]

    def for_preset(self, preset: str) -> list[Entry]:
        return [entry for entry in self.entries if preset in entry.presets]


@dataclass(frozen=True)
class Difference:
    setting: str  # leaf id
    paper: Any
    ours: Any
    entry: str | None  # the entry that declares it; None: undeclared


PRESETS = ("tiny", "mini", "paper")


def read_registry(path: str | Path, paper: str) -> Registry:
    """A paper's deviations.yaml, checked: every field there, kinds and presets known, every
    declared setting transcribed. Errors name the file and the entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: not a readable registry: {e}") from e
    settings = {}
    for sid, spec in (data.get("settings") or {}).items():
        _require(path, f"settings.{sid}", spec, ("paper", "where", "what"))
        settings[sid] = Setting(sid, spec["paper"], spec["where"], spec["what"])
    entries = []
    for i, spec in enumerate(data.get("entries") or []):
        where = f"entries[{i}] ({spec.get('id', '?')})"
        _require(path, where, spec, ("id", "paper", "ours", "why", "touches", "kind"))
        if spec["kind"] not in KINDS:
            raise DataError(f"{path}: {where}: kind {spec['kind']!r} is not one of {list(KINDS)}")
        presets = tuple(spec.get("presets") or PRESETS)
        unknown = sorted(set(presets) - set(PRESETS))
        if unknown:
            raise DataError(f"{path}: {where}: unknown presets {unknown}")
        by_preset = spec.get("settings_by_preset") or {}
        if set(by_preset) - set(presets):
            raise DataError(f"{path}: {where}: settings_by_preset names presets outside {list(presets)}")
        base = flatten(spec.get("settings") or {})
        declared = {p: {**base, **flatten(by_preset.get(p) or {})} for p in presets}
        stray = sorted(
            {leaf for values in declared.values() for leaf in values if _root(leaf) not in settings}
        )
        if stray:
            raise DataError(f"{path}: {where}: settings {stray} are not transcribed under `settings`")
        entries.append(
            Entry(
                spec["id"],
                str(spec["paper"]).strip(),
                str(spec["ours"]).strip(),
                str(spec["why"]).strip(),
                str(spec["touches"]).strip(),
                spec["kind"],
                presets,
                declared,
                spec.get("status", ""),
            )
        )
    ids = [entry.id for entry in entries]
    if len(ids) != len(set(ids)):
        raise DataError(f"{path}: entry ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return Registry(paper, path, settings, entries)


def _require(path: Path, where: str, spec: Any, keys: Iterable[str]) -> None:
    missing = [key for key in keys if not isinstance(spec, dict) or key not in spec]
    if missing:
        raise DataError(f"{path}: {where}: missing {missing}")


def _root(leaf: str) -> str:
    return leaf.split(".", 1)[0]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b": leaf} of nested dicts (lists and scalars are leaves)."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    flat = {}
    for key, sub in value.items():
        flat.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def same(a: Any, b: Any) -> bool:
    """Equal values; numbers compare as numbers (1e-5 == 1.0e-05), lists item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def differences(registry: Registry, ours: Mapping[str, Any], preset: str) -> list[Difference]:
    """Every leaf where the preset's value (`ours`: {setting id: value}) differs from the
    paper's, with the entry of the preset that declares that very value (None: undeclared)."""
    unknown = sorted(set(ours) - set(registry.settings))
    if unknown:
        raise DataError(f"{registry.path}: settings {unknown} are computed but not transcribed")
    paper = flatten({sid: s.paper for sid, s in registry.settings.items()})
    mine = flatten(dict(ours))
    entries = registry.for_preset(preset)
    found = []
    for leaf in dict.fromkeys([*paper, *mine]):
        theirs, value = paper.get(leaf, ABSENT), mine.get(leaf, ABSENT)
        if same(theirs, value):
            continue
        entry = next(
            (e.id for e in entries if leaf in e.declared(preset) and same(e.declared(preset)[leaf], value)),
            None,
        )
        found.append(Difference(leaf, theirs, value, entry))
    return found


def check(registry: Registry, ours: Mapping[str, Any], preset: str) -> list[str]:
    """What is wrong with a preset's declarations, as sentences ([] when nothing): a setting that
    differs from the paper without an entry declaring its value, and an entry that declares a
    value the preset does not have (stale)."""
    mine = flatten(dict(ours))
    problems = [
        f"{registry.paper} setting {d.setting}: the paper's is {d.paper!r}, preset {preset}'s "
        f"{d.ours!r}, and no entry of {registry.path.name} declares it"
        for d in differences(registry, ours, preset)
        if d.entry is None
    ]
    for entry in registry.for_preset(preset):
        for leaf, value in entry.declared(preset).items():
            if not same(mine.get(leaf, ABSENT), value):
                problems.append(
                    f"{registry.paper} entry {entry.id}: declares {leaf} = {value!r}, but preset "
                    f"{preset} has {mine.get(leaf, ABSENT)!r}"
                )
    return problems


# --- markdown ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(_text, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", r"\|")


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _entry_rows(entries: Iterable[Entry]) -> list[list[str]]:
    return [
        [
            e.id + (f" ({e.status})" if e.status else ""),
            e.paper,
            e.ours,
            e.why,
            e.touches,
            KINDS[e.kind],
        ]
        for e in entries
    ]


ENTRY_HEADER = ["deviation", "the paper", "ours", "why", "touches", "kind"]


def preset_markdown(registry: Registry, ours: Mapping[str, Any], preset: str) -> str:
    """The section under a paper's tables: the preset's entries, then any setting that differs
    from the paper undeclared (in bold: a reader must not miss it)."""
    undeclared = [d for d in differences(registry, ours, preset) if d.entry is None]
    text = (
        f"{HEADING} ({registry.paper}, preset {preset})\n\n"
        "Every place this preset departs from the paper (the registry of docs/deviations.md); "
        "a cell under a row or column named here is not the paper's setting.\n\n"
        + _table(ENTRY_HEADER, _entry_rows(registry.for_preset(preset)))
    )
    if undeclared:
        text += (
            "\n**Undeclared differences from the paper (no registry entry):** "
            + "; ".join(f"{d.setting}: paper {_text(d.paper)}, ours {_text(d.ours)}" for d in undeclared)
            + ".\n"
        )
    return text


def document(registries: Iterable[Registry], command: str) -> str:
    """docs/deviations.md: per paper, its transcribed settings and every entry with its presets."""
    parts = [
        "# Deviations from the papers\n",
        f"Generated from `src/ftrepro/papers/<paper>/deviations.yaml` by `{command}`; "
        "tests/test_deviations.py fails when this file is out of date, when a preset's setting "
        "differs from the paper's without an entry declaring it, or when an entry declares a value "
        "the preset does not have. The same entries are printed under each table and in "
        "results/<preset>/report.html, for the preset that made them. Kind: *our choice*, or *the paper "
        "leaves it unstated* (our reading of what it does not say).\n",
    ]
    for registry in registries:
        parts.append(f"## {registry.paper}\n")
        parts.append("### The paper's settings, transcribed\n")
        parts.append(
            _table(
                ["setting", "the paper", "where", "what"],
                [[s.id, _text_tree(s.paper), s.where, s.what] for s in registry.settings.values()],
            )
        )
        parts.append("### Deviations\n")
        parts.append(
            _table(
                [*ENTRY_HEADER, "presets", "settings it declares"],
                [
                    [*row, ", ".join(e.presets), _declared_text(e)]
                    for row, e in zip(_entry_rows(registry.entries), registry.entries)
                ],
            )
        )
    return "\n".join(parts)


def _declared_text(entry: Entry) -> str:
    """The values an entry declares, once where all its presets share them, else per preset."""
    groups: dict[str, list[str]] = {}
    for preset in entry.presets:
        values = "; ".join(f"{k} = {_text(v)}" for k, v in entry.declared(preset).items())
        groups.setdefault(values, []).append(preset)
    if len(groups) == 1:
        return next(iter(groups))
    return " / ".join(f"{', '.join(presets)}: {values or '-'}" for values, presets in groups.items())


def _text_tree(value: Any) -> str:
    flat = flatten(value)
    if list(flat) == [""]:
        return _text(value)
    return "; ".join(f"{k}: {_text(v)}" for k, v in flat.items())
