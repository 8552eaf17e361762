"""Deletion at the retention deadline: never while a process holds the file
open or mapped, never while systemd-tmpfiles-style BSD locks are held on the
file or a directory above it; check, skip, retry on a later tick. The row
stays in the inventory with status deleted, when and why."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from tests.actions.helpers import NODE, T0, Env

LATER = T0 + timedelta(hours=2)

_HOLDER = r"""
import mmap, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if sys.argv[2] == "mmap" else None
if m is not None:
    f.close()  # only the mapping keeps the file in use now
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_open(path: Path, how: str = "fd") -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


def junk(env: Env, name: str = "junk/old.bin") -> Path:
    f = env.file(name, b"junk" * 100)
    env.record(f)
    return f


def test_file_held_open_is_not_deleted_until_closed(env: Env) -> None:
    f = junk(env)
    enf = env.enforcer()
    with held_open(f):
        report = enf.tick(env.store, env.policy, NODE, LATER)
        assert report.skipped == {"in-use": 1} and not report.applied
        assert f.exists()
        row = env.store.get_asset(NODE, str(f))
        assert row is not None and row.deleted_at is None
    report = enf.tick(env.store, env.policy, NODE, LATER + timedelta(seconds=30))
    assert report.applied == {"delete": 1}, report
    assert not f.exists()
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.status == "deleted"
    assert row.deleted_at == LATER + timedelta(seconds=30)
    assert row.deleted_reason is not None and "rule old-junk" in row.deleted_reason
    assert row.encryption_state == "deleted"
    assert env.store.pending_intents(NODE) == []


def test_file_only_mapped_is_not_deleted(env: Env) -> None:
    f = junk(env)
    with held_open(f, "mmap"):
        report = env.enforcer().tick(env.store, env.policy, NODE, LATER)
        assert report.skipped == {"in-use": 1} and f.exists()


def test_file_with_a_bsd_lock_is_skipped(env: Env) -> None:
    f = junk(env)
    fd = os.open(f, os.O_RDONLY)
    try:
        # An open file description of our own with a lock, as another program
        # would hold: flock conflicts between descriptions, not processes.
        fcntl.flock(fd, fcntl.LOCK_SH)
        report = env.enforcer().tick(env.store, env.policy, NODE, LATER)
        assert not report.applied and f.exists()
        assert set(report.skipped) <= {"file-locked", "in-use"} and report.skipped
    finally:
        os.close(fd)


def test_locked_directory_protects_its_subtree(env: Env) -> None:
    f = junk(env, "junk/deep/old.bin")
    fd = os.open(f.parent.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        report = env.enforcer().tick(env.store, env.policy, NODE, LATER)
        assert report.skipped == {"directory-locked": 1} and f.exists()
    finally:
        os.close(fd)
    report = env.enforcer().tick(env.store, env.policy, NODE, LATER)
    assert report.applied == {"delete": 1} and not f.exists()


def test_file_changed_since_its_scan_is_not_deleted(env: Env) -> None:
    f = junk(env)
    f.write_bytes(b"new content the scanner has not seen")
    report = env.enforcer().tick(env.store, env.policy, NODE, LATER)
    assert report.skipped == {"changed-since-scan": 1} and f.exists()


def test_nothing_is_deleted_before_the_deadline(env: Env) -> None:
    f = junk(env)
    report = env.enforcer().tick(env.store, env.policy, NODE, T0 + timedelta(minutes=59))
    assert not report.applied and f.exists()
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.deadline == T0 + timedelta(hours=1)
