"""CLI for red lines: ``scratchwarden run`` and ``scratchwarden redlines
{drill,systemd}``. Registered in ``daemon.cli.scan`` with ``main.add_command``.

Exit codes: ``run`` execs the command in place, so its exit status is the
command's own (127 not found, 126 not executable, like env(1)); a red line
that cannot be enforced or a ruleset that cannot be entered is an error (2)
and the command never runs; ``drill`` exits 1 when any red line is NOT
ENFORCED; errors map to 2 through ``handle_errors``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import click

from daemon.cli.common import EXIT_FINDINGS, EXIT_OK, handle_errors
from scratchwarden.errors import ConfigError, KernelFeatureError

DEFAULT_POLICY_DIR = "/etc/scratchwarden/policies"
DROPIN_NAME = "50-scratchwarden-redlines.conf"

policy_opt = click.option("--policy", "policy_dir", type=click.Path(path_type=Path),
                          default=DEFAULT_POLICY_DIR, show_default=True,
                          help="Policy directory (a git checkout).")
inventory_opt = click.option("--inventory", "inventory_url", default=None, metavar="URL",
                             help="Record in this inventory (SQLAlchemy URL); default: none.")
node_opt = click.option("--node", default=None, help="Node id in the audit chain "
                                                     "(default: hostname).")


def _recorder(inventory_url: str | None, node: str | None, revision: str) -> Any:
    if inventory_url is None:
        return None
    from daemon.redlines.record import AuditRecorder
    from inventory.store import Store

    return AuditRecorder(Store.open(inventory_url), node or socket.gethostname(), revision)


def _close(recorder: Any) -> None:
    if recorder is not None:
        recorder.store.close()


@click.command("run", context_settings={"ignore_unknown_options": True})
@policy_opt
@click.option("--session", default=None, help="Session id: its directory is found through "
                                                "the policy root with {session}.")
@click.option("--session-dir", type=click.Path(path_type=Path), default=None,
              help="The session directory (writable; everything else is not).")
@inventory_opt
@node_opt
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def run_cmd(policy_dir: Path, session: str | None, session_dir: Path | None,
            inventory_url: str | None, node: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND (and all it starts) under the policy's red lines."""
    from daemon.redlines import run as runmod
    from policies.loader import load_policy

    # The git revision (two git processes) is only needed for the audit entry.
    loaded = load_policy(policy_dir, with_revision=inventory_url is not None)
    sdir, label = runmod.resolve_session(loaded.policy, session,
                                         None if session_dir is None else str(session_dir))
    prepared = runmod.prepare(loaded.policy, session_dir=sdir, session=label)
    for line in prepared.compiled.degraded():
        click.echo(f"scratchwarden: warning: red line {line.id} DEGRADED: {line.detail}",
                   err=True)
    ruleset = runmod.build(prepared)
    try:
        _record_launch(inventory_url, node, str(loaded.revision), prepared, command,
                       ruleset.report)
        code = _exec_or_record_failure(command, prepared, ruleset, inventory_url, node,
                                       str(loaded.revision))
    finally:
        ruleset.close()
    sys.exit(code)


def _record_launch(inventory_url: str | None, node: str | None, revision: str, prepared: Any,
                   command: tuple[str, ...], report: Any) -> None:
    """Recorded before the command is confined and exec'd: afterwards this
    process may no longer write the inventory (or reach its port)."""
    from daemon.redlines.run import record_launch

    recorder = _recorder(inventory_url, node, revision)
    try:
        if recorder is not None:
            record_launch(recorder, prepared, command, os.getpid(), report)
    finally:
        _close(recorder)


def _exec_or_record_failure(command: tuple[str, ...], prepared: Any, ruleset: Any,
                            inventory_url: str | None, node: str | None, revision: str) -> int:
    from daemon.redlines.run import exec_under
    from scratchwarden.errors import GuardSetupError

    try:
        return exec_under(list(command), prepared, ruleset)
    except GuardSetupError as e:  # not confined, nothing exec'd: say so in the chain too
        recorder = _recorder(inventory_url, node, revision)
        try:
            if recorder is not None:
                recorder.append("redline-launch-failed", prepared.session or "-",
                                {"pid": os.getpid(), "program": os.path.basename(command[0]),
                                 "reason": str(e)})
        finally:
            _close(recorder)
        raise


