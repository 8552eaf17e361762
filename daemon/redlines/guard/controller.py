"""The daemon's red-line guard: the fanotify half of the red lines (deny read /
exec of protected paths for the agent identity), hosted in its own child
process (``daemon.redlines.guard.process``), with every block reported back.

Lifecycle for the daemon::

    guard = RedLineGuard(identity=for_daemon())
    guard.start(policy, on_block=recorder.block)   # raises if it cannot guard
    guard.reload(new_policy)                       # new guard up before the old goes
    guard.alive()                                  # False: protected paths are OPEN
    guard.stop()

A dead guard fails open (the kernel allows every open once the fanotify fd is
closed); ``alive()`` and the drill exist to notice.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from daemon.redlines.compile import GuardProtection, compile_guard
from daemon.redlines.guard.identity import AgentIdentity, for_daemon
from policies.schema import Policy
from scratchwarden.errors import GuardSetupError

log = logging.getLogger(__name__)

BlockSink = Callable[[dict[str, Any]], None]
READY_TIMEOUT_S = 30.0
HEARTBEAT_MAX_S = 5.0


def default_homes() -> tuple[str, ...]:
    """Homes ``~`` stands for in the guard: root's and every passwd home under
    /home that exists (agents run as service users or as root)."""
    import pwd

    homes = {"/root"}
    for entry in pwd.getpwall():
        if entry.pw_dir.startswith("/home/") and os.path.isdir(entry.pw_dir):
            homes.add(entry.pw_dir)
    return tuple(sorted(homes))


def guard_config(protections: Sequence[GuardProtection], identity: AgentIdentity) -> str:
    return json.dumps({
        "protections": [{"id": g.protection.red_line_id, "patterns": list(g.protection.patterns),
                         "actions": sorted(g.protection.actions)} for g in protections],
        "audit_ids": sorted({g.protection.red_line_id for g in protections if g.audit}),
        "identity": identity.to_dict(),
    })


@dataclass
class _Child:
    proc: subprocess.Popen[str]
    reader: threading.Thread
    last_beat: float
    beat_alive: bool = True
    ready: threading.Event = field(default_factory=threading.Event)
    marks: list[dict[str, Any]] | None = None


class RedLineGuard:
    """Run the fanotify guard for a policy's read/exec red lines."""

    def __init__(self, *, identity: AgentIdentity | None = None,
                 homes: Sequence[str] | None = None, python: str = sys.executable) -> None:
        self.identity = identity or for_daemon()
        self.homes = tuple(homes) if homes is not None else default_homes()
        self._python = python
        self._on_block: BlockSink | None = None
        self._child: _Child | None = None
        self._lock = threading.Lock()
        self.protections: tuple[GuardProtection, ...] = ()

    # -- lifecycle ------------------------------------------------------------
    def start(self, policy: Policy, on_block: BlockSink | None = None) -> RedLineGuard:
        """Guard ``policy``'s read/exec red lines. Returns at once when there
        are none; raises ``GuardSetupError`` / ``KernelFeatureError`` when the
        guard cannot start (the daemon decides whether that is fatal)."""
        self._on_block = on_block
        with self._lock:
            if self._child is not None:
                raise RuntimeError("red-line guard already started")
            self.protections = self._protections(policy)
            self._child = self._spawn(self.protections) if self.protections else None
        return self

    def reload(self, policy: Policy) -> None:
        """Switch to ``policy``: the new guard is answering before the old one
        stops, so protected paths are never unguarded in between."""
        protections = self._protections(policy)
        new = self._spawn(protections) if protections else None
        with self._lock:
            old, self._child, self.protections = self._child, new, protections
        if old is not None:
            self._terminate(old)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            self._terminate(child, timeout)

    def alive(self) -> bool:
        """True when nothing needs guarding, or the guard process runs and
        reported itself answering within the last few seconds."""
        child = self._child
        if not self.protections:
            return True
        if child is None or child.proc.poll() is not None:
            return False
        return child.beat_alive and time.monotonic() - child.last_beat < HEARTBEAT_MAX_S

    @property
    def pid(self) -> int | None:
        return self._child.proc.pid if self._child is not None else None

    @property
    def marks(self) -> list[dict[str, Any]]:
        return list(self._child.marks or []) if self._child is not None else []

    # -- internals ------------------------------------------------------------
    def _protections(self, policy: Policy) -> tuple[GuardProtection, ...]:
        return compile_guard(policy, self.homes)

    def _spawn(self, protections: Sequence[GuardProtection]) -> _Child:
        proc = subprocess.Popen([self._python, "-I", "-m", "daemon.redlines.guard.process"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                bufsize=1)
        assert proc.stdin is not None and proc.stdout is not None
        child = _Child(proc, threading.Thread(), time.monotonic())
        child.reader = threading.Thread(target=self._read, args=(child, proc.stdout),
                                        daemon=True, name="sw-redline-guard-reader")
        child.reader.start()
        try:
            proc.stdin.write(guard_config(protections, self.identity) + "\n")
            proc.stdin.flush()
        except OSError as e:
            self._terminate(child)
            raise GuardSetupError(f"red-line guard did not accept its config: {e}") from e
        if not child.ready.wait(READY_TIMEOUT_S) or proc.poll() is not None:
            self._terminate(child)
            raise GuardSetupError(
                f"red-line guard did not report ready within {READY_TIMEOUT_S:.0f} s "
                f"(exit code {proc.returncode}); is this root with fanotify permission events?")
        return child

    def _read(self, child: _Child, stream: IO[str]) -> None:
        for raw in stream:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            kind = msg.pop("event", None)
            if kind == "heartbeat":
                child.last_beat, child.beat_alive = time.monotonic(), bool(msg.get("alive"))
            elif kind == "ready":
                child.last_beat, child.marks = time.monotonic(), msg.get("marks")
                child.ready.set()
            elif kind in ("block", "audit") and self._on_block is not None:
                try:
                    self._on_block({"outcome": "blocked" if kind == "block" else "audited",
                                    **msg})
                except Exception:  # noqa: BLE001 - a broken sink must not stop reporting
                    log.exception("red-line guard: recording a block failed")

    @staticmethod
    def _terminate(child: _Child, timeout: float = 10.0) -> None:
        proc = child.proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        child.reader.join(timeout)
