"""Quarantine moves a file into a root-only directory with a JSON sidecar
(same file system: rename; other file system: durable copy, then unlink),
records it in the inventory, and restores it on demand."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.actions import Quarantine, QuarantineError, restore
from daemon.actions.context import ActionContext
from tests.actions.helpers import NODE, T0, Env, other_fs_tempdir

KEY = b"-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def shm_quarantine() -> Iterator[Path]:
    with other_fs_tempdir("sw-q-") as d:
        yield d / "quarantine"


@pytest.mark.parametrize("where", ["same-fs", "other-fs"])
def test_quarantine_and_restore(env: Env, where: str, request: pytest.FixtureRequest) -> None:
    qdir = request.getfixturevalue("shm_quarantine") if where == "other-fs" \
        else env.state / "quarantine"
    if where == "other-fs":
        assert os.stat(qdir.parent).st_dev != os.stat(env.session).st_dev
    f = env.file("cache/id_rsa", KEY)
    os.chmod(f, 0o640)
    env.record(f, "PRIVATE_KEY")
    q = Quarantine(qdir)
    report = env.enforcer(quarantine=q).tick(env.store, env.policy, NODE, T0)
    assert report.applied == {"quarantine": 1}, report
    assert not f.exists()
    assert qdir.stat().st_mode & 0o777 == 0o700

    [entry] = q.entries()
    meta = entry.meta
    assert entry.has_data
    assert meta["original_path"] == str(f)
    assert meta["owner"] == "ai-platform@example.com"
    assert meta["rule"] == "secrets" and "sha256:" in meta["policy_revision"]
    assert meta["sha256"] == hashlib.sha256(KEY).hexdigest()
    assert KEY.decode() not in json.dumps(meta)
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.status == "deleted" and row.encryption_state == "quarantined"
    assert row.deleted_reason is not None and entry.id in row.deleted_reason

    ctx = ActionContext(env.store, NODE, env.state)
    back = restore(ctx, q, entry.id, now=T0 + timedelta(hours=1))
    assert back == str(f) and f.read_bytes() == KEY
    assert os.stat(f).st_mode & 0o777 == 0o640
    assert q.entries() == []
    with pytest.raises(QuarantineError):
        restore(ctx, q, entry.id, now=T0)
    assert env.store.pending_intents(NODE) == []


def test_restore_never_overwrites(env: Env) -> None:
    f = env.file("id_rsa", KEY)
    env.record(f, "PRIVATE_KEY")
    q = Quarantine(env.state / "quarantine")
    env.enforcer().tick(env.store, env.policy, NODE, T0)
    f.write_bytes(b"the agent wrote a new file here")
    [entry] = q.entries()
    ctx = ActionContext(env.store, NODE, env.state)
    with pytest.raises(QuarantineError, match="already exists"):
        restore(ctx, q, entry.id, now=T0)
    assert f.read_bytes() == b"the agent wrote a new file here"
    other = env.tmp / "restored-key"
    restore(ctx, q, entry.id, to=str(other), now=T0)
    assert other.read_bytes() == KEY
