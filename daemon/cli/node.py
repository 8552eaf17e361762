"""``scratchwarden daemon``, ``status`` and ``install``: the node daemon's
lifecycle (systemd runs ``daemon``; an operator runs the other two)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from daemon.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    config_option,
    config_path,
    format_option,
    inventory_option,
    json_alias,
    load_node_config,
    state_dir_given,
    state_dir_option,
)
from scratchwarden.errors import ScratchwardenError

STATUS_KEYS = ("roots", "queue_depth", "inflight", "files_per_second", "files_scanned",
               "unchanged_skipped", "scan_errors", "overflows", "reconciles",
               "last_reconcile", "worker_restarts", "deleted", "policy_revision",
               "guard_alive", "last_drill", "metrics", "updated_at")


@click.command("daemon")
@config_option
@state_dir_option
@inventory_option
@click.pass_context
def daemon_cmd(ctx: click.Context) -> None:
    """Run the node daemon in the foreground (systemd supervises it)."""
    import faulthandler
    import signal

    from daemon.node.metrics import Metrics
    from daemon.node.supervisor import Daemon
    from daemon.platform.json_logging import configure_json_logging
    from daemon.platform.systemd_notify import Notifier

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # operators: kill -USR1 for stacks
    config = load_node_config(ctx)
    configure_json_logging(config.log_level)
    metrics = Metrics()
    server = metrics.serve(config.metrics_address) if config.metrics_address else None
    try:
        daemon = Daemon(config, config_path=config_path(ctx),
                        notifier=Notifier.from_env(unset_environment=True), metrics=metrics)
        if server is not None:
            host, port = server.address
            daemon.metrics_endpoint = f"http://{host}:{port}/metrics"
        code = daemon.run()
    finally:
        if server is not None:
            server.close()
    sys.exit(code)


@click.command()
@format_option("table", "json")
@json_alias
@config_option
@state_dir_option
@click.pass_context
def status(ctx: click.Context, fmt: str, as_json: bool) -> None:
    """Show a running daemon's state (from the status file in the state dir).
    Exit 1 when no daemon is running."""
    from daemon.node.status import STATUS_FILE, pid_alive, read_status
    from daemon.platform.state_dir import prepare_state_dir

    state = prepare_state_dir(state_dir_given(ctx) or load_node_config(ctx).state_dir)
    try:
        doc = read_status(state)
    except FileNotFoundError:
        click.echo(f"no daemon status at {state / STATUS_FILE}: is the daemon running?",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    except (OSError, ValueError) as e:
        raise ScratchwardenError(f"cannot read {state / STATUS_FILE}: {e}") from e
    alive = pid_alive(int(doc.get("pid", 0)))
    if fmt == "json" or as_json:
        doc["running"] = alive
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"daemon: {'running' if alive else 'NOT running'} (pid {doc.get('pid')}, "
                   f"node {doc.get('node')}, since {doc.get('started_at')})")
        for key in STATUS_KEYS:
            click.echo(f"  {key:18} {doc.get(key)}")
    sys.exit(EXIT_OK if alive else EXIT_FINDINGS)


@click.command("install")
@click.option("--prefix", type=click.Path(path_type=Path), default=None,
              help="Virtual environment holding scratchwarden (default: the running one).")
@click.option("--root", "roots", multiple=True, metavar="PATTERN",
              help="Agent scratch root pattern, e.g. /srv/agents/{tenant}/sessions/{session} "
              "(repeatable; default: the existing config's roots).")
@click.option("--unit-dir", type=click.Path(path_type=Path),
              default=Path("/etc/systemd/system"), show_default=True)
@click.option("--guard/--no-guard", default=True, show_default=True,
              help="Also install scratchwarden-guard.service (fanotify red lines).")
@click.option("--allow-address", "allow_addresses", multiple=True, metavar="CIDR",
              help="Widen IPAddressAllow= (e.g. a fleet PostgreSQL server).")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
@config_option
@state_dir_option
@click.pass_context
def install_cmd(ctx: click.Context, prefix: Path | None, roots: tuple[str, ...],
                unit_dir: Path, guard: bool, allow_addresses: tuple[str, ...],
                dry_run: bool) -> None:
    """Install the systemd units and create the directories (run once, as root).

    Writes the configuration (--config, default /etc/scratchwarden/scratchwarden.yaml)
    only when it does not exist, never enables the service: it prints the
    systemctl commands to run next."""
    from daemon.host.config import DEFAULT_CONFIG_PATH
    from daemon.host.install import install
    from daemon.platform.state_dir import SYSTEM_STATE_DIR

    install(prefix, config_path=config_path(ctx) or DEFAULT_CONFIG_PATH,
            roots=list(roots) or None, state_dir=state_dir_given(ctx) or SYSTEM_STATE_DIR,
            unit_dir=unit_dir, dry_run=dry_run, guard=guard, allow_addresses=allow_addresses,
            out=click.echo)


COMMANDS: tuple[click.Command, ...] = (daemon_cmd, status, install_cmd)
