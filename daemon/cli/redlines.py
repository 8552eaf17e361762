"""Red lines on the command line: ``scratchwarden run``, ``redlines
{drill,systemd}`` and ``guard`` (the fanotify guard's service).

Exit codes: ``run`` execs the command in place, so its exit status is the
command's own (127 not found, 126 not executable, like env(1)); a red line
that cannot be enforced or a ruleset that cannot be entered is an error (2)
and the command never runs; ``drill`` exits 1 when any red line is NOT
ENFORCED. ``run`` and ``drill`` record in the audit chain only when given
``--inventory`` (an agent's launcher may not reach the node's state dir).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daemon.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    config_option,
    format_option,
    inventory_option,
    inventory_url_given,
    load_node_config,
    node,
    node_option,
    state_dir_option,
)
from daemon.platform.state_dir import default_inventory_url, prepare_state_dir
from scratchwarden.errors import ConfigError, KernelFeatureError

if TYPE_CHECKING:
    from daemon.redlines.confine.landlock import AppliedReport, Ruleset
    from daemon.redlines.record import AuditRecorder
    from daemon.redlines.run import Prepared

DEFAULT_POLICY_DIR = "/etc/scratchwarden/policies"
DROPIN_NAME = "50-scratchwarden-redlines.conf"

policy_opt = click.option("--policy", "policy_dir", type=click.Path(path_type=Path),
                          default=DEFAULT_POLICY_DIR, show_default=True,
                          help="Policy directory (a git checkout).")


@contextmanager
def _audit_chain(ctx: click.Context, revision: str) -> Iterator[AuditRecorder | None]:
    """An audit recorder on ``--inventory`` (closed after), or None when none
    was given."""
    url = inventory_url_given(ctx)
    if url is None:
        yield None
        return
    from daemon.redlines.record import AuditRecorder
    from inventory.store import Store

    store = Store.open(url)
    try:
        yield AuditRecorder(store, node(ctx), revision)
    finally:
        store.close()


@click.command("run", context_settings={"ignore_unknown_options": True})
@policy_opt
@click.option("--session", default=None, help="Session id: its directory is found through "
                                                "the policy root with {session}.")
@click.option("--session-dir", type=click.Path(path_type=Path), default=None,
              help="The session directory (writable; everything else is not).")
@inventory_option
@node_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx: click.Context, policy_dir: Path, session: str | None,
            session_dir: Path | None, command: tuple[str, ...]) -> None:
    """Run COMMAND (and all it starts) under the policy's red lines."""
    from daemon.redlines import run as runmod
    from policies.loader import load_policy

    # The git revision (two git processes) is only needed for the audit entry.
    loaded = load_policy(policy_dir, with_revision=inventory_url_given(ctx) is not None)
    sdir, label = runmod.resolve_session(loaded.policy, session,
                                         None if session_dir is None else str(session_dir))
    prepared = runmod.prepare(loaded.policy, session_dir=sdir, session=label)
    for line in prepared.compiled.degraded():
        click.echo(f"scratchwarden: warning: red line {line.id} DEGRADED: {line.detail}",
                   err=True)
    ruleset = runmod.build(prepared)
    try:
        _record_launch(ctx, str(loaded.revision), prepared, command, ruleset.report)
        code = _exec_or_record_failure(ctx, command, prepared, ruleset, str(loaded.revision))
    finally:
        ruleset.close()
    sys.exit(code)


def _record_launch(ctx: click.Context, revision: str, prepared: Prepared,
                   command: tuple[str, ...], report: AppliedReport) -> None:
    """Recorded before the command is confined and exec'd: afterwards this
    process may no longer write the inventory (or reach its port)."""
    from daemon.redlines.run import record_launch

    with _audit_chain(ctx, revision) as recorder:
        if recorder is not None:
            record_launch(recorder, prepared, command, os.getpid(), report)


def _exec_or_record_failure(ctx: click.Context, command: tuple[str, ...], prepared: Prepared,
                            ruleset: Ruleset, revision: str) -> int:
    from daemon.redlines.run import exec_under
    from scratchwarden.errors import GuardSetupError

    try:
        return exec_under(list(command), prepared, ruleset)
    except GuardSetupError as e:  # not confined, nothing exec'd: say so in the chain too
        with _audit_chain(ctx, revision) as recorder:
            if recorder is not None:
                recorder.append("redline-launch-failed", prepared.session or "-",
                                {"pid": os.getpid(), "program": os.path.basename(command[0]),
                                 "reason": str(e)})
        raise


@click.group("redlines")
def redlines() -> None:
    """Red lines: drills and systemd drop-ins."""


@redlines.command("drill")
@policy_opt
@format_option("table", "json")
@click.option("--with-guard", is_flag=True,
              help="Start a fanotify guard for the drill (when no daemon is running).")
@inventory_option
@node_option
@click.pass_context
def drill_cmd(ctx: click.Context, policy_dir: Path, fmt: str, with_guard: bool) -> None:
    """Attempt every red line from inside an agent sandbox; exit 1 if any is
    NOT ENFORCED."""
    from daemon.redlines.drill import DrillStatus, drill
    from daemon.redlines.guard.controller import RedLineGuard, default_homes
    from policies.loader import load_policy

    if os.geteuid() != 0:
        raise KernelFeatureError("a drill needs root (canaries in protected places, "
                                 f"fanotify); running as uid {os.geteuid()}")
    loaded = load_policy(policy_dir)
    guard = RedLineGuard(homes=default_homes()) if with_guard else None
    with _audit_chain(ctx, str(loaded.revision)) as recorder:
        try:
            if guard is not None:
                guard.start(loaded.policy, recorder.block if recorder is not None else None)
            results = drill(loaded.policy, guard_alive=guard.alive if guard else None,
                            recorder=recorder, homes=default_homes())
        finally:
            if guard is not None:
                guard.stop()
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


@click.command("guard")
@config_option
@state_dir_option
@inventory_option
@click.pass_context
def guard_cmd(ctx: click.Context) -> None:
    """Run the fanotify red-line guard in the foreground (scratchwarden-guard.service).

    It is a separate service so the scanner never holds CAP_SYS_ADMIN. Blocks
    are appended to the inventory's audit chain; SIGHUP reloads the policy.
    If the guard dies, fanotify lets every open through (fails open): the
    drill (``scratchwarden redlines drill``) detects a missing guard."""
    from daemon.platform.json_logging import configure_json_logging
    from daemon.platform.systemd_notify import Notifier
    from daemon.redlines.guard.service import run_guard_service

    config = load_node_config(ctx)
    configure_json_logging(config.log_level)
    if config.policies is None:
        raise ConfigError("the guard needs `policies:` (the policy directory) in the config")
    from inventory.store import Store

    state = prepare_state_dir(config.state_dir)
    store = Store.open(config.inventory or default_inventory_url(state))
    try:
        code = run_guard_service(config.policies, config.node_id, store,
                                 Notifier.from_env(unset_environment=True))
    finally:
        store.close()
    sys.exit(code)


COMMANDS: tuple[click.Command, ...] = (run_cmd, redlines, guard_cmd)
