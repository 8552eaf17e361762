"""Docs that age well: every ADR is short, follows the template and is in the
index; no file cites notes kept outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADRS = sorted((REPO / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
SECTIONS = ("## Context", "## Options considered", "## Decision", "## Consequences")


@pytest.mark.parametrize("adr", ADRS, ids=lambda p: p.name)
def test_an_adr_is_short_and_follows_the_template(adr: Path) -> None:
    text = adr.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert 50 <= lines <= 140, f"{adr.name}: {lines} lines (figures go to docs/perf/)"
    positions = [text.find(f"\n{s}\n") for s in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), adr.name


def test_every_adr_is_in_the_index() -> None:
    index = (REPO / "docs" / "adr" / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\((\d{4}-[^)]+\.md)\)", index))
    assert listed == {p.name for p in ADRS}


def test_measurement_logs_are_dated() -> None:
    for log in (REPO / "docs" / "perf").glob("*.md"):
        assert re.match(r"\d{4}-\d{2}-\d{2}-", log.name), log.name


def test_nothing_cites_notes_outside_the_repository() -> None:
    found = subprocess.run(["git", "grep", "-nE", r"\.\./shared|FIELD-NOTES", "--", ".",
                            ":!tests/test_docs.py"], cwd=REPO, capture_output=True, text=True)
    assert found.stdout == ""
