"""Quarantine: move a file out of the agent's reach into a root-only directory
(``<state>/quarantine``, 0700), with a JSON sidecar, and restore it on demand.

Layout: ``<id>.json`` (metadata: original path, owner, time, rule, policy
revision, sha256, size, mode, uid/gid; 0600) and ``<id>.data`` (the file).
The ``.data`` file existing is the truth that the move happened.

Move order (hook steps; crash tests SIGKILL at each)::

    checks          as for every action, plus exactly one hard link (moving one
                    name of a hard-linked file would not take the data away)
    journaled       intent (id, dev/ino, sha256, rule, revision)
    meta-written    the sidecar, atomically
    moved           same file system: renameat2(RENAME_NOREPLACE) into the
                    quarantine directory (atomic: the file is in one place)
      or copied     other file system: copy to a temp name, fsync, rename to
                    <id>.data, fsync the directory; then
         source-removed   the source, re-checked unchanged, is unlinked
    synced          both directories fsynced
    recorded        inventory: encryption state quarantined; row ended with
                    reason "quarantined <id> ..." (the row stays)

Replay: ``<id>.data`` exists -> the move happened (a source still present
after an interrupted cross-file-system copy is removed once the copy's
sha256 matches) -> done; else the sidecar and any temp copy are removed ->
rolled back. The source is never removed before a durable complete copy exists.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.actions.context import ActionContext, Outcome
from daemon.actions.preflight import Expected, Skip, exclusive, still_same
from daemon.actions.safepath import Target, open_directory, open_target
from daemon.platform.files import (
    atomic_write,
    copy_durably,
    ensure_private_dir,
    rename_noreplace,
)
from scratchwarden.errors import FileError, QuarantineError, UnsafePath

ACTION = "quarantine"
RESTORE = "restore"
STEPS = ("journaled", "meta-written", "moved", "synced", "recorded")
COPY_STEPS = ("journaled", "meta-written", "copied", "source-removed", "synced", "recorded")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    id: str
    meta: dict[str, Any]
    has_data: bool


class Quarantine:
    """The quarantine directory. Only root (the daemon's user) can enter it."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = ensure_private_dir(directory, 0o700)

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str]) -> Quarantine:
        return cls(Path(state_dir) / "quarantine")

    @staticmethod
    def new_id(now: datetime) -> str:
        return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"

    def data_name(self, qid: str) -> str:
        return f"{_check_id(qid)}.data"

    def meta_path(self, qid: str) -> Path:
        return self.directory / f"{_check_id(qid)}.json"

    @contextlib.contextmanager
    def open(self) -> Iterator[int]:
        fd = open_directory(str(self.directory))
        try:
            yield fd
        finally:
            os.close(fd)

    def write_meta(self, qid: str, meta: dict[str, Any]) -> None:
        atomic_write(self.meta_path(qid), json.dumps(meta, sort_keys=True, indent=1).encode(),
                     0o600)

    def read_meta(self, qid: str) -> dict[str, Any]:
        """The sidecar metadata of entry ``qid``.

        Raises:
            QuarantineError: the sidecar is missing, not JSON, or not an object.
        """
        try:
            value = json.loads(self.meta_path(qid).read_bytes())
        except FileNotFoundError as e:
            raise QuarantineError(f"quarantine entry {qid!r}: expected {self.meta_path(qid)}, "
                                  "found nothing") from e
        except ValueError as e:
            raise QuarantineError(f"quarantine entry {qid!r}: metadata is not JSON") from e
        if not isinstance(value, dict):
            raise QuarantineError(f"quarantine entry {qid!r}: expected a JSON object")
        return value

    def has_data(self, qid: str) -> bool:
        return os.path.lexists(self.directory / self.data_name(qid))

    def entries(self) -> list[Entry]:
        ids = sorted(p.name[:-5] for p in self.directory.glob("*.json"))
        return [Entry(i, self.read_meta(i), self.has_data(i)) for i in ids]

    def drop_temp(self, qid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / _tmp_name(self.data_name(qid)))


def _check_id(qid: str) -> str:
    if not qid or "/" in qid or qid.startswith(".") or len(qid) > 64:
        raise QuarantineError(f"expected a quarantine id like 20260101T000000Z-1a2b3c4d, "
                              f"found {qid!r}")
    return qid


def _tmp_name(name: str) -> str:
    return f".{name}.tmp"


