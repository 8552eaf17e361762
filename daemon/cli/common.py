"""What every ``scratchwarden`` command shares: exit codes, the one error
handler that maps the hierarchy in ``scratchwarden/errors.py`` to a message and an
exit code, and the state directory. Kept apart from ``daemon.cli.scan`` so command
modules can import it without an import cycle."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from daemon.platform.state_dir import prepare_state_dir
from scratchwarden.errors import ScratchwardenError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def handle_errors(fn: F) -> F:
    """Map our errors to one line on stderr and an exit code; never a traceback
    for an expected failure."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ScratchwardenError as e:
            click.echo(f"scratchwarden: error: {e}", err=True)
            sys.exit(e.exit_code if e.exit_code else EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("scratchwarden: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _state_dir(ctx: click.Context) -> Path:
    obj: dict[str, Any] = ctx.obj
    if "state_dir" not in obj:
        obj["state_dir"] = prepare_state_dir(obj["state_dir_opt"])
    return Path(obj["state_dir"])
