"""What the daemon's roles hand each other, and what they need from outside.

The roles (``intake``, ``dispatcher``, ``recorder``, ``reconciler``, the
``supervisor``) never share a tagged tuple or an ``Any``: they pass the
messages below, and each collaborator injected from outside (the inventory,
systemd's notify socket, the metrics, the policy runtime, the watcher) is
named by the small ``Protocol`` of the calls the roles make on it. A test
hands a role a fake that satisfies the protocol; production hands the real
object, and mypy checks both.

Messages flow one way, into the recorder, in the order events happened::

    intake ──── Deleted | Renamed | DirDeleted ──┐
    dispatcher ─ Observed ───────────────────────┼──► recorder ──► InventoryWriter
    reconciler ─ Deleted (vanished files) ───────┘
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.node.work_queue import Pending
from scratchwarden.observations import FileObservation

# ------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True)
class Observed:
    """A file was scanned (or could not be): record its observation."""

    item: Pending
    observation: FileObservation


@dataclass(frozen=True, slots=True)
class Deleted:
    """A file under a root is gone."""

    path: str


@dataclass(frozen=True, slots=True)
class Renamed:
    """A file moved from ``src`` to ``dest`` (its row follows it)."""

    src: str
    dest: str


@dataclass(frozen=True, slots=True)
class DirDeleted:
    """A directory under a root is gone (or moved away): every known file
    beneath it that no longer exists is deleted."""

    path: str


Message = Observed | Deleted | Renamed | DirDeleted


# ----------------------------------------------------------------- protocols


class InventoryWriter(Protocol):
    """Where the recorder writes: applies a batch of messages in order.

    The node's implementation is ``recorder.LocalInventory`` (the local
    store). It is the one seam for fleet replication: a writer that also
    appends each batch to an outbox in the same transaction, to be shipped
    to the fleet database, satisfies this protocol unchanged."""

    def write(self, batch: Sequence[Message], now: datetime) -> list[str]:
        """Apply ``batch`` in order; return the paths it marked deleted.

        Raises:
            InventoryUnavailable: the store cannot be reached; the caller
                retries the whole batch (every write here is idempotent).
            InventoryError: the store refused the batch.
        """
        ...


class KnownFileRow(Protocol):
    """One live row as a reconcile walk compares it (``inventory.views.KnownFile``)."""

    @property
    def inode(self) -> int | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def mtime_ns(self) -> int | None: ...


class InventoryReader(Protocol):
    """What a reconcile walk reads: the live rows of one root."""

    def known_files(self, node: str, root: str | None) -> Mapping[str, KnownFileRow]: ...
    def known_unscannable(self, node: str, root: str | None) -> Mapping[str, str]: ...


class Notifier(Protocol):
    """systemd's notify socket (``platform.systemd_notify.Notifier``)."""

    def notify(self, *lines: str) -> bool: ...


class ScanMetrics(Protocol):
    """The metrics the roles update (``node.metrics.Metrics``)."""

    def observe_scan(self, obs: FileObservation, seconds: float | None = None) -> None: ...
    def reconcile_done(self, trigger: str, *, at: float | None = None) -> None: ...
    def worker_restarted(self, count: int = 1) -> None: ...
    def inventory_error(self) -> None: ...
    def track_queue_depth(self, depth: Callable[[], float]) -> None: ...


class Claims(Protocol):
    """The enforcer's claim on paths it is acting on: their deletes and moves
    are recorded by the enforcer with why, not by the intake."""

    def claims(self, path: str) -> bool: ...


class Watched(Protocol):
    """The watcher as the reconciler sees it: make sure a base is watched."""

    def ensure_watched(self, base: str) -> None: ...

