"""The daemon's counters and the status it publishes.

Every role bumps ``Counters``; the supervisor turns them into the one-line
``STATUS=`` it sends systemd and into ``status.json`` in the state dir, which
``scratchwarden status`` reads (a file, not a socket: it works while the
daemon is busy and tells the operator when it was last written).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.platform.files import atomic_write

STATUS_FILE = "status.json"


@dataclass
class Counters:
    files_scanned: int = 0
    bytes_scanned: int = 0
    unchanged_skipped: int = 0
    scan_errors: int = 0
    overflows: int = 0
    reconciles: int = 0
    worker_restarts: int = 0
    deleted: int = 0
    last_reconcile: str | None = None
    recent: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=4096))
    cpu: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=8192))

    def cpu_used(self, now: float, window: float) -> float:
        """Worker seconds spent scanning in the last ``window`` seconds."""
        return sum(s for t, s in self.cpu if now - t <= window)

    def rate(self, now: float, window: float = 10.0) -> float:
        return sum(1 for t in self.recent if now - t <= window) / window

    def line(self, queue_depth: int, now: float) -> str:
        """The one-line summary systemd shows (``STATUS=``)."""
        return (f"queue {queue_depth}, {self.rate(now):.1f} files/s, "
                f"{self.files_scanned} scanned, {self.scan_errors} errors")

    def document(self, now: float) -> dict[str, Any]:
        """The counters' part of ``status.json``."""
        return {
            "files_scanned": self.files_scanned, "bytes_scanned": self.bytes_scanned,
            "unchanged_skipped": self.unchanged_skipped, "scan_errors": self.scan_errors,
            "files_per_second": round(self.rate(now), 2), "overflows": self.overflows,
            "reconciles": self.reconciles, "last_reconcile": self.last_reconcile,
            "worker_restarts": self.worker_restarts, "deleted": self.deleted,
        }


def write_status(state_dir: Path, doc: dict[str, Any]) -> None:
    """Publish ``doc`` atomically (0600). A full disk costs a stale status, never
    the daemon: the error is swallowed and the next tick tries again."""
    with contextlib.suppress(OSError):
        atomic_write(state_dir / STATUS_FILE, json.dumps(doc, indent=1).encode(), mode=0o600)


def read_status(state_dir: Path) -> dict[str, Any]:
    """The last published status.

    Raises:
        FileNotFoundError: no daemon has written one in ``state_dir``.
        OSError, ValueError: it cannot be read or is not JSON.
    """
    doc = json.loads((state_dir / STATUS_FILE).read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object in {state_dir / STATUS_FILE}")
    return doc


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (it may be another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
