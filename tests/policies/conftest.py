"""Fixtures for the policy tests: write policy directories into tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.loader import LoadedPolicy, load_policy

BASE_POLICY = """\
version: 1
mode: enforce
roots:
  - name: ws
    path: /srv/agents/{tenant}/sessions/{session}
    owner: team@example.com
    exclude: [".git/**", "*.lock"]
classes:
  restricted: [US_SSN, CREDIT_CARD]
  personal:
    entities: [PERSON, EMAIL_ADDRESS]
    min_score: 0.6
"""

Writer = Callable[[str, str], Path]


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    d = tmp_path / "policy"
    d.mkdir()
    return d


@pytest.fixture
def write(policy_path: Path) -> Writer:
    """write(name, yaml_text) -> path, dedenting the text, inside the policy dir."""

    def _write(name: str, text: str) -> Path:
        path = policy_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def make_policy(policy_path: Path, write: Writer) -> Callable[[str], LoadedPolicy]:
    """make_policy(rules_yaml) -> the loaded BASE_POLICY plus those lines."""

    def _make(rest: str) -> LoadedPolicy:
        write("policy.yaml", BASE_POLICY + textwrap.dedent(rest))
        return load_policy(policy_path)

    return _make
