"""Delete a file at its retention deadline.

Order (each step reported to the hook; crash tests SIGKILL at each)::

    checks       below the root, no symlink on the way, regular file, unchanged
                 since its scan, tmpfiles locks taken, no process holds it
    journaled    intent written (path, dev/ino, rule, policy revision, deadline)
    unlinked     the name is unlinked relative to its directory fd, after
                 re-checking that it still names the checked inode
    dir-synced   the directory is fsynced
    recorded     the inventory row is ended: status deleted, encryption state
                 deleted, reason = rule + policy revision + deadline
    (journal done, audit entry "action")

A hard-linked file: only the name inside the root is removed; the other
names (which may lie outside the root) and their data are not touched.
Retention governs the name the agent left in its scratch space; reaching
through to the other names would be acting outside the root.

Replay: the name is gone -> finish the inventory and the journal; the same
inode is still there -> roll back (the next tick checks again, including the
in-use check); nothing is ever deleted during replay.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from daemon.actions.context import ActionContext, Outcome
from daemon.actions.preflight import Expected, Skip, exclusive, still_same
from daemon.actions.safepath import open_target
from scratchwarden.errors import UnsafePath

ACTION = "delete"
STEPS = ("journaled", "unlinked", "dir-synced", "recorded")


def delete_reason(rule: str | None, revision: str, deadline: datetime | None) -> str:
    when = deadline.isoformat() if deadline else "none"
    return f"retention: rule {rule or '-'}, deadline {when}, policy {revision}"


def delete_file(ctx: ActionContext, root_dir: str, path: str, expected: Expected, *,
                rule: str | None, revision: str, deadline: datetime | None,
                now: datetime) -> Outcome:
    """Delete ``path`` (below ``root_dir``) if every check passes; else skip."""
    entry: int | None = None
    details: dict[str, Any] = {}
    try:
        with open_target(root_dir, path) as target, \
                exclusive(target, expected, single_link=False) as (_fd, st):
            details = {"root_dir": root_dir, "dev": st.st_dev, "ino": st.st_ino,
                       "nlink": st.st_nlink, "rule": rule, "policy_revision": revision,
                       "deadline": deadline.isoformat() if deadline else None}
            entry = ctx.store.journal_intent(ctx.node, path, ACTION, now=now, details=details)
            ctx.hook("journaled")
            if not still_same(target, st):
                ctx.store.journal_finish(entry, "rolled_back", now=now)
                return Outcome(ACTION, path, "skipped", "changed-since-scan")
            os.unlink(target.name, dir_fd=target.dir_fd)
            ctx.hook("unlinked")
            os.fsync(target.dir_fd)
            ctx.hook("dir-synced")
    except Skip as e:
        return Outcome(ACTION, path, "skipped", e.reason)
    except UnsafePath as e:
        if entry is None:
            return Outcome(ACTION, path, "skipped", e.reason)
        ctx.store.journal_finish(entry, replay_delete(ctx, path, details, now), now=now)
        return Outcome(ACTION, path, "failed", e.reason)
    except OSError as e:
        if entry is None:
            return Outcome(ACTION, path, "skipped", "gone" if isinstance(
                e, FileNotFoundError) else "io-error")
        state = replay_delete(ctx, path, details, now)
        ctx.store.journal_finish(entry, state, now=now)
        return Outcome(ACTION, path, "done" if state == "done" else "failed", "io-error")
    record_deleted(ctx, path, delete_reason(rule, revision, deadline), now)
    ctx.hook("recorded")
    ctx.store.journal_finish(entry, "done", now=now)
    return Outcome(ACTION, path, "done", details={"nlink": details["nlink"]})


def record_deleted(ctx: ActionContext, path: str, reason: str, now: datetime) -> None:
    """End the live inventory row (kept, status deleted, with why). Idempotent."""
    ctx.store.set_encryption_state(ctx.node, path, "deleted", now=now)
    ctx.store.mark_deleted(ctx.node, path, now=now, reason=reason)


def replay_delete(ctx: ActionContext, path: str, details: dict[str, Any],
                  now: datetime) -> str:
    """Settle an unfinished delete intent; returns ``done`` or ``rolled_back``."""
    root_dir = str(details["root_dir"])
    try:
        with open_target(root_dir, path) as target:
            st = target.lstat()
    except FileNotFoundError:
        st = None
    except UnsafePath:
        return "rolled_back"  # cannot prove what happened: leave the row live
    if st is not None and (st.st_dev, st.st_ino) == (details["dev"], details["ino"]):
        return "rolled_back"
    asset = ctx.store.get_asset(ctx.node, path)
    if asset is not None and asset.deleted_at is None and asset.inode == details["ino"]:
        deadline = details.get("deadline")
        reason = delete_reason(details.get("rule"), str(details.get("policy_revision")),
                               datetime.fromisoformat(deadline) if deadline else None)
        record_deleted(ctx, path, reason, now)
    return "done"
