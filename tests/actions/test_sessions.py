"""Session ends: directory gone, marker file, idle time, operator. The
tracker is pure; the log is write-once files; the enforcer ties them to
retention ``from: session_end``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.actions.sessions import (
    Observation,
    SessionEnd,
    SessionLog,
    SessionSpec,
    SessionTracker,
)
from tests.actions.helpers import NODE, T0, Env

SPEC = SessionSpec(end_marker=".session-done", idle_end=timedelta(hours=12))


def test_directory_gone_ends_the_session() -> None:
    t = SessionTracker()
    assert t.observe(Observation("/s/1", "1", True, None, T0), SPEC, T0,
                     idle_decidable=True) is None
    end = t.observe(Observation("/s/1", "1", False), SPEC, T0 + timedelta(hours=1),
                    idle_decidable=True)
    assert end is not None and (end.why, end.ended_at) == ("directory-gone",
                                                          T0 + timedelta(hours=1))
    assert t.ended_at("/s/1") == T0 + timedelta(hours=1)
    # ended once and for good
    assert t.observe(Observation("/s/1", "1", True, None, T0 + timedelta(hours=2)), SPEC,
                     T0 + timedelta(hours=3), idle_decidable=True) is None


def test_marker_ends_the_session_at_its_ctime_never_in_the_future() -> None:
    t = SessionTracker()
    end = t.observe(Observation("/s/1", "1", True, T0 - timedelta(minutes=3), T0), SPEC, T0,
                    idle_decidable=False)
    assert end is not None and (end.why, end.ended_at) == ("marker", T0 - timedelta(minutes=3))
    t2 = SessionTracker()
    end2 = t2.observe(Observation("/s/2", "2", True, T0 + timedelta(days=1), T0), SPEC, T0,
                      idle_decidable=False)
    assert end2 is not None and end2.ended_at == T0


def test_idle_end_waits_for_a_full_pass_and_for_the_idle_time() -> None:
    t = SessionTracker()
    obs = Observation("/s/1", "1", True, None, T0)
    assert t.observe(obs, SPEC, T0 + timedelta(hours=13), idle_decidable=False) is None
    t.note_activity("/s/1", "1", T0 + timedelta(hours=2))  # a newer file seen later
    assert t.observe(obs, SPEC, T0 + timedelta(hours=13), idle_decidable=True) is None
    end = t.observe(obs, SPEC, T0 + timedelta(hours=15), idle_decidable=True)
    assert end is not None and (end.why, end.ended_at) == ("idle", T0 + timedelta(hours=14))


def test_no_session_settings_means_only_disappearance_ends_it() -> None:
    t = SessionTracker()
    obs = Observation("/s/1", "1", True, T0, T0)
    assert t.observe(obs, None, T0 + timedelta(days=30), idle_decidable=True) is None


def test_log_is_write_once_and_shared_between_processes(tmp_path: Path) -> None:
    a, b = SessionLog(tmp_path), SessionLog(tmp_path)
    first = SessionEnd("/s/1", "1", T0, "manual")
    assert a.record(first)
    assert not b.record(SessionEnd("/s/1", "1", T0 + timedelta(hours=1), "idle"))
    assert b.load_new() == [first]
    assert b.load_new() == []  # only new records
    assert (tmp_path / "sessions").stat().st_mode & 0o777 == 0o700


def test_retention_from_session_end_follows_the_marker(env: Env) -> None:
    now = datetime.now(UTC)  # the marker's ctime is real time
    f = env.file("transcript.txt", b"hello", mtime=now - timedelta(minutes=1))
    env.record(f, "EMAIL_ADDRESS", now=now)
    enf = env.enforcer()
    enf.tick(env.store, env.policy, NODE, now)
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and (row.rule, row.deadline) == ("personal-data", None)

    (env.session / ".session-done").write_text("")
    report = enf.tick(env.store, env.policy, NODE, now + timedelta(minutes=5))
    assert report.sessions_ended == 1
    row = env.store.get_asset(NODE, str(f))
    ended = enf.sessions.ended_at(str(env.session))
    assert ended is not None and now - timedelta(minutes=1) <= ended <= now + timedelta(minutes=5)
    assert row is not None and row.deadline == ended + timedelta(hours=1)
    assert f.exists()

    later = enf.tick(env.store, env.policy, NODE, now + timedelta(days=1))
    assert later.applied == {"delete": 1} and not f.exists()


def test_operator_ends_a_session_and_a_new_daemon_knows(env: Env) -> None:
    f = env.file("transcript.txt", b"hello")
    env.record(f, "EMAIL_ADDRESS")
    env.enforcer().end_session(env.store, NODE, str(env.session), "s-1", T0)
    fresh = env.enforcer()  # a restarted daemon reads the persisted end
    fresh.tick(env.store, env.policy, NODE, T0 + timedelta(minutes=1))
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.deadline == T0 + timedelta(hours=1)
