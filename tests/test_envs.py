"""The per-stage conda environments pin the same versions as pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from conftest import REPO

_PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PINNED = dict(
    dep.split("==")
    for dep in [
        *_PROJECT["dependencies"],
        *(d for extra in _PROJECT["optional-dependencies"].values() for d in extra),
    ]
)
ENVS = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.stem)
def test_env_pins_match_pyproject(env):
    pip = next(d["pip"] for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, dict))
    pins = dict(p.split("==") for p in pip if "==" in p)
    assert pins, f"{env} pins nothing"
    assert {name: PINNED.get(name) for name in pins} == pins


def test_every_rule_with_a_script_names_an_existing_env():
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\n\s+"\.\./\.\./(envs/\w+\.yaml)"', rules.read_text()):
            assert (REPO / env).exists(), f"{rules.name}: {env}"
        text = rules.read_text()
        assert text.count("script:") == text.count("conda:"), rules.name
