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
from typing import Any

from daemon.host.config import NodeConfig
from daemon.platform.state_dir import default_inventory_url, prepare_state_dir
from scratchwarden.errors import ConfigError, PolicyError

log = logging.getLogger("scratchwarden.guard")


def run_guard_service(config: NodeConfig, notifier: Any) -> int:
    from daemon.redlines.guard.controller import RedLineGuard
    from daemon.redlines.record import AuditRecorder
    from inventory.store import Store
    from policies.loader import load_policy

    if config.policies is None:
        raise ConfigError("the guard needs `policies:` (the policy directory) in the config")
    state = prepare_state_dir(config.state_dir)
    store = Store.open(config.inventory or default_inventory_url(state))
    stop, reload = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    loaded = load_policy(config.policies)
    recorder = AuditRecorder(store, config.node_id, str(loaded.revision))
    guard = RedLineGuard().start(loaded.policy, on_block=lambda e: recorder.block(e))
    try:
        notifier.notify("READY=1", f"STATUS=guarding {len(loaded.policy.red_lines)} red lines")
        while not stop.wait(1.0):
            if reload.is_set():
                reload.clear()
                notifier.notify("RELOADING=1")
                try:
                    loaded = load_policy(config.policies)
                    guard.reload(loaded.policy)
                    recorder = AuditRecorder(store, config.node_id, str(loaded.revision))
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
        store.close()