def sha256_fd(fd: int) -> str:
    h, offset = hashlib.sha256(), 0
    while chunk := os.pread(fd, _CHUNK, offset):
        h.update(chunk)
        offset += len(chunk)
    return h.hexdigest()


def move_out(ctx: ActionContext, target: Target, fd: int, st: os.stat_result, q_fd: int,
             data: str) -> str:
    """Move the checked file into the quarantine; ``moved`` or ``copied``.

    Raises:
        FileError: the file changed while it was being copied (``changed-during-quarantine``); the
            copy is removed.
    """
    try:
        rename_noreplace(target.dir_fd, target.name, q_fd, data)
        ctx.hook("moved")
        return "moved"
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    copy_durably(fd, q_fd, data, st)
    ctx.hook("copied")
    if not still_same(target, st) or _changed(os.fstat(fd), st):
        os.unlink(data, dir_fd=q_fd)
        raise FileError("changed-during-quarantine", target.path)
    os.unlink(target.name, dir_fd=target.dir_fd)
    ctx.hook("source-removed")
    return "copied"


def _changed(now: os.stat_result, before: os.stat_result) -> bool:
    return (now.st_size, now.st_mtime_ns, now.st_ctime_ns) != (
        before.st_size, before.st_mtime_ns, before.st_ctime_ns)


def quarantine_file(ctx: ActionContext, q: Quarantine, root_dir: str, path: str,
                    expected: Expected, *, rule: str | None, revision: str,
                    owner: str | None, now: datetime) -> Outcome:
    qid = Quarantine.new_id(now)
    entry: int | None = None
    details: dict[str, Any] = {}
    try:
        with open_target(root_dir, path) as target, \
                exclusive(target, expected, single_link=True) as (fd, st), q.open() as q_fd:
            digest = sha256_fd(fd)
            details = {"root_dir": root_dir, "id": qid, "dev": st.st_dev, "ino": st.st_ino,
                       "sha256": digest, "rule": rule, "policy_revision": revision,
                       "quarantine_dir": str(q.directory)}
            entry = ctx.store.journal_intent(ctx.node, path, ACTION, now=now, details=details)
            ctx.hook("journaled")
            q.write_meta(qid, _meta(ctx, path, st, digest, rule, revision, owner, now))
            ctx.hook("meta-written")
            how = move_out(ctx, target, fd, st, q_fd, q.data_name(qid))
            os.fsync(q_fd)
            os.fsync(target.dir_fd)
            ctx.hook("synced")
    except Skip as e:
        return Outcome(ACTION, path, "skipped", e.reason)
    except (OSError, FileError) as e:
        if entry is None:
            return Outcome(ACTION, path, "skipped", "gone" if isinstance(
                e, FileNotFoundError) else "io-error")
        state = replay_quarantine(ctx, path, details, now)
        ctx.store.journal_finish(entry, state, now=now)
        return Outcome(ACTION, path, "done" if state == "done" else "failed",
                       getattr(e, "reason", "io-error"))
    record_quarantined(ctx, path, qid, rule, revision, now)
    ctx.hook("recorded")
    ctx.store.journal_finish(entry, "done", now=now)
    return Outcome(ACTION, path, "done", details={"id": qid, "how": how})


def _meta(ctx: ActionContext, path: str, st: os.stat_result, digest: str, rule: str | None,
          revision: str, owner: str | None, now: datetime) -> dict[str, Any]:
    return {"version": 1, "node": ctx.node, "original_path": path, "owner": owner,
            "quarantined_at": now.isoformat(), "rule": rule, "policy_revision": revision,
            "sha256": digest, "size": st.st_size, "mode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": st.st_mtime_ns}


def record_quarantined(ctx: ActionContext, path: str, qid: str, rule: str | None,
                       revision: str, now: datetime) -> None:
    """Idempotent inventory update: state quarantined, row ended with why."""
    ctx.store.set_encryption_state(ctx.node, path, "quarantined", now=now)
    ctx.store.mark_deleted(ctx.node, path, now=now,
                           reason=f"quarantined {qid}: rule {rule or '-'}, policy {revision}")


def replay_quarantine(ctx: ActionContext, path: str, details: dict[str, Any],
                      now: datetime) -> str:
    q = Quarantine(details["quarantine_dir"])
    qid = str(details["id"])
    q.drop_temp(qid)
    if not q.has_data(qid):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(q.meta_path(qid))
        return "rolled_back"
    _remove_leftover_source(q, qid, path, details)
    record_quarantined(ctx, path, qid, details.get("rule"),
                       str(details.get("policy_revision")), now)
    return "done"


