"""``scratchwarden guard``: the fanotify red-line guard as its own service.

The guard needs CAP_SYS_ADMIN (fanotify_init); the scanner does not, so the
two run as separate units. This loop loads the policy, starts the guard
process, records every block in the audit chain, pings the systemd watchdog
only while the guard is alive (so systemd restarts a dead guard), reloads the
policy on SIGHUP and stops on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Protocol

from daemon.redlines.guard.controller import RedLineGuard
from daemon.redlines.record import AuditRecorder, AuditStore
from policies.loader import load_policy
from scratchwarden.errors import PolicyError

log = logging.getLogger("scratchwarden.guard")


class Notifier(Protocol):
    def notify(self, *lines: str) -> bool: ...


def run_guard_service(policy_dir: Path, node: str, store: AuditStore,
                      notifier: Notifier) -> int:
    """Guard until SIGTERM (0) or until the guard process dies (1, so systemd
    restarts the unit). The caller owns ``store``.

    Raises:
        PolicyError: the policy does not load at start.
        GuardSetupError, KernelFeatureError: fanotify cannot guard here.
    """
    stop, reload = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    loaded = load_policy(policy_dir)
    recorder = AuditRecorder(store, node, str(loaded.revision))
    guard = RedLineGuard().start(loaded.policy, on_block=lambda e: recorder.block(e))
    try:
        notifier.notify("READY=1", f"STATUS=guarding {len(loaded.policy.red_lines)} red lines")
        while not stop.wait(1.0):
            if reload.is_set():
                reload.clear()
                notifier.notify("RELOADING=1")
                try:
                    loaded = load_policy(policy_dir)
                    guard.reload(loaded.policy)
                    recorder = AuditRecorder(store, node, str(loaded.revision))
                except PolicyError as e:
                    log.error("policy refused; the last good policy stays in force",
                              extra={"error": str(e)})
                notifier.notify("READY=1")
            if guard.alive():
                notifier.notify("WATCHDOG=1")
            else:
                log.error("guard process is not alive; exiting so systemd restarts it")
                return 1
        return 0
    finally:
        notifier.notify("STOPPING=1")
        guard.stop()
