"""The ``scratchwarden`` command line.

One top-level handler maps the error hierarchy (policies/errors.py) to a
message and an exit code:

    0  success, nothing found at or above the threshold
    1  findings at or above the threshold (scan), or a verification failure
    2  usage or runtime error (bad policy, bad config, inventory down, ...)

Nothing printed here ever contains a detected value.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from daemon.cliutil import (
    EXIT_FINDINGS,
    EXIT_OK,
    _state_dir,
    handle_errors,
)
from daemon.paths import default_inventory_url, prepare_state_dir
from inventory.records import FileObservation, FileStatus
from policies.errors import ScratchwardenError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="State directory (default /var/lib/scratchwarden as root, else a user dir).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
@click.pass_context
def main(ctx: click.Context, state_dir: Path | None, verbose: int) -> None:
    """scratchwarden: find, inventory, retain, encrypt and guard agent scratch data."""
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from daemon.logsafety import quiet_third_party

    quiet_third_party()
    ctx.obj = {"state_dir_opt": state_dir}


# ----------------------------------------------------------------------- scan

@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "lines"]),
              default="table", show_default=True,
              help="Human table, one JSON object per file, or path:line:col lines.")
@click.option("--inventory", "inventory_url", default=None, metavar="URL",
              help="SQLAlchemy URL of the inventory (default: SQLite file in the state dir).")
@click.option("--no-inventory", is_flag=True, help="Do not record into the inventory.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Exit 1 when a finding scores at least this.")
@click.option("--node", default=None, help="Node id recorded in the inventory (default: hostname).")
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=1, show_default=True,
              help="Worker processes (0: one per core).")
@click.option("--patterns-only", is_flag=True,
              help="Skip the NER model: pattern recognizers only (fast; no PERSON/LOCATION).")
@click.option("--file-timeout", type=click.FloatRange(1), default=600, show_default=True,
              metavar="SECONDS", help="Per-file scan budget; a file that exceeds it is "
              "recorded unscannable (scan-timeout) with what was found so far.")
@click.pass_context
@handle_errors
def scan(ctx: click.Context, paths: tuple[Path, ...], fmt: str, inventory_url: str | None,
         no_inventory: bool, threshold: float, node: str | None, jobs: int,
         patterns_only: bool, file_timeout: float) -> None:
    """Scan files and trees for PII and secrets; record them in the inventory.

    Symlinks are never followed; sockets, FIFOs and devices are recorded as
    skipped, not read. Offsets are character offsets into the file's decoded
    text (or into the extracted text of the unit named by the locator)."""
    from daemon.scan.runner import ScanJob, run_scan

    for p in paths:
        if not os.path.lexists(p):
            raise click.BadParameter(f"no such file or directory: {p}", param_hint="PATHS")
    state_dir = _state_dir(ctx)
    store = None
    if not no_inventory:
        from inventory.store import Store

        store = Store.open(inventory_url or default_inventory_url(state_dir))
    job = ScanJob(paths=[str(p) for p in paths], state_dir=state_dir, jobs=jobs,
                  use_ner=not patterns_only, max_scan_seconds=file_timeout)
    from daemon.scan.report import LinesOut

    out: _TableOut | _JsonlOut | LinesOut = (
        _TableOut(threshold) if fmt == "table" else
        _JsonlOut(threshold) if fmt == "jsonl" else LinesOut(threshold))
    try:
        summary = run_scan(job, sink=out.add, store=store, node=node or socket.gethostname(),
                           progress=fmt == "table" and sys.stderr.isatty())
    finally:
        if store is not None:
            store.close()
    out.close(summary)
    sys.exit(EXIT_FINDINGS if out.hits else EXIT_OK)


class _JsonlOut:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.hits = 0

    def add(self, obs: FileObservation) -> None:
        self.hits += any(f.score >= self.threshold for f in obs.findings)
        click.echo(json.dumps(observation_json(obs), separators=(",", ":")))

    def close(self, summary: dict[str, int]) -> None:
        pass


class _TableOut:
    def __init__(self, threshold: float) -> None:
        from rich.console import Console
        from rich.table import Table

        self.threshold = threshold
        self.hits = 0
        self.console = Console()
        self.table = Table(title="scratchwarden scan", show_lines=False)
        for col in ("path", "status", "type", "size", "findings"):
            self.table.add_column(col, overflow="fold")

    def add(self, obs: FileObservation) -> None:
        self.hits += any(f.score >= self.threshold for f in obs.findings)
        status = obs.status.value if obs.status is FileStatus.SCANNED else \
            f"{obs.status.value} ({obs.reason})"
        self.table.add_row(obs.path, status, obs.mime or "", _human_size(obs.size),
                           summarize_findings(obs, self.threshold))

    def close(self, summary: dict[str, int]) -> None:
        self.console.print(self.table)
        parts = ", ".join(f"{v} {k}" for k, v in summary.items() if v)
        self.console.print(f"{parts or 'nothing scanned'}; files with findings >= "
                           f"{self.threshold}: {self.hits}")


def summarize_findings(obs: FileObservation, threshold: float) -> str:
    counts: dict[str, int] = {}
    for f in obs.findings:
        if f.score >= threshold:
            counts[f.entity_type] = counts.get(f.entity_type, 0) + 1
    return ", ".join(f"{k}×{v}" for k, v in sorted(counts.items()))


def observation_json(obs: FileObservation) -> dict[str, Any]:
    from daemon.scan.report import finding_json

    return {
        "path": obs.path,
        "status": obs.status.value,
        "reason": obs.reason,
        "size": obs.size,
        "mime": obs.mime,
        "sha256": obs.sha256,
        "findings": [finding_json(f) for f in obs.findings],
    }


def _human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


# ------------------------------------------------------------------ inventory

@main.group()
def inventory() -> None:
    """Read the inventory."""


@inventory.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--inventory", "inventory_url", default=None, metavar="URL")
@click.option("--node", default=None, help="Only this node's assets.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to this file (0600) instead of stdout.")
@click.pass_context
@handle_errors
def inventory_export(ctx: click.Context, fmt: str, inventory_url: str | None,
                     node: str | None, output: Path | None) -> None:
    """Export every recorded file for an auditor: classification, counts,
    sensitivity, owner, first/last seen, status. Never a detected value."""
    from inventory.export import export
    from inventory.store import Store

    store = Store.open(inventory_url or default_inventory_url(_state_dir(ctx)))
    try:
        if output is None:
            export(store, fmt, sys.stdout, node=node)  # type: ignore[arg-type]
        else:
            with _private_text_file(output) as fh:
                export(store, fmt, fh, node=node)  # type: ignore[arg-type]
    finally:
        store.close()


def _private_text_file(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")




# --------------------------------------------------------------------- daemon

@main.command("daemon")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Node configuration (default /etc/scratchwarden/scratchwarden.yaml).")
@click.pass_context
@handle_errors
def daemon_cmd(ctx: click.Context, config_path: Path | None) -> None:
    """Run the node daemon in the foreground (systemd supervises it)."""
    import faulthandler
    import signal

    from daemon.config import load_config
    from daemon.logging_setup import configure_json_logging
    from daemon.metrics import Metrics
    from daemon.sdnotify import Notifier
    from daemon.service import Daemon

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # operators: kill -USR1 for stacks
    config = load_config(config_path)
    if ctx.obj["state_dir_opt"] is not None:
        config = config.model_copy(update={"state_dir": ctx.obj["state_dir_opt"]})
    configure_json_logging(config.log_level)
    metrics = Metrics()
    server = metrics.serve(config.metrics_address) if config.metrics_address else None
    try:
        daemon = Daemon(config, config_path=config_path,
                        notifier=Notifier.from_env(unset_environment=True), metrics=metrics)
        if server is not None:
            host, port = server.address
            daemon.metrics_endpoint = f"http://{host}:{port}/metrics"
        code = daemon.run()
    finally:
        if server is not None:
            server.close()
    sys.exit(code)


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the raw status document.")
@click.pass_context
@handle_errors
def status(ctx: click.Context, config_path: Path | None, as_json: bool) -> None:
    """Show a running daemon's state (from the status file in the state dir)."""
    from daemon.config import load_config
    from daemon.service import STATUS_FILE

    state_opt = ctx.obj["state_dir_opt"]
    state = prepare_state_dir(state_opt or load_config(config_path).state_dir)
    path = state / STATUS_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        click.echo(f"no daemon status at {path}: is the daemon running?", err=True)
        sys.exit(EXIT_FINDINGS)
    except (OSError, ValueError) as e:
        raise ScratchwardenError(f"cannot read {path}: {e}") from e
    alive = _pid_alive(int(doc.get("pid", 0)))
    if as_json:
        doc["running"] = alive
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"daemon: {'running' if alive else 'NOT running'} (pid {doc.get('pid')}, "
                   f"node {doc.get('node')}, since {doc.get('started_at')})")
        for key in ("roots", "queue_depth", "inflight", "files_per_second", "files_scanned",
                    "unchanged_skipped", "scan_errors", "overflows", "reconciles",
                    "last_reconcile", "worker_restarts", "deleted", "policy_revision",
                    "guard_alive", "last_drill", "metrics", "updated_at"):
            click.echo(f"  {key:18} {doc.get(key)}")
    sys.exit(EXIT_OK if alive else EXIT_FINDINGS)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _register_extensions() -> None:
    from daemon.cli_policy import register
    from daemon.cli_redlines import redlines, run_cmd

    register(main)
    main.add_command(run_cmd)
    main.add_command(redlines)


