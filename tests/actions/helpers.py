"""Helpers for the enforcement tests: a real policy directory whose root lies
in tmp_path, a real SQLite inventory, a real keyring, and a helper that
records a real file into the inventory with findings (types only)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.actions import Enforcer
from daemon.crypto import Keyring
from inventory.store import Store
from policies.loader import LoadedPolicy, load_policy
from scratchwarden.observations import FileObservation, FileStatus, Finding

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
NODE = "node-a"

POLICY = """\
version: 1
mode: {mode}
roots:
  - name: agents
    path: {base}/{{tenant}}/sessions/{{session}}
    owner: ai-platform@example.com
    exclude: ["*.lock"]
    session: {{end_marker: .session-done, idle_end: 12h}}
classes:
  restricted: {{entities: [US_SSN, CREDIT_CARD], min_score: 0.5}}
  secrets: [PRIVATE_KEY, AWS_SECRET_ACCESS_KEY]
  personal: {{entities: [PERSON, EMAIL_ADDRESS], min_score: 0.6}}
rules:
  - name: secrets
    match: {{classes: [secrets]}}
    quarantine: true
  - name: restricted-data
    match: {{classes: [restricted]}}
    encrypt: {{after_idle: 10m}}
    retain: {{for: 24h, from: first_seen}}
  - name: personal-data
    match: {{classes: [personal]}}
    retain: {{for: 1h, from: session_end}}
  - name: old-junk
    match: {{paths: ["junk/**"]}}
    retain: {{for: 1h, from: first_seen}}
  - name: everything-else
    retain: {{for: 30d, from: session_end}}
"""


def write_policy(directory: Path, base: Path, mode: str = "enforce") -> LoadedPolicy:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.yaml").write_text(POLICY.format(mode=mode, base=base))
    return load_policy(directory)


@dataclass
class Env:
    tmp: Path
    base: Path
    session: Path
    state: Path
    store: Store
    policy: LoadedPolicy
    keyring: Keyring
    url: str

    def file(self, rel: str, data: bytes = b"name,ssn\nx,000-00-0000\n",
             mtime: datetime = T0 - timedelta(minutes=5)) -> Path:
        p = self.session / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        ns = int(mtime.timestamp() * 1e9)
        os.utime(p, ns=(ns, ns))
        return p

    def settle(self, mtime: datetime) -> None:
        """Give the session directory and every directory under it ``mtime``:
        creating files stamped them with the real clock, which would make a
        session look active at the test's fixed T0 (idle session ends read it)."""
        ns = int(mtime.timestamp() * 1e9)
        for dirpath, _dirs, _files in os.walk(self.session, topdown=False):
            os.utime(dirpath, ns=(ns, ns))

    def record(self, path: Path, *entities: str, now: datetime = T0,
               score: float = 0.85) -> int:
        return record(self.store, path, *entities, now=now, score=score)

    def enforcer(self, **kw: object) -> Enforcer:
        kw.setdefault("keyring", self.keyring)
        return Enforcer(self.state, **kw)  # type: ignore[arg-type]


def record(store: Store, path: Path, *entities: str, now: datetime = T0,
           score: float = 0.85) -> int:
    """Record ``path`` as scanned with one finding per entity type (no value)."""
    st = os.lstat(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and \
        not path.is_symlink() else None
    findings = tuple(Finding(e, i * 20, i * 20 + 11, score, "TestRecognizer")
                     for i, e in enumerate(entities))
    obs = FileObservation(path=str(path), status=FileStatus.SCANNED, size=st.st_size,
                          inode=st.st_ino, device=st.st_dev, mtime_ns=st.st_mtime_ns,
                          sha256=sha, mime="text/plain", findings=findings)
    return store.record_observation(NODE, "agents", obs, now=now)


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """path -> (sha256 or link target, mode) of everything under ``root``."""
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            st = os.lstat(p)
            if p.is_symlink():
                out[str(p)] = ("->" + os.readlink(p), st.st_mode)
            elif p.is_file():
                out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mode)
            else:
                out[str(p)] = ("dir", st.st_mode)
    return out


SHM = "/dev/shm"  # noqa: S108 - a tmpfs: another file system than tmp_path


@contextmanager
def other_fs_tempdir(prefix: str) -> Iterator[Path]:
    """A private temp dir on another file system (tmpfs), or skip the test."""
    if not os.path.isdir(SHM) or os.stat(SHM).st_dev == os.stat(tempfile.gettempdir()).st_dev:
        pytest.skip("no tmpfs on another file system at /dev/shm")
    d = Path(tempfile.mkdtemp(dir=SHM, prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d)
