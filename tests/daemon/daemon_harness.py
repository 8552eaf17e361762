"""Runs the real daemon (``scratchwarden daemon``) in the foreground as a child
process, with a real sd_notify socket and a real SQLite inventory, and polls
that inventory the way an operator would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from daemon.host.roots import RootSet, WatchRoot
from daemon.node.contracts import Message
from inventory.store import Store
from inventory.views import AssetView

T = TypeVar("T")
NODE = "test-node"


class Notifications:
    """A real AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def pump(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                return
            self.messages.extend(data.decode().split("\n"))

    def wait_for(self, line: str, timeout: float = 60, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            for i, m in enumerate(self.messages[after:], start=after):
                if m == line or m.startswith(line):
                    return i
        raise AssertionError(f"no {line!r} from the daemon within {timeout}s; got "
                             f"{sorted(set(self.messages))[:20]}")

    def close(self) -> None:
        self.sock.close()


class DaemonProcess:
    def __init__(self, tmp: Path, roots: list[str], **config: Any) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.config_path = tmp / "scratchwarden.yaml"
        self.config: dict[str, Any] = {
            "version": 1, "node_id": NODE, "roots": roots, "workers": 1,
            "quiet_period": "1s", "reconcile_interval": "1h", "metrics_address": None,
            "patterns_only": True, **config}
        self.write_config()
        self.notify = Notifications(tmp / "notify.sock")
        self.log = open(tmp / "daemon.log", "wb")  # noqa: SIM115
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify.path), WATCHDOG_USEC="4000000",
                   PYTHONUNBUFFERED="1")
        env["WATCHDOG_PID"] = ""  # the child's pid is unknown here: omit (any pid)
        env.pop("WATCHDOG_PID")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--state-dir", str(self.state), "daemon",
             "--config", str(self.config_path)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.store: Store | None = None

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    def ready(self, timeout: float = 120) -> None:
        self.notify.wait_for("READY=1", timeout)
        self.store = Store.open(f"sqlite:///{self.state / 'inventory.db'}")

    def asset(self, path: Path) -> AssetView | None:
        assert self.store is not None
        return self.store.get_asset(NODE, str(path))

    def wait(self, what: Callable[[], T], timeout: float = 60, desc: str = "") -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            got = what()
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {desc}; log:\n"
                             + self.log_text()[-3000:])

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}; log:\n"
                                 + self.log_text()[-3000:])

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.tmp / "daemon.log").read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.store is not None:
            self.store.close()
            self.store = None
        self.notify.close()
        self.log.close()


@contextlib.contextmanager
def running_daemon(tmp: Path, roots: list[str], **config: Any) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp, roots, **config)
    try:
        d.ready()
        yield d
    finally:
        d.close()


def write_from_other_process(path: Path, text: str) -> None:
    """Agents are separate processes: write the way they do (open, write, close)."""
    subprocess.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"',
                    "sh", str(path), text], check=True, timeout=30)


class Posted:
    """Collects what a role posts for the recorder, and the reconciles it asks for."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.missed: list[str] = []

    def post(self, message: Message) -> None:
        self.messages.append(message)

    def events_missed(self, reason: str) -> None:
        self.missed.append(reason)


def one_root(tmp: Path) -> RootSet:
    """One root ``tmp/root/{session}`` with session ``s1`` made."""
    root = tmp / "root"
    (root / "s1").mkdir(parents=True, exist_ok=True)
    return RootSet([WatchRoot(str(root) + "/{session}")])
