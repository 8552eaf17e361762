"""``scratchwarden quarantine``: list and restore quarantined files (root only).

A restore never overwrites and is recorded in the audit chain.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import click

from daemon.cli.common import (
    format_option,
    inventory_option,
    json_alias,
    node,
    node_option,
    open_store,
    state_dir,
    state_dir_option,
)


@click.group("quarantine")
def quarantine() -> None:
    """List and restore quarantined files (root only)."""


@quarantine.command("list")
@format_option("table", "json")
@json_alias
@state_dir_option
@click.pass_context
def quarantine_list(ctx: click.Context, fmt: str, as_json: bool) -> None:
    """Every quarantined file: id, when, rule, original path."""
    from daemon.actions import Quarantine

    entries = Quarantine.in_state_dir(state_dir(ctx)).entries()
    if fmt == "json" or as_json:
        click.echo(json.dumps([{"id": e.id, "has_data": e.has_data, **e.meta}
                               for e in entries], indent=2))
        return
    if not entries:
        click.echo("quarantine is empty")
    for e in entries:
        m = e.meta
        click.echo(f"{e.id}  {m.get('quarantined_at')}  rule {m.get('rule')}  "
                   f"{m.get('size')} bytes  {m.get('original_path')}"
                   + ("" if e.has_data else "  (DATA MISSING)"))


@quarantine.command("restore")
@click.argument("qid", metavar="ID")
@click.option("--to", "to", default=None, help="Restore here instead of the original path.")
@inventory_option
@node_option
@state_dir_option
@click.pass_context
def quarantine_restore(ctx: click.Context, qid: str, to: str | None) -> None:
    """Move a quarantined file back (never overwriting). If the policy still
    quarantines it, the daemon will quarantine it again: restore with --to a
    place outside every root, or change the policy first."""
    from daemon.actions import Quarantine, restore
    from daemon.actions.context import ActionContext
    from daemon.actions.decrypt import operator_name

    q = Quarantine.in_state_dir(state_dir(ctx))
    now = datetime.now(UTC)
    with open_store(ctx) as store:
        actx = ActionContext(store, node(ctx), state_dir(ctx))
        meta = q.read_meta(qid)
        dest = restore(actx, q, qid, to=os.path.abspath(to) if to else None, now=now)
        actx.audit("quarantine-restore", dest, {"id": qid, "operator": operator_name(),
                                                "original_path": meta.get("original_path")},
                   meta.get("policy_revision"), now)
    click.echo(f"restored {qid} -> {dest}")


COMMANDS: tuple[click.Command, ...] = (quarantine,)