@click.group("redlines")
def redlines() -> None:
    """Red lines: drills and systemd drop-ins."""


@redlines.command("drill")
@policy_opt
@inventory_opt
@node_opt
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--with-guard", is_flag=True,
              help="Start a fanotify guard for the drill (when no daemon is running).")
@handle_errors
def drill_cmd(policy_dir: Path, inventory_url: str | None, node: str | None, fmt: str,
              with_guard: bool) -> None:
    """Attempt every red line from inside an agent sandbox; exit 1 if any is
    NOT ENFORCED."""
    from daemon.redlines.drill import DrillStatus, drill
    from daemon.redlines.guard.controller import RedLineGuard, default_homes
    from policies.loader import load_policy

    if os.geteuid() != 0:
        raise KernelFeatureError("a drill needs root (canaries in protected places, "
                                 f"fanotify); running as uid {os.geteuid()}")
    loaded = load_policy(policy_dir)
    recorder = _recorder(inventory_url, node, str(loaded.revision))
    guard = RedLineGuard(homes=default_homes()) if with_guard else None
    try:
        if guard is not None:
            guard.start(loaded.policy, recorder.block if recorder is not None else None)
        results = drill(loaded.policy, guard_alive=guard.alive if guard else None,
                        recorder=recorder, homes=default_homes())
    finally:
        if guard is not None:
            guard.stop()
        _close(recorder)
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        click.echo(f"{'RED LINE':<32} {'KIND':<14} {'STATUS':<13} DETAIL")
        for r in results:
            click.echo(f"{r.red_line_id:<32} {r.kind:<14} {r.status:<13} {r.detail}")
    bad = any(r.status is DrillStatus.NOT_ENFORCED for r in results)
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


@redlines.command("systemd")
@click.argument("unit")
@policy_opt
@click.option("--session-dir", default=None,
              help="The agent's session dir; systemd specifiers allowed (e.g. "
                   "/srv/agents/acme/sessions/%i).")
@click.option("--exec-start", default=None, help="The service's command (default: read "
                                                 "from the unit file).")
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=None,
              help=f"Write UNIT.d/{DROPIN_NAME} below this dir instead of printing.")
@handle_errors
def systemd_cmd(unit: str, policy_dir: Path, session_dir: str | None,
                exec_start: str | None, output_dir: Path | None) -> None:
    """Render a drop-in for agent service UNIT (a name or a unit file path)."""
    import shlex

    from daemon.redlines.systemd_dropin import exec_start_of, render_dropin
    from policies.loader import load_policy

    loaded = load_policy(policy_dir)
    name = Path(unit).name
    cmd = shlex.split(exec_start) if exec_start else exec_start_of(_unit_text(unit))
    if not cmd:
        raise ConfigError(f"{unit}: expected an ExecStart= line, found none; "
                          "pass --exec-start")
    binary = shutil.which("scratchwarden") or str(Path(sys.executable).parent / "scratchwarden")
    text = render_dropin(loaded.policy, unit=name, exec_start=cmd, scratchwarden=binary,
                         policy_dir=str(Path(policy_dir).resolve()), session_dir=session_dir)
    if output_dir is None:
        click.echo(text, nl=False)
        return
    from daemon.platform.files import atomic_write

    target = output_dir / f"{name}.d" / DROPIN_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text.encode(), mode=0o644)
    click.echo(str(target))


def _unit_text(unit: str) -> str:
    candidates = [Path(unit)] if "/" in unit else [
        Path(d) / unit for d in ("/etc/systemd/system", "/run/systemd/system",
                                 "/usr/lib/systemd/system", "/lib/systemd/system")]
    for p in candidates:
        if p.is_file():
            return p.read_text(encoding="utf-8")
    raise ConfigError(f"unit {unit}: expected a unit file, found none at "
                      f"{', '.join(map(str, candidates))}; pass --exec-start")
