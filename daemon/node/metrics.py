"""Prometheus metrics of the node daemon, in a registry of their own.

A dedicated ``CollectorRegistry`` (never the process-global one) keeps library
metrics out and lets tests build as many ``Metrics`` as they like.

Labels come from fixed vocabularies only. A label value is never a path, a
file name or a detected value: ``entity_type`` must be a known entity name,
``reason`` a known unscannable reason, ``trigger`` a known reconcile trigger;
anything else is counted as ``OTHER``/``other``. That bounds cardinality and
keeps invariant 1 (no detected value in metrics) even if a recognizer or an
error path hands us something unexpected.

The endpoint listens on loopback by default (``127.0.0.1:9464``); the systemd
unit's ``IPAddressAllow=localhost`` enforces that unless an operator widens it.
"""

from __future__ import annotations

import logging
import platform
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import start_http_server

from scratchwarden.entities import KNOWN_TYPES
from scratchwarden.errors import ConfigError

log = logging.getLogger("scratchwarden.metrics")

NAMESPACE = "scratchwarden"
DEFAULT_ADDRESS = "127.0.0.1:9464"

#: event-to-inventory latency: from the first event on a path to its row being
#: committed. The quiet period (2 s by default) sits in the middle of the range.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0,
                   15.0, 20.0, 30.0)

OTHER_ENTITY = "OTHER"
OTHER = "other"

#: every entity type the scanner can emit (the shared catalogue)
BASE_ENTITY_TYPES: frozenset[str] = KNOWN_TYPES

#: stable reason codes of unscannable files (scratchwarden.errors.Unscannable and
#: the daemon's own failure codes)
SCAN_ERROR_REASONS: frozenset[str] = frozenset({
    "too-large", "zip-bomb", "archive-limit", "binary", "corrupt", "encrypted",
    "permission-denied", "decode-error", "extract-error", "detect-error", "timeout",
    "not-found", "not-a-regular-file", "io-error", "os-error", "internal-error",
    "worker-crashed", "queue-full", "inventory-unavailable",
})

