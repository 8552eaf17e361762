"""``scratchwarden scan``: scan files and trees, print what was found, record
it in the inventory.

Exit 1 when any finding scores at least ``--threshold`` (usable in CI), 0 when
none does, 2 on an error. A file that cannot be scanned is printed and
recorded with its reason, never as clean. Nothing printed here ever contains a
detected value: a finding is a type, offsets, a score and a locator (and, in a
text format read from the file itself, its line, column and offset).
``--format lines`` prints ``path:line:column: TYPE score recognizer``, one line
per finding.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from daemon.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    format_option,
    inventory_option,
    node,
    node_option,
    open_store,
    state_dir,
    state_dir_option,
)
from scratchwarden.observations import FileObservation, FileStatus, Finding

if TYPE_CHECKING:
    from inventory.store import Store

RECORD_BATCH = 200
"""Observations per inventory transaction during a one-shot scan."""


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option("table", "jsonl", "lines")
@click.option("--no-inventory", is_flag=True, help="Do not record into the inventory.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Exit 1 when a finding scores at least this.")
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=1, show_default=True,
              help="Worker processes (0: one per core).")
@click.option("--patterns-only", is_flag=True,
              help="Skip the NER model: pattern recognizers only (fast; no PERSON/LOCATION).")
@click.option("--file-timeout", type=click.FloatRange(1), default=600, show_default=True,
              metavar="SECONDS", help="Per-file scan budget; a file that exceeds it is "
              "recorded unscannable (scan-timeout) with what was found so far.")
@state_dir_option
@inventory_option
@node_option
@click.pass_context
def scan(ctx: click.Context, paths: tuple[Path, ...], fmt: str, no_inventory: bool,
         threshold: float, jobs: int, patterns_only: bool, file_timeout: float) -> None:
    """Scan files and trees for PII and secrets; record them in the inventory.

    Symlinks are never followed; sockets, FIFOs and devices are recorded as
    skipped, not read. Offsets are character offsets into the file's decoded
    text (or into the extracted text of the unit named by the locator)."""
    from daemon.scan.runner import ScanJob, run_scan

    for p in paths:
        if not os.path.lexists(p):
            raise click.BadParameter(f"no such file or directory: {p}", param_hint="PATHS")
    job = ScanJob(paths=[str(p) for p in paths], state_dir=state_dir(ctx), jobs=jobs,
                  use_ner=not patterns_only, max_scan_seconds=file_timeout)
    out: _TableOut | _JsonlOut | _LinesOut = (
        _TableOut(threshold) if fmt == "table" else
        _JsonlOut(threshold) if fmt == "jsonl" else _LinesOut(threshold))
    progress = fmt == "table" and sys.stderr.isatty()
    if no_inventory:
        summary = run_scan(job, sink=lambda root, obs: out.add(obs), progress=progress)
    else:
        with open_store(ctx) as store:
            recorder = _Recorder(store, node(ctx))

            def print_and_record(root: str, obs: FileObservation) -> None:
                out.add(obs)
                recorder.add(root, obs)

            summary = run_scan(job, sink=print_and_record, progress=progress)
            recorder.flush()
    out.close(summary)
    sys.exit(EXIT_FINDINGS if out.hits else EXIT_OK)


class _Recorder:
    """Records a one-shot scan's observations, ``RECORD_BATCH`` per transaction."""

    def __init__(self, store: Store, node: str) -> None:
        self.store = store
        self.node = node
        self.pending: list[tuple[str, FileObservation]] = []

    def add(self, root: str, obs: FileObservation) -> None:
        self.pending.append((root, obs))
        if len(self.pending) >= RECORD_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            from inventory.store import Recording

            self.store.record_many(self.node, [Recording(obs, root=root)
                                               for root, obs in self.pending],
                                   now=datetime.now(UTC))
        self.pending.clear()


class _JsonlOut:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.hits = 0

    def add(self, obs: FileObservation) -> None:
        self.hits += any(f.score >= self.threshold for f in obs.findings)
        click.echo(json.dumps(observation_json(obs), separators=(",", ":")))

    def close(self, summary: dict[str, int]) -> None:
        pass


class _LinesOut:
    """``--format lines``: one line per finding at or above the threshold, the
    way secret scanners print them (``path:line:column: TYPE``), so an editor
    or a CI log links to the place; files that could not be scanned are
    reported on stderr with the reason."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.hits = 0

    def add(self, obs: FileObservation) -> None:
        kept = [f for f in obs.findings if f.score >= self.threshold]
        self.hits += bool(kept)
        for f in sorted(kept, key=lambda f: (f.offset if f.offset is not None else f.start)):
            click.echo(finding_line(obs.path, f))
        if obs.status is not FileStatus.SCANNED:
            click.echo(f"{obs.path}: {obs.status.value} ({obs.reason})", err=True)

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
    return {
        "path": obs.path,
        "status": obs.status.value,
        "reason": obs.reason,
        "size": obs.size,
        "mime": obs.mime,
        "sha256": obs.sha256,
        "findings": [finding_json(f) for f in obs.findings],
    }


def finding_json(f: Finding) -> dict[str, Any]:
    """A finding's JSON fields; ``line``/``column``/``offset`` for text
    formats (position in the file), beside the unit ``locator``."""
    out: dict[str, Any] = {"entity_type": f.entity_type, "start": f.start, "end": f.end,
                           "score": f.score, "recognizer": f.recognizer, "locator": f.locator}
    if f.line is not None:
        out.update(line=f.line, column=f.column, offset=f.offset)
    return out


def finding_line(path: str, f: Finding) -> str:
    """``path:line:column: TYPE score recognizer`` for a positioned finding;
    else ``path: TYPE score recognizer [locator]`` (documents, archives)."""
    tail = f"{f.entity_type} {f.score:.2f} {f.recognizer}"
    if f.line is not None:
        return f"{path}:{f.line}:{f.column}: {tail}"
    where = f" [{f.locator}]" if f.locator else ""
    return f"{path}: {tail}{where}"


def _human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


COMMANDS: tuple[click.Command, ...] = (scan,)
