"""Crash tests: the enforcer runs in a forked child process that SIGKILLs itself at
each step of encrypt, quarantine (same and other file system) and delete.
After the kill no data is lost; ``replay`` on "restart" completes or rolls
back the action, leaves no temp file and no open intent, is idempotent, and
a later tick finishes whatever was rolled back."""

from __future__ import annotations

import hashlib
import os
import signal
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.actions import Enforcer, Quarantine, replay
from daemon.actions.encrypt import STEPS as ENCRYPT_STEPS
from daemon.actions.quarantine import COPY_STEPS
from daemon.actions.quarantine import STEPS as QUARANTINE_STEPS
from daemon.actions.retention import STEPS as DELETE_STEPS
from daemon.crypto import decrypt_file
from inventory.store import Store
from policies.loader import load_policy
from tests.actions.helpers import NODE, T0, Env, other_fs_tempdir

DATA = b"id,card\n" + b"7,4111 1111 1111 1111\n" * 20_000  # several crypto chunks
WHEN = T0 + timedelta(hours=2)

def run_child(env: Env, qdir: Path, kill_at: str) -> None:
    """Fork (modules already imported: fast) and run one tick in the child,
    which SIGKILLs itself when the hook reports ``kill_at``."""
    env.store.close()  # the "daemon" is the child now; the parent reopens after
    policy = load_policy(env.tmp / "policy")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            def hook(step: str) -> None:
                if step == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            store = Store.open(env.url)
            Enforcer(env.state, keyring=env.keyring, hooks=hook,
                     quarantine=Quarantine(qdir)).tick(store, policy, NODE, WHEN)
        except BaseException:  # noqa: BLE001 - the child must reach os._exit
            traceback.print_exc()
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (kill_at, status)


def restart(env: Env) -> None:
    """Replay twice: the second run must find nothing to do."""
    report = replay(env.store, NODE, env.keyring, state_dir=env.state, now=WHEN)
    assert not report.left_pending
    assert len(report.done) + len(report.rolled_back) == 1
    assert env.store.pending_intents(NODE) == []
    again = replay(env.store, NODE, env.keyring, state_dir=env.state, now=WHEN)
    assert (again.done, again.rolled_back) == ([], [])


def leftovers(d: Path) -> list[str]:
    return [p.name for p in d.iterdir() if p.name.startswith(".") and "tmp" in p.name]


@pytest.fixture
def other_fs_dir() -> Iterator[Path]:
    with other_fs_tempdir("sw-crash-") as d:
        yield d


@pytest.mark.parametrize("step", ENCRYPT_STEPS)
def test_encrypt_killed_at_each_step(env: Env, step: str) -> None:
    f = env.file("customers.csv", DATA, mtime=T0 - timedelta(hours=1))
    env.record(f, "CREDIT_CARD")
    enc = f.with_name(f.name + ".swenc")
    run_child(env, env.state / "quarantine", step)
    assert f.exists() or enc.exists()
    if not f.exists():  # the ciphertext alone must hold the data
        assert _decrypts_to(enc, env, DATA)
    restart_env(env)
    assert f.exists() != enc.exists() and not leftovers(env.session)
    if enc.exists():
        assert _decrypts_to(enc, env, DATA)
        row = env.store.get_asset(NODE, str(enc))
        assert row is not None and row.encryption_state == "encrypted" and row.deleted_at is None
    else:
        assert f.read_bytes() == DATA
    Enforcer(env.state, keyring=env.keyring).tick(env.store, env.policy, NODE, WHEN)
    assert enc.exists() and not f.exists() and _decrypts_to(enc, env, DATA)
    assert env.store.verify_audit(NODE).ok


@pytest.mark.parametrize("fs,step", [("same", s) for s in QUARANTINE_STEPS]
                         + [("other", s) for s in COPY_STEPS])
def test_quarantine_killed_at_each_step(env: Env, fs: str, step: str,
                                        request: pytest.FixtureRequest) -> None:
    qdir = (request.getfixturevalue("other_fs_dir") if fs == "other" else env.state) \
        / "quarantine"
    f = env.file("secrets.txt", DATA)
    env.record(f, "AWS_SECRET_ACCESS_KEY")
    run_child(env, qdir, step)
    q = Quarantine(qdir)
    held = [qdir / q.data_name(e.id) for e in q.entries() if e.has_data]
    assert (f.exists() and f.read_bytes() == DATA) or any(
        _sha(p) == _sha_bytes(DATA) for p in held)
    restart_env(env)
    q = Quarantine(qdir)
    entries = q.entries()
    assert not leftovers(qdir) and not leftovers(env.session)
    if f.exists():  # rolled back: no half entry left behind
        assert f.read_bytes() == DATA and entries == []
        Enforcer(env.state, keyring=env.keyring, quarantine=q).tick(
            env.store, env.policy, NODE, WHEN)
        entries = q.entries()
    assert not f.exists() and len(entries) == 1 and entries[0].has_data
    assert _sha(qdir / q.data_name(entries[0].id)) == _sha_bytes(DATA)
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.encryption_state == "quarantined" and row.deleted_at


@pytest.mark.parametrize("step", DELETE_STEPS)
def test_delete_killed_at_each_step(env: Env, step: str) -> None:
    f = env.file("junk/old.log", DATA)
    env.record(f)
    run_child(env, env.state / "quarantine", step)
    restart_env(env)
    row = env.store.get_asset(NODE, str(f))
    assert row is not None
    if f.exists():
        assert row.deleted_at is None  # rolled back: recorded as still there
        Enforcer(env.state, keyring=env.keyring).tick(env.store, env.policy, NODE, WHEN)
        row = env.store.get_asset(NODE, str(f))
        assert row is not None
    assert not f.exists()
    assert row.status == "deleted" and row.deleted_reason is not None
    assert "rule old-junk" in row.deleted_reason


def restart_env(env: Env) -> None:
    env.store = Store.open(env.url)
    restart(env)


def _decrypts_to(enc: Path, env: Env, data: bytes) -> bool:
    out = enc.parent.parent / f"check-{os.getpid()}-{enc.stat().st_ino}"
    try:
        decrypt_file(enc, env.keyring, out)
        return out.read_bytes() == data
    finally:
        out.unlink(missing_ok=True)


def _sha(p: Path) -> str:
    return _sha_bytes(p.read_bytes())


def _sha_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()
