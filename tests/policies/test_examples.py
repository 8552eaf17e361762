"""The shipped example policy is valid, lint-clean, and its own tests pass."""

from __future__ import annotations

from pathlib import Path

import policies
from policies.lint import KNOWN_ENTITIES
from policies.loader import check
from policies.schema import Mode
from policies.testing import run_policy_tests

EXAMPLES = Path(policies.__file__).parent / "examples"


def test_example_policy_is_valid_and_lint_clean() -> None:
    loaded, errors, warnings = check(EXAMPLES)
    assert errors == []
    assert loaded is not None
    assert [w for w in warnings if "uncommitted" not in w.message] == []
    p = loaded.policy
    assert [r.name for r in p.rules][-1] == "everything-else"
    assert {r.id: r.kind for r in p.red_lines} == {
        "no-delete-outside-scratch": "files-outside", "no-cloud-credentials": "paths",
        "no-database-admin": "network", "no-secure-erase-tools": "paths"}
    shred = next(r for r in p.red_lines if r.id == "no-secure-erase-tools")
    assert p.red_line_mode(shred) is Mode.ENFORCE and shred.may_degrade


def test_example_policy_tests_pass() -> None:
    results = run_policy_tests(EXAMPLES)
    assert len(results) >= 10
    assert [str(r) for r in results if not r.passed] == []
    assert any(r.expect_fail for r in results)


def test_lint_knows_every_entity_the_scanner_emits() -> None:
    from daemon.scan.recognizers.secrets import SECRET_ENTITIES  # imports presidio (~2 s)

    assert set(SECRET_ENTITIES) <= KNOWN_ENTITIES
