"""``scratchwarden audit``: the hash-chained audit log in the inventory.
``verify`` exits 1 at the first entry that does not verify."""

from __future__ import annotations

import sys

import click

from daemon.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    inventory_option,
    node_filter,
    node_option,
    open_store,
    state_dir_option,
)


@click.group("audit")
def audit() -> None:
    """The hash-chained audit log in the inventory."""


@audit.command("verify")
@node_option
@inventory_option
@state_dir_option
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Recompute every chain (or one node's); exit 1 at the first bad entry."""
    with open_store(ctx) as store:
        only = node_filter(ctx)
        nodes = [only] if only else store.audit_nodes()
        results = [store.verify_audit(n) for n in nodes]
    bad = 0
    for r in results:
        if r.ok:
            head = f"head seq {r.head.seq} {r.head.hash[:16]}" if r.head else "empty"
            click.echo(f"node {r.node}: intact, {r.entries} entries, {head}")
        else:
            bad += 1
            click.echo(f"node {r.node}: TAMPERED: first bad seq {r.first_bad_seq}: "
                       f"{r.problem}", err=True)
    if not results:
        click.echo("no audit entries")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


COMMANDS: tuple[click.Command, ...] = (audit,)