def _remove_leftover_source(q: Quarantine, qid: str, path: str, details: dict[str, Any]) -> None:
    """After an interrupted cross-file-system copy both copies exist: the
    source goes only if it is the same inode we checked and the complete copy
    has the recorded sha256."""
    try:
        with open_target(str(details["root_dir"]), path) as target:
            st = target.lstat()
            if st is None or (st.st_dev, st.st_ino) != (details["dev"], details["ino"]):
                return
            with q.open() as q_fd:
                fd = os.open(q.data_name(qid), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=q_fd)
                try:
                    if sha256_fd(fd) != details["sha256"]:
                        return
                finally:
                    os.close(fd)
            os.unlink(target.name, dir_fd=target.dir_fd)
            os.fsync(target.dir_fd)
    except (FileNotFoundError, UnsafePath):
        return


# ---------------------------------------------------------------- restore

def restore(ctx: ActionContext, q: Quarantine, qid: str, *, to: str | None = None,
            now: datetime) -> str:
    """Put a quarantined file back at its original path (or ``to``), never
    overwriting anything and never through a symlink. Returns the path.

    Raises:
        QuarantineError: the entry or its data is missing, the destination exists or is not a
            normalised absolute path, or the move failed (the journal says what was left).
    """
    meta = q.read_meta(qid)
    if not q.has_data(qid):
        raise QuarantineError(f"quarantine entry {qid!r}: expected its data file, found none")
    dest = to or str(meta["original_path"])
    if not dest.startswith("/") or os.path.normpath(dest) != dest:
        raise QuarantineError(f"expected an absolute normalised destination, found {dest!r}")
    parent, name = os.path.split(dest)
    details = {"id": qid, "quarantine_dir": str(q.directory), "sha256": meta.get("sha256")}
    entry = ctx.store.journal_intent(ctx.node, dest, RESTORE, now=now, details=details)
    try:
        _move_back(q, qid, parent, name)
    except FileExistsError as e:
        ctx.store.journal_finish(entry, "rolled_back", now=now)
        raise QuarantineError(f"{dest} already exists; not overwriting it (use --to)") from e
    except (OSError, UnsafePath) as e:
        ctx.store.journal_finish(entry, replay_restore(ctx, dest, details, now), now=now)
        raise QuarantineError(f"cannot restore {qid!r} to {dest}: {e}") from e
    ctx.store.journal_finish(entry, "done", now=now)
    return dest


def _move_back(q: Quarantine, qid: str, parent: str, name: str) -> None:
    dir_fd = open_directory(parent)
    try:
        with q.open() as q_fd:
            data = q.data_name(qid)
            try:
                rename_noreplace(q_fd, data, dir_fd, name)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
                fd = os.open(data, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=q_fd)
                try:
                    copy_durably(fd, dir_fd, name, os.fstat(fd))
                finally:
                    os.close(fd)
                os.unlink(data, dir_fd=q_fd)
            os.fsync(dir_fd)
            os.fsync(q_fd)
        os.unlink(q.meta_path(qid))
    finally:
        os.close(dir_fd)


def replay_restore(ctx: ActionContext, dest: str, details: dict[str, Any],
                   now: datetime) -> str:
    """The data file gone -> the restore happened (drop the sidecar). Both
    present -> an interrupted copy: keep the quarantined copy, drop a partial
    destination only if it is our temp file."""
    q = Quarantine(details["quarantine_dir"])
    qid = str(details["id"])
    if not q.has_data(qid):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(q.meta_path(qid))
        return "done"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(os.path.dirname(dest), _tmp_name(os.path.basename(dest))))
    if os.path.lexists(dest) and _same_content(dest, q, qid):
        os.unlink(q.directory / q.data_name(qid))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(q.meta_path(qid))
        return "done"
    return "rolled_back"


def _same_content(dest: str, q: Quarantine, qid: str) -> bool:
    try:
        a = os.open(dest, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        b = os.open(q.directory / q.data_name(qid), os.O_RDONLY | os.O_NOFOLLOW)
        try:
            return sha256_fd(a) == sha256_fd(b)
        finally:
            os.close(b)
    finally:
        os.close(a)
