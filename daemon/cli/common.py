"""What every ``scratchwarden`` command shares: exit codes, the one error
handler, and the options defined once.

Exit codes, the same for every command (usable in CI, like the secret
scanners')::

    0   success: nothing found at or above the threshold, everything verified
    1   findings at or above the threshold, a failed verification (tampered
        audit chain, a policy test mismatch, a red line NOT ENFORCED), or the
        thing asked about does not exist (no daemon running, file not in the
        inventory)
    2   usage or runtime error: bad arguments, an invalid policy or
        configuration (file:line), keys missing, the inventory down
    130 interrupted

The shared options (``--state-dir``, ``--config``, ``--inventory``,
``--node``) are accepted where users type them: before the subcommand
(``scratchwarden --state-dir D scan ...``) or after it (``scratchwarden scan
--state-dir D ...``); the one nearest the command wins. ``--format`` names the
same formats everywhere: ``table`` for people, ``json`` for one document,
``jsonl`` for one object per line, ``csv`` for spreadsheets, ``lines`` for
one finding per line (``path:line:column: TYPE``, as editors and CI logs link).

Nothing printed by any command contains a detected value.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from daemon.platform.state_dir import default_inventory_url, prepare_state_dir
from scratchwarden.errors import ScratchwardenError

if TYPE_CHECKING:
    from daemon.host.config import NodeConfig
    from inventory.store import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class ScratchwardenGroup(click.Group):
    """The root group: maps the error tree to one line on stderr and its exit
    code (``ScratchwardenError.exit_code``), never a traceback for an
    expected failure."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScratchwardenError as e:
            click.echo(f"scratchwarden: error: {e}", err=True)
            sys.exit(e.exit_code or EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("scratchwarden: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


# ------------------------------------------------------------ shared options

def _keep(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.ensure_object(dict)[f"opt:{name}"] = value
    return callback


def _shared(*decls: str, name: str, **kwargs: Any) -> Callable[[F], F]:
    """An option stored in the context object, not passed to the function:
    the group and any command may declare it, the last one parsed wins."""
    return click.option(*decls, name, expose_value=False, default=None,
                        callback=_keep(name), **kwargs)


state_dir_option = _shared(
    "--state-dir", name="state_dir", type=click.Path(path_type=Path), metavar="DIR",
    help="State directory (default: /var/lib/scratchwarden as root, else a user dir).")
config_option = _shared(
    "--config", name="config", type=click.Path(path_type=Path), metavar="FILE",
    help="Node configuration (default: /etc/scratchwarden/scratchwarden.yaml).")
inventory_option = _shared(
    "--inventory", name="inventory", metavar="URL",
    help="SQLAlchemy URL of the inventory (default: the SQLite file in the state dir; "
         "for `run` and `redlines drill`: record nothing).")
node_option = _shared(
    "--node", name="node", metavar="ID",
    help="Node id in the inventory (default: this host's name, as the daemon uses; for "
         "`inventory export` and `audit verify`: every node).")


def format_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """``--format``, with the formats this command can print (first: default)."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)),
                        default=default or choices[0], show_default=True,
                        help="Output format.")


def json_alias(fn: F) -> F:
    """``--json``: the older spelling of ``--format json`` (hidden)."""
    return click.option("--json", "as_json", is_flag=True, hidden=True)(fn)


# ---------------------------------------------------------- resolved values

def _opt(ctx: click.Context, name: str) -> Any:
    obj = ctx.find_root().obj
    return obj.get(f"opt:{name}") if isinstance(obj, dict) else None


def state_dir(ctx: click.Context) -> Path:
    """The state directory, created (0700) on first use."""
    obj = ctx.find_root().ensure_object(dict)
    if "state_dir" not in obj:
        obj["state_dir"] = prepare_state_dir(_opt(ctx, "state_dir"))
    return Path(obj["state_dir"])


def state_dir_given(ctx: click.Context) -> Path | None:
    """``--state-dir`` as typed, or None (a command then asks its config)."""
    value = _opt(ctx, "state_dir")
    return Path(value) if value is not None else None


def config_path(ctx: click.Context) -> Path | None:
    value = _opt(ctx, "config")
    return Path(value) if value is not None else None


def load_node_config(ctx: click.Context) -> NodeConfig:
    """The node configuration (``--config`` or the default file), with
    ``--state-dir`` and ``--inventory``, when given, overriding its own.

    Raises:
        ConfigError: the file is invalid, or was named and does not exist.
    """
    from daemon.host.config import load_config

    config = load_config(config_path(ctx))
    update: dict[str, Any] = {}
    if state_dir_given(ctx) is not None:
        update["state_dir"] = state_dir_given(ctx)
    if inventory_url_given(ctx) is not None:
        update["inventory"] = inventory_url_given(ctx)
    return config.model_copy(update=update) if update else config


def inventory_url(ctx: click.Context) -> str:
    """``--inventory``, or the SQLite file in the state dir."""
    return str(_opt(ctx, "inventory") or default_inventory_url(state_dir(ctx)))


def inventory_url_given(ctx: click.Context) -> str | None:
    """``--inventory`` as typed, or None (the command records nothing)."""
    value = _opt(ctx, "inventory")
    return str(value) if value is not None else None


def node(ctx: click.Context) -> str:
    """``--node``, or this host's name (what the daemon records under)."""
    return str(_opt(ctx, "node") or socket.gethostname())


def node_filter(ctx: click.Context) -> str | None:
    """``--node`` as typed, or None (every node)."""
    value = _opt(ctx, "node")
    return str(value) if value is not None else None


@contextlib.contextmanager
def open_store(ctx: click.Context) -> Iterator[Store]:
    """The inventory named by ``--inventory`` (or the state dir's), closed after.

    Raises:
        InventoryError: it cannot be opened (InventoryUnavailable: it is down).
    """
    from inventory.store import Store

    store = Store.open(inventory_url(ctx))
    try:
        yield store
    finally:
        store.close()
