"""Property: evaluation is a total, deterministic function of its inputs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.decision import Action, EntityStat, FileFacts
from policies.evaluate import evaluate, match_root
from policies.loader import LoadedPolicy

RULES = """\
rules:
  - name: q
    match: {entities: [PRIVATE_KEY], min_score: 0.5}
    quarantine: true
    retain: {for: 7d, from: first_seen}
  - name: r
    match: {classes: [restricted], paths: ["*.csv", "data/**"], size: {max: 1GB}}
    encrypt: {after_idle: 10m}
    retain: {for: 24h, from: modified}
  - name: p
    match: {classes: [personal], labels: {tenant: [a*]}, age: {younger_than: 30d}}
    retain: {for: 7d, from: session_end}
  - name: rest
    retain: {for: 100w, from: first_seen}
"""

zones: st.SearchStrategy[tzinfo | None] = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                     timezones=zones)  # type: ignore[arg-type]  # stub overload too narrow
entity_names = st.sampled_from(["US_SSN", "CREDIT_CARD", "PERSON", "EMAIL_ADDRESS",
                                "PRIVATE_KEY", "OTHER"])
stats = st.builds(EntityStat, st.integers(-5, 10**9),
                  st.floats(allow_nan=True, allow_infinity=True))
segment = st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=12)
paths = st.one_of(
    st.builds(lambda t, s, rest: f"/srv/agents/{t}/sessions/{s}/{rest}", segment, segment,
              segment),
    st.text(max_size=40),
)
facts = st.builds(
    FileFacts, path=paths, root=st.sampled_from([None, "ws", "other"]), first_seen=times,
    modified=times, size=st.integers(-1, 2**63), labels=st.dictionaries(segment, segment),
    entities=st.dictionaries(entity_names, stats), scan=st.sampled_from(["scanned",
                                                                        "unscannable", "?"]),
    last_access=st.none() | times, session_ended_at=st.none() | times,
    idle_since=st.none() | times, encrypted=st.booleans(), quarantined=st.booleans(),
    relative=st.none() | segment,
)


@pytest.fixture
def policy(make_policy: Callable[[str], LoadedPolicy]) -> LoadedPolicy:
    return make_policy(RULES)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=facts, now=times)
def test_evaluate_is_total_and_deterministic(policy: LoadedPolicy, f: FileFacts,
                                             now: datetime) -> None:
    first = evaluate(f, policy, now)
    assert evaluate(f, policy, now) == first
    assert isinstance(first.action, Action)
    assert first.revision == policy.revision
    if first.action in (Action.NONE, Action.RECORD):
        assert first.due_at is None
    else:
        assert first.due_at is not None and first.rule is not None


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths)
def test_match_root_is_total_and_never_leaves_the_root(policy: LoadedPolicy, path: str) -> None:
    m = match_root(path, policy)
    if m is not None:
        assert path.startswith(m.directory)
        assert ".." not in m.relative.split("/")
        assert all("/" not in v and v for v in m.labels.values())
