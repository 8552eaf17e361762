"""Pure evaluation: table tests over one policy, and root matching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from policies.decision import Action, EntityStat, FileFacts
from policies.evaluate import evaluate, match_root
from policies.loader import LoadedPolicy
from policies.schema import Mode

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
H, D, M = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
SESSION = "/srv/agents/acme/sessions/s1"

RULES = """\
rules:
  - name: secrets
    match: {entities: [PRIVATE_KEY]}
    quarantine: true
    retain: {for: 7d, from: first_seen}
  - name: restricted
    match: {classes: [restricted]}
    encrypt: {after_idle: 10m}
    retain: {for: 24h, from: first_seen}
  - name: big-csv
    mode: audit
    match: {paths: ["*.csv"], size: {min: 1MB}}
    retain: {for: 1d, from: modified}
  - name: acme-personal
    match: {classes: [personal], labels: {tenant: [ac*]}}
    retain: {for: 7d, from: session_end}
  - name: many-people
    match: {entities: [PERSON], min_count: 10}
    record: true
  - name: stale
    match: {age: {older_than: 30d, since: first_seen}}
    retain: {for: 0s, from: first_seen}
  - name: reports
    match: {paths: ["reports/**"], roots: [ws]}
    encrypt: {}
  - name: catch-all
"""


@pytest.fixture
def policy(make_policy: Callable[[str], LoadedPolicy]) -> LoadedPolicy:
    return make_policy(RULES)


def facts(name: str = "out.txt", **kw: object) -> FileFacts:
    path = f"{SESSION}/{name}"
    base = FileFacts(path=path, root="ws", first_seen=NOW - H, modified=NOW - H,
                     labels={"tenant": "acme", "session": "s1"})
    return replace(base, **kw)  # type: ignore[arg-type]


def ents(**counts: int | tuple[int, float]) -> dict[str, EntityStat]:
    return {k: EntityStat(*v) if isinstance(v, tuple) else EntityStat(v, 0.99)
            for k, v in counts.items()}


def test_first_match_wins(policy: LoadedPolicy) -> None:
    d = evaluate(facts(entities=ents(PRIVATE_KEY=1, US_SSN=2)), policy, NOW)
    assert d.rule == "secrets"
    assert d.action is Action.QUARANTINE and d.due_at == NOW - H
    assert d.deadline == NOW - H + 7 * D
    assert d.classes == ("restricted",)
    assert d.revision == policy.revision and d.root == "ws"


def test_encrypt_after_idle_then_delete_at_deadline(policy: LoadedPolicy) -> None:
    f = facts(entities=ents(US_SSN=1), first_seen=NOW - 2 * H, modified=NOW - 4 * M)
    d = evaluate(f, policy, NOW)
    assert (d.rule, d.action, d.mode) == ("restricted", Action.ENCRYPT, Mode.ENFORCE)
    assert d.due_at == NOW + 6 * M and not d.is_due(NOW)
    assert d.deadline == NOW + 22 * H
    assert [(s.action, s.due_at) for s in d.pending] == [
        (Action.ENCRYPT, NOW + 6 * M), (Action.DELETE, NOW + 22 * H)]
    done = evaluate(replace(f, encrypted=True), policy, NOW)
    assert (done.action, done.due_at) == (Action.DELETE, NOW + 22 * H)


def test_idle_counts_from_the_latest_known_activity(policy: LoadedPolicy) -> None:
    f = facts(entities=ents(US_SSN=1), modified=NOW - H, last_access=NOW - 2 * M)
    assert evaluate(f, policy, NOW).due_at == NOW + 8 * M
    explicit = replace(f, idle_since=NOW - 30 * M)
    assert evaluate(explicit, policy, NOW).due_at == NOW - 20 * M


def test_overdue_delete_beats_overdue_encrypt(policy: LoadedPolicy) -> None:
    f = facts(entities=ents(CREDIT_CARD=1), first_seen=NOW - 2 * D, modified=NOW - 2 * D)
    d = evaluate(f, policy, NOW)
    assert (d.action, d.due_at) == (Action.DELETE, NOW - D)
    assert d.is_due(NOW)


def test_already_quarantined_waits_for_the_deadline(policy: LoadedPolicy) -> None:
    f = facts(entities=ents(PRIVATE_KEY=1), quarantined=True)
    d = evaluate(f, policy, NOW)
    assert (d.action, d.due_at) == (Action.DELETE, NOW - H + 7 * D)


def test_audit_mode_comes_from_the_rule(policy: LoadedPolicy) -> None:
    d = evaluate(facts("data.csv", size=2_000_000, modified=NOW - 3 * H), policy, NOW)
    assert (d.rule, d.mode, d.action) == ("big-csv", Mode.AUDIT, Action.DELETE)
    assert d.deadline == NOW + 21 * H  # retention from modified
    small = evaluate(facts("data.csv", size=999_999), policy, NOW)
    assert small.rule == "catch-all" and small.mode is Mode.ENFORCE


def test_retention_from_session_end(policy: LoadedPolicy) -> None:
    running = facts(entities=ents(PERSON=(1, 0.9)))
    d = evaluate(running, policy, NOW)
    assert (d.rule, d.action, d.deadline, d.due_at) == ("acme-personal", Action.RECORD, None,
                                                         None)
    assert any("session has not ended" in r for r in d.reasons)
    ended = evaluate(replace(running, session_ended_at=NOW - D), policy, NOW)
    assert (ended.action, ended.deadline) == (Action.DELETE, NOW + 6 * D)


def test_class_score_threshold_and_labels(policy: LoadedPolicy) -> None:
    weak = evaluate(facts(entities=ents(PERSON=(1, 0.5))), policy, NOW)
    assert weak.rule == "catch-all" and weak.classes == ()
    other_tenant = evaluate(facts(entities=ents(PERSON=(1, 0.9)),
                                  labels={"tenant": "globex"}), policy, NOW)
    assert other_tenant.rule == "catch-all" and other_tenant.classes == ("personal",)


def test_min_count_age_and_relative_paths(policy: LoadedPolicy) -> None:
    many = facts(entities=ents(PERSON=(12, 0.4)), labels={"tenant": "globex"})
    assert evaluate(many, policy, NOW).rule == "many-people"
    old = facts(first_seen=NOW - 31 * D, modified=NOW - M)
    d = evaluate(old, policy, NOW)
    assert (d.rule, d.action, d.due_at) == ("stale", Action.DELETE, NOW - 31 * D)
    report = evaluate(facts("reports/2026/q1.pdf"), policy, NOW)
    assert (report.rule, report.action, report.due_at) == ("reports", Action.ENCRYPT, NOW - H)
    assert evaluate(facts("x/reports/q1.pdf"), policy, NOW).rule == "catch-all"


def test_catch_all_records_and_explains(policy: LoadedPolicy) -> None:
    d = evaluate(facts(), policy, NOW)
    assert (d.rule, d.action, d.due_at, d.deadline) == ("catch-all", Action.RECORD, None, None)
    assert "catch-all rule" in d.reasons


def test_unscannable_is_said_so(policy: LoadedPolicy) -> None:
    d = evaluate(facts(scan="unscannable"), policy, NOW)
    assert d.reasons[0] == "the file could not be scanned; its classes are unknown"


def test_excluded_and_foreign_paths_are_not_governed(policy: LoadedPolicy) -> None:
    excluded = evaluate(facts(".git/objects/ab", entities=ents(US_SSN=1)), policy, NOW)
    assert (excluded.action, excluded.rule) == (Action.NONE, None)
    lock = evaluate(facts("deep/x.lock"), policy, NOW)
    assert lock.action is Action.NONE
    foreign = evaluate(replace(facts(), root=None, path="/home/x"), policy, NOW)
    assert (foreign.action, foreign.root) == (Action.NONE, None)
    unknown_root = evaluate(replace(facts(), root="gone"), policy, NOW)
    assert unknown_root.action is Action.NONE


def test_naive_times_are_utc(policy: LoadedPolicy) -> None:
    naive = NOW.replace(tzinfo=None)
    f = facts(entities=ents(US_SSN=1), first_seen=naive - H, modified=naive - H)
    assert evaluate(f, policy, naive).deadline == NOW + 23 * H


def test_match_root_extracts_labels(policy: LoadedPolicy) -> None:
    m = match_root(f"{SESSION}/a/b.txt", policy)
    assert m is not None
    assert (m.root.name, dict(m.labels), m.directory, m.relative, m.excluded) == (
        "ws", {"tenant": "acme", "session": "s1"}, SESSION, "a/b.txt", False)
    assert m.session == "s1"
    top = match_root(SESSION, policy)
    assert top is not None and top.relative == "" and top.directory == SESSION
    assert match_root(f"{SESSION}/.git/config", policy).excluded  # type: ignore[union-attr]


@pytest.mark.parametrize("path", [
    "/srv/agents/acme/sessions", "/srv/agents/acme/other/s1/x", "relative/path",
    f"{SESSION}/../../x/sessions/y", "/srv/agents//sessions/s1",
])
def test_match_root_misses(policy: LoadedPolicy, path: str) -> None:
    assert match_root(path, policy) is None


def test_deepest_root_wins(write: Callable[[str, str], object],
                           make_policy: Callable[[str], LoadedPolicy]) -> None:
    loaded = make_policy("""\
        rules:
          - name: all
        """)
    write("more.yaml", """\
        version: 1
        roots:
          - name: tenants
            path: /srv/agents/{tenant}
            owner: b@example.com
        """)
    from policies.loader import load_policy
    loaded = load_policy(loaded.directory)
    deep = match_root(f"{SESSION}/f", loaded)
    shallow = match_root("/srv/agents/acme/cache/f", loaded)
    assert deep is not None and deep.root.name == "ws"
    assert shallow is not None and shallow.root.name == "tenants"
    assert dict(shallow.labels) == {"tenant": "acme"} and shallow.relative == "cache/f"


def test_explain_names_rule_location_steps_and_reasons(policy: LoadedPolicy) -> None:
    from policies.explain import explain

    f = facts(entities=ents(US_SSN=1), first_seen=NOW - 2 * H, modified=NOW - 4 * M)
    text = explain(evaluate(f, policy, NOW), policy, NOW)
    assert text.splitlines() == [
        f"rule:     restricted ({policy.origins['rule:restricted']})",
        "mode:     enforce",
        "action:   encrypt, due in 6m",
        "deadline: in 22h",
        "classes:  restricted",
        f"policy:   {policy.revision}",
        "step:     encrypt in 6m",
        "step:     delete in 22h",
        "because:  class 'restricted' (US_SSN)",
        "because:  encrypt 10m after the file went idle",
        "because:  retain 1d from first_seen, then delete",
    ]
