"""``scratchwarden session``: agent sessions (retention can count from a
session's end)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daemon.cli.common import (
    inventory_option,
    node,
    node_option,
    open_store,
    state_dir,
    state_dir_option,
)

if TYPE_CHECKING:
    from inventory.store import Store


@click.group("session")
def session() -> None:
    """Agent sessions (retention can count from a session's end)."""


@session.command("end")
@click.argument("session_id", metavar="ID")
@click.option("--policy", "policy_dir", type=click.Path(path_type=Path), default=None,
              help="Policy directory, to find the session directory of a session label.")
@inventory_option
@node_option
@state_dir_option
@click.pass_context
def session_end(ctx: click.Context, session_id: str, policy_dir: Path | None) -> None:
    """End a session now. ID is the session directory (absolute path) or its
    {session} label (then --policy is needed to find the directory)."""
    from daemon.actions.enforcer import Enforcer

    now = datetime.now(UTC)
    with open_store(ctx) as store:
        directory, label = _session_directory(store, node(ctx), session_id, policy_dir)
        end = Enforcer(state_dir(ctx)).end_session(store, node(ctx), directory, label, now)
    click.echo(f"session {label or directory} ended at {end.ended_at.isoformat()} "
               f"({end.why}); directory {directory}")


def _session_directory(store: Store, node_id: str, session_id: str,
                       policy_dir: Path | None) -> tuple[str, str | None]:
    if session_id.startswith("/"):
        return os.path.normpath(session_id), None
    if policy_dir is None:
        raise click.UsageError("a session label needs --policy DIR (or pass the directory)")
    from policies.evaluate import match_root
    from policies.loader import load_policy

    loaded = load_policy(policy_dir)
    dirs = {m.directory for a in store.iter_assets(node_id, include_deleted=False)
            if a.session == session_id and (m := match_root(a.path, loaded)) is not None}
    if len(dirs) != 1:
        found = ", ".join(sorted(dirs)) or "none"
        raise click.UsageError(f"session {session_id!r}: expected one session directory in "
                               f"the inventory, found {found}; pass the directory instead")
    return dirs.pop(), session_id


COMMANDS: tuple[click.Command, ...] = (session,)
