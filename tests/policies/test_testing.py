"""Policy unit tests next to the policy: results, diffs and expect_fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies.testing import run_policy_tests
from scratchwarden.errors import PolicyErrors

Writer = Callable[[str, str], Path]

POLICY = """\
version: 1
mode: enforce
roots:
  - name: ws
    path: /srv/agents/{tenant}/sessions/{session}
    owner: a@example.com
classes:
  restricted: [US_SSN]
rules:
  - name: restricted
    match: {classes: [restricted]}
    encrypt: {after_idle: 10m}
    retain: {for: 24h, from: first_seen}
  - name: rest
    retain: {for: 7d, from: session_end}
"""


@pytest.fixture
def with_policy(write: Writer) -> Writer:
    write("policy.yaml", POLICY)
    return write


def test_passing_failing_and_expect_fail_cases(with_policy: Writer, policy_path: Path) -> None:
    tests = with_policy("policy_test.yaml", """\
        version: 1
        now: 2026-01-01T00:00:00Z
        cases:
          - name: ssn encrypted after idle
            given:
              path: /srv/agents/acme/sessions/s1/a.csv
              entities: {US_SSN: 1}
              first_seen: 1h ago
              modified: 4m ago
            expect:
              rule: restricted
              action: encrypt
              due: in 6m
              deadline: in 23h
              classes: [restricted]
              root: ws
              labels: {tenant: acme, session: s1}
              mode: enforce
          - name: wrong expectation
            given: {path: /srv/agents/acme/sessions/s1/b.txt}
            expect: {rule: restricted, action: delete, deadline: in 7d}
          - name: expected failure that does fail
            expect_fail: true
            given: {path: /srv/agents/acme/sessions/s1/b.txt}
            expect: {action: delete}
          - name: expected failure that passes
            expect_fail: true
            given: {path: /srv/agents/acme/sessions/s1/b.txt, session_ended: now}
            expect: {action: delete, deadline: in 7d}
        """)
    results = run_policy_tests(policy_path)
    assert [(r.name, r.passed) for r in results] == [
        ("ssn encrypted after idle", True), ("wrong expectation", False),
        ("expected failure that does fail", True), ("expected failure that passes", False)]
    assert [r.line for r in results] == [4, 19, 22, 26]
    assert all(r.file == str(tests) for r in results)
    assert results[1].diffs == ("rule: expected restricted, found rest",
                                "action: expected delete, found record",
                                "deadline: expected in 7d, found none")
    assert str(results[1]).splitlines() == [
        f"FAIL {tests}:19: wrong expectation",
        "    rule: expected restricted, found rest",
        "    action: expected delete, found record",
        "    deadline: expected in 7d, found none"]
    assert str(results[3]) == (f"FAIL {tests}:26: expected failure that passes (expected to "
                               "fail, but every expectation held)")
    assert results[2].diffs == ("action: expected delete, found record",)


def test_case_now_overrides_and_absolute_times(with_policy: Writer, policy_path: Path) -> None:
    with_policy("tests/abs.yaml", """\
        version: 1
        now: 2026-01-01T00:00:00Z
        cases:
          - name: absolute first_seen, case-level now
            now: 2026-01-02T06:00:00+02:00
            given:
              path: /srv/agents/acme/sessions/s1/a.csv
              entities: {US_SSN: {count: 2, score: 0.7}}
              first_seen: 2026-01-01T00:00:00Z
              encrypted: true
            expect: {action: delete, due: 4h ago, deadline: 2026-01-02T00:00:00Z}
        """)
    [result] = run_policy_tests(policy_path)
    assert result.passed, result.diffs


def test_now_is_required(with_policy: Writer, policy_path: Path) -> None:
    t = with_policy("x_test.yaml", """\
        version: 1
        cases:
          - name: no clock
            given: {path: /x}
            expect: {action: none}
        """)
    with pytest.raises(PolicyErrors) as e:
        run_policy_tests(policy_path)
    assert [str(x) for x in e.value.errors] == [
        f"{t}:3: cases[0]: 'now' is required in the case or at the top of the file (tests "
        "never read the clock)"]


def test_invalid_test_files_report_file_and_line(with_policy: Writer, policy_path: Path) -> None:
    t = with_policy("x_test.yaml", """\
        version: 1
        now: 2026-01-01T00:00:00Z
        cases:
          - name: bad time
            given: {path: /x, first_seen: yesterday}
            expect: {acton: none}
        """)
    with pytest.raises(PolicyErrors) as e:
        run_policy_tests(policy_path)
    assert [str(x) for x in e.value.errors] == [
        f"{t}:5: cases[0].given.first_seen: expected a time like '3d ago', 'in 1h', 'now' or a "
        "timestamp, found 'yesterday'",
        f"{t}:6: cases[0].expect.acton: unknown key (check the spelling); expected one of: "
        "action, classes, deadline, due, labels, mode, root, rule"]


def test_an_invalid_policy_stops_the_tests(write: Writer, policy_path: Path) -> None:
    write("policy.yaml", "version: 1\nmode: sometimes\n")
    write("policy_test.yaml", "version: 1\ncases: []\n")
    with pytest.raises(PolicyErrors) as e:
        run_policy_tests(policy_path)
    assert e.value.errors[0].line == 2
