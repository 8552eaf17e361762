"""A dependency-free sd_notify(3) client.

systemd starts the daemon with ``Type=notify`` and ``WatchdogSec=``: it waits
for ``READY=1`` before it calls the unit started, and kills and restarts the
service when ``WATCHDOG=1`` stops arriving. The protocol is one AF_UNIX
datagram of newline-separated ``KEY=VALUE`` lines sent to ``$NOTIFY_SOCKET``
(a path, or ``@name`` for the abstract namespace).

Outside systemd (tests, a developer's terminal) ``$NOTIFY_SOCKET`` is unset and
every call is a no-op. A failed send never raises into the caller: the daemon
must not die because its supervisor went away; the failure is logged once.
Status lines are ours (counts, queue depth), never file content.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger("scratchwarden.sdnotify")

#: ping the watchdog at this fraction of ``WATCHDOG_USEC`` (sd_watchdog_enabled(3))
WATCHDOG_FRACTION = 0.5


def socket_address(value: str | None) -> str | bytes | None:
    """``$NOTIFY_SOCKET`` as a ``socket.sendto`` address: a filesystem path is
    used as is; ``@name`` means the abstract namespace (a leading NUL byte)."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock:... and other forms are not ours to speak


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings, or ``None`` when the watchdog is
    off or meant for another process (``$WATCHDOG_PID`` differs from ``pid``)."""
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = env.get("WATCHDOG_PID", "")
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 1_000_000 * WATCHDOG_FRACTION


class Notifier:
    """Sends notifications to the service manager.

    ``notify("READY=1", "STATUS=...")`` sends one datagram. ``RELOADING=1``
    automatically carries ``MONOTONIC_USEC=`` (required by systemd >= 253 for
    ``Type=notify-reload``, ignored by older managers). ``WATCHDOG=1`` is rate
    limited to ``watchdog_interval`` so a caller may ping from a fast loop.
    """

    def __init__(self, address: str | bytes | None, *,
                 watchdog_interval: float | None = None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_interval
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed_logged = False
        self._last_ping = float("-inf")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 unset_environment: bool = False) -> Notifier:
        """Read ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``.
        With ``unset_environment`` they are removed from ``os.environ`` so that
        child processes (scan workers) do not notify in our name."""
        source = os.environ if env is None else env
        notifier = cls(socket_address(source.get("NOTIFY_SOCKET")),
                       watchdog_interval=watchdog_interval(source, os.getpid()))
        if unset_environment and env is None:
            for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                os.environ.pop(key, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram. True when sent (or nothing to do
        because a rate-limited ping was not due); False on no-op or failure."""
        if self.address is None or not lines:
            return False
        if lines == ("WATCHDOG=1",) and not self._ping_due():
            return True
        if "RELOADING=1" in lines and not any(x.startswith("MONOTONIC_USEC=") for x in lines):
            lines = (*lines, f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        return self._send("\n".join(_one_line(x) for x in lines).encode())

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *((f"STATUS={status}",) if status else ()))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    # ------------------------------------------------------------ internal
    def _ping_due(self) -> bool:
        if self.watchdog_interval is None:
            return True
        now = time.monotonic()
        if now - self._last_ping < self.watchdog_interval:
            return False
        self._last_ping = now
        return True

    def _send(self, payload: bytes) -> bool:
        assert self.address is not None
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX,
                                               socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # never block the caller: a stalled service manager (full
                # socket buffer) costs a dropped message, not a hung main loop
                self._sock.sendto(payload, socket.MSG_DONTWAIT, self.address)
                return True
            except OSError as e:
                if not self._failed_logged:
                    self._failed_logged = True
                    log.warning("sd_notify failed; the service manager may not see our state",
                                extra={"errno": e.errno, "error": e.strerror})
                return False


def _one_line(item: str) -> str:
    """A value with a newline would forge another KEY=VALUE line."""
    return item.replace("\n", " ").replace("\r", " ")