_register_extensions()


@main.command("guard")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None)
@click.pass_context
@handle_errors
def guard_cmd(ctx: click.Context, config_path: Path | None) -> None:
    """Run the fanotify red-line guard in the foreground (scratchwarden-guard.service).

    It is a separate service so the scanner never holds CAP_SYS_ADMIN. Blocks
    are appended to the inventory's audit chain; SIGHUP reloads the policy.
    If the guard dies, fanotify lets every open through (fails open): the
    drill (``scratchwarden redlines drill``) detects a missing guard."""
    from daemon.config import load_config
    from daemon.guardsvc import run_guard_service
    from daemon.logging_setup import configure_json_logging
    from daemon.sdnotify import Notifier

    config = load_config(config_path)
    if ctx.obj["state_dir_opt"] is not None:
        config = config.model_copy(update={"state_dir": ctx.obj["state_dir_opt"]})
    configure_json_logging(config.log_level)
    sys.exit(run_guard_service(config, Notifier.from_env(unset_environment=True)))


@main.command("install")
@click.option("--prefix", type=click.Path(path_type=Path), default=None,
              help="Virtual environment holding scratchwarden (default: the running one).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=Path("/etc/scratchwarden/scratchwarden.yaml"), show_default=True)
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
@click.pass_context
@handle_errors
def install_cmd(ctx: click.Context, prefix: Path | None, config_path: Path,
                roots: tuple[str, ...], unit_dir: Path, guard: bool,
                allow_addresses: tuple[str, ...], dry_run: bool) -> None:
    """Install the systemd units and create the directories (run once, as root).

    Never overwrites an existing configuration, never enables the service:
    it prints the systemctl commands to run next."""
    from daemon.install import install
    from daemon.paths import SYSTEM_STATE_DIR

    install(prefix, config_path=config_path, roots=list(roots) or None,
            state_dir=ctx.obj["state_dir_opt"] or SYSTEM_STATE_DIR, unit_dir=unit_dir,
            dry_run=dry_run, guard=guard, allow_addresses=allow_addresses, out=click.echo)
