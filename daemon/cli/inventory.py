"""``scratchwarden inventory``: read the inventory (the auditor's export)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

import click

from daemon.cli.common import (
    format_option,
    inventory_option,
    node_filter,
    node_option,
    open_store,
    state_dir_option,
)


@click.group("inventory")
def inventory() -> None:
    """Read the inventory."""


@inventory.command("export")
@format_option("csv", "jsonl")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to this file (0600) instead of stdout.")
@state_dir_option
@inventory_option
@node_option
@click.pass_context
def inventory_export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Export every recorded file for an auditor: classification, counts,
    sensitivity, owner, first/last seen, status. Never a detected value."""
    from inventory.export import Format, export

    form: Format = "csv" if fmt == "csv" else "jsonl"
    with open_store(ctx) as store:
        if output is None:
            export(store, form, sys.stdout, node=node_filter(ctx))
        else:
            with _private_text_file(output) as fh:
                export(store, form, fh, node=node_filter(ctx))


def _private_text_file(path: Path) -> TextIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


COMMANDS: tuple[click.Command, ...] = (inventory,)
