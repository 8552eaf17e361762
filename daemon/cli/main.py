"""The ``scratchwarden`` command: the root group and its command groups.

Each command group lives in a module of its own (``scan``, ``inventory``,
``node``, ``policy``, ``keys``, ``quarantine``, ``session``, ``audit``,
``redlines``); ``common`` holds the exit codes, the error handler and the
options every command shares.
"""

from __future__ import annotations

import logging
import sys

import click

from daemon.cli import audit, inventory, keys, node, policy, quarantine, redlines, scan, session
from daemon.cli.common import (
    ScratchwardenGroup,
    config_option,
    inventory_option,
    node_option,
    state_dir_option,
)


@click.group(cls=ScratchwardenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@state_dir_option
@config_option
@inventory_option
@node_option
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """scratchwarden: find, inventory, retain, encrypt and guard agent scratch data."""
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from daemon.platform.log_safety import quiet_third_party

    quiet_third_party()
    ctx.ensure_object(dict)


for _module in (scan, inventory, node, policy, keys, quarantine, session, audit, redlines):
    for _command in _module.COMMANDS:
        main.add_command(_command)