RECONCILE_TRIGGERS: frozenset[str] = frozenset({
    "start", "periodic", "overflow", "reload", "watch-error", "manual", "schedule",
})

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class _Observation(Protocol):
    """What ``observe_scan`` reads of an ``scratchwarden.observations.FileObservation``."""

    @property
    def status(self) -> Any: ...
    @property
    def size(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def findings(self) -> tuple[Any, ...]: ...


@dataclass
class MetricsServer:
    """A running ``/metrics`` HTTP endpoint. ``close()`` stops the serving
    thread and releases the port; it is idempotent."""

    server: Any
    thread: threading.Thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()


def parse_address(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) into ``(host, port)``.

    Raises:
        ConfigError: not ``HOST:PORT``.
    """
    host, sep, port = addr.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"expected a metrics address HOST:PORT such as {DEFAULT_ADDRESS}, "
                          f"found {addr!r}")
    return host, int(port)


def start_metrics_server(addr: str = DEFAULT_ADDRESS, *,
                         registry: CollectorRegistry) -> MetricsServer:
    """Serve ``registry`` on ``addr`` from a background thread (port 0 picks a
    free port; read it back from ``.port``).

    Raises:
        ConfigError: the address is invalid or cannot be listened on.
    """
    host, port = parse_address(addr)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        raise ConfigError(f"cannot listen for metrics on {addr}: {e.strerror}") from e
    thread.name = "sw-metrics"
    log.info("metrics endpoint listening", extra={"address": f"{host}:{server.server_port}"})
    return MetricsServer(server, thread)


def _known_secret_entities() -> frozenset[str]:
    try:
        from daemon.scan.recognizers.secrets import SECRET_ENTITIES
    except ImportError:  # the scanner is optional for a metrics-only test
        return frozenset()
    return frozenset(SECRET_ENTITIES)


class Metrics:
    """All daemon metrics. Methods are named for the events the daemon reports;
    each maps untrusted label values onto a fixed vocabulary."""

    def __init__(self, *, entity_types: Collection[str] | None = None,
                 version: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.entity_types = frozenset(entity_types if entity_types is not None
                                      else BASE_ENTITY_TYPES | _known_secret_entities())
        self._define(self.registry)
        self.build_info.info({"version": version or _version(),
                              "python": platform.python_version()})

    def _define(self, r: CollectorRegistry) -> None:
        ns = NAMESPACE
        self.files_scanned = Counter("files_scanned", "Files whose content was analysed.",
                                     namespace=ns, registry=r)
        self.bytes_scanned = Counter("bytes_scanned", "Bytes of files analysed.",
                                     namespace=ns, registry=r)
        self.files_skipped = Counter("files_skipped",
                                     "Files deliberately not read (sockets, FIFOs, devices).",
                                     namespace=ns, registry=r)
        self.findings = Counter("findings", "Detected entities, by entity type (never values).",
                                ["entity_type"], namespace=ns, registry=r)
        self.scan_errors = Counter("scan_errors", "Files that could not be scanned, by reason.",
                                   ["reason"], namespace=ns, registry=r)
        self.queue_depth = Gauge("queue_depth", "Paths waiting to be scanned.",
                                 namespace=ns, registry=r)
        self.event_to_inventory = Histogram(
            "event_to_inventory_seconds",
            "Seconds from the first file event on a path to its inventory row.",
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self.reconcile_runs = Counter("reconcile_runs", "Reconcile walks, by trigger.",
                                      ["trigger"], namespace=ns, registry=r)
        self.last_reconcile = Gauge("last_reconcile_timestamp_seconds",
                                    "Unix time the last reconcile walk finished.",
                                    namespace=ns, registry=r)
        self.worker_restarts = Counter("worker_restarts", "Scan worker processes replaced.",
                                       namespace=ns, registry=r)
        self.inventory_errors = Counter("inventory_errors",
                                        "Inventory writes that failed (retried later).",
                                        namespace=ns, registry=r)
        self.build_info = Info("build", "scratchwarden version.", namespace=ns, registry=r)
        for reason in SCAN_ERROR_REASONS | {OTHER}:
            self.scan_errors.labels(reason=reason)
        for trigger in RECONCILE_TRIGGERS | {OTHER}:
            self.reconcile_runs.labels(trigger=trigger)

    # ---------------------------------------------------------- vocabulary
    def entity_label(self, entity_type: str) -> str:
        if entity_type in self.entity_types and _ENTITY_NAME.match(entity_type):
            return entity_type
        return OTHER_ENTITY

    @staticmethod
    def reason_label(reason: str | None) -> str:
        return reason if reason in SCAN_ERROR_REASONS else OTHER

    @staticmethod
    def trigger_label(trigger: str | None) -> str:
        return trigger if trigger in RECONCILE_TRIGGERS else OTHER

    # -------------------------------------------------------------- events
    def observe_scan(self, obs: _Observation, seconds: float | None = None) -> None:
        """One file's observation reached the inventory ``seconds`` after its
        first event (``None``: it came from a reconcile walk, not an event)."""
        status = str(getattr(obs.status, "value", obs.status))
        if status == "scanned":
            self.files_scanned.inc()
            self.bytes_scanned.inc(max(0, obs.size or 0))
            for f in obs.findings:
                self.findings.labels(entity_type=self.entity_label(f.entity_type)).inc()
        elif status == "unscannable":
            self.scan_error(obs.reason)
        elif status == "skipped":
            self.files_skipped.inc()
        if seconds is not None and seconds >= 0:
            self.event_to_inventory.observe(seconds)

    def scan_error(self, reason: str | None) -> None:
        self.scan_errors.labels(reason=self.reason_label(reason)).inc()

    def reconcile_done(self, trigger: str, *, at: float | None = None) -> None:
        self.reconcile_runs.labels(trigger=self.trigger_label(trigger)).inc()
        if at is None:
            self.last_reconcile.set_to_current_time()
        else:
            self.last_reconcile.set(at)

    def set_queue_depth(self, depth: int) -> None:
        self.queue_depth.set(depth)

    def track_queue_depth(self, depth: Callable[[], float]) -> None:
        """Read the depth at scrape time instead of pushing it."""
        self.queue_depth.set_function(depth)

    def worker_restarted(self, count: int = 1) -> None:
        self.worker_restarts.inc(count)

    def inventory_error(self) -> None:
        self.inventory_errors.inc()

    # --------------------------------------------------------------- serve
    def serve(self, addr: str = DEFAULT_ADDRESS) -> MetricsServer:
        return start_metrics_server(addr, registry=self.registry)


def _version() -> str:
    try:
        return metadata.version("scratchwarden")
    except metadata.PackageNotFoundError:
        return "unknown"
