"""The node daemon: keeps the inventory true while agents write.

The supervisor builds the roles, runs each in its thread, and owns what
belongs to the process as a whole: signals, reload, status and shutdown::

    watcher (watchdog) ──events──► intake ──► WorkQueue (bounded, coalescing)
                                     │            │ due paths
                                     │        dispatcher ──► scan worker processes
                                     │            │ Observed
                                     └─ Deleted/Renamed/DirDeleted ─► recorder ──► inventory
    reconciler ── walks: at start, periodically, whenever events were missed
    scheduler (APScheduler) ── periodic reconcile, enforcement ticks, drills
    supervisor (main thread) ── signals, sd_notify (READY/STATUS/WATCHDOG/
                                RELOADING/STOPPING), status file, watcher health

No role's loop ever raises out of its thread (a crashed loop is logged and
restarted). SIGHUP reloads the configuration and the policy (a bad one is
refused and the running one kept); SIGTERM/SIGINT drain in-flight work and
exit. Where to change what: how events become work, ``intake``; how work
reaches the workers, ``dispatcher``; how results are written, ``recorder``;
how lost events are found again, ``reconciler``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.host.config import NodeConfig, load_config
from daemon.host.roots import RootSet, WatchRoot
from daemon.node.contracts import Notifier
from daemon.node.dispatcher import Dispatcher, in_heavy_window
from daemon.node.intake import Intake
from daemon.node.metrics import Metrics
from daemon.node.reconciler import Reconciler, ReconcileRequests
from daemon.node.recorder import LocalInventory, Recorder
from daemon.node.status import Counters, write_status
from daemon.node.warmup import warm_workers
from daemon.node.watch import OverflowDetector, Watcher
from daemon.node.work_queue import KnownFiles, WorkQueue
from daemon.platform.state_dir import default_inventory_url, prepare_state_dir
from daemon.scan.workers import ScannerSpec, make_executor
from inventory.store import Store
from scratchwarden.errors import ScratchwardenError

if TYPE_CHECKING:
    from daemon.node.policy_runtime import PolicyRuntime

log = logging.getLogger("scratchwarden.daemon")

TICK = 1.0


class Daemon:
    def __init__(self, config: NodeConfig, *, config_path: Path | None = None,
                 notifier: Notifier | None = None, metrics: Metrics | None = None) -> None:
        """Open the inventory and build the roles; nothing runs until ``run``.

        Raises:
            InventoryError: the inventory cannot be opened (InventoryUnavailable
                when its database is down).
            UnsafePath: the state directory is a symlink or not a directory.
        """
        self.config = config
        self.config_path = config_path
        self.state_dir = prepare_state_dir(config.state_dir)
        self.node = config.node_id
        self.notifier = notifier
        self.metrics = metrics
        self.metrics_endpoint: str | None = None
        self.started_at = datetime.now(UTC)
        self.roots = RootSet([WatchRoot(r) for r in config.roots])
        self.policy: PolicyRuntime | None = None
        self.queue = WorkQueue(config.limits.max_queue)
        self.known = KnownFiles()
        self.counters = Counters()
        self.stop_event = threading.Event()
        self.reload_flag = threading.Event()
        self.policy_changed = threading.Event()
        self.requests = ReconcileRequests(self.counters)
        self.store = Store.open(config.inventory or default_inventory_url(self.state_dir))
        self._threads: list[threading.Thread] = []
        self._scheduler: Any = None  # apscheduler ships no type hints
        self._overflow = OverflowDetector(self.requests.events_missed)
        self._build_roles()

    def _build_roles(self) -> None:
        missed = self.requests.events_missed
        self.recorder = Recorder(writer=LocalInventory(self.store, self.node, self.roots),
                                 known=self.known, counters=self.counters, events_missed=missed,
                                 stop=self.stop_event, metrics=self.metrics)
        self.intake = Intake(roots=self.roots, queue=self.queue, known=self.known,
                             post=self.recorder.post, events_missed=missed,
                             quiet_period=lambda: self.config.quiet_period)
        self.dispatcher = Dispatcher(
            settings=lambda: self.config, queue=self.queue, known=self.known,
            post=self.recorder.post, events_missed=missed, reconcile=self.requests.request,
            counters=self.counters, start_workers=self._start_workers,
            workers=self._worker_count(), metrics=self.metrics)
        self.watcher = Watcher(self.intake, on_policy_change=self.policy_changed.set)
        self.reconciler = Reconciler(
            node=self.node, roots=self.roots, queue=self.queue, known=self.known,
            inventory=self.store, post=self.recorder.post, requests=self.requests,
            counters=self.counters, stop=self.stop_event, watcher=self.watcher,
            metrics=self.metrics)

    # ----------------------------------------------------------------- run
    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit status.

        Raises:
            PolicyError: the policy directory does not load at start (a bad
                policy at start is refused: the daemon does not run).
            KeyMaterialError: the configured keyring cannot be loaded.
        """
        self._install_signals()
        if self.config.policies is not None:
            # imported only when a policy is configured: the enforcer, the
            # guard and the drills are not loaded by a scan-only node
            from daemon.node.policy_runtime import PolicyRuntime

            self.policy = PolicyRuntime(self.config, self.state_dir, self.store, self.node)
            self.policy.start()
            self.intake.claims = self.policy
            self.roots.replace(self._configured_roots())
        if not self.roots:
            log.warning("no roots configured: nothing to watch")
        self._notify("STATUS=loading the detection model in the scan workers")
        self.dispatcher.executor = self._start_workers(warm=True)
        self._overflow.install()
        if self.metrics is not None:
            self.metrics.track_queue_depth(lambda: float(len(self.queue)))
        try:
            self.watcher.start(self.roots.bases(), self._policy_dir())
            self._spawn("sw-dispatch", lambda: self.dispatcher.run(self.stop_event))
            self._spawn("sw-record", lambda: self.recorder.run(
                busy=lambda: not self.dispatcher.idle()))
            self._spawn("sw-newdir", lambda: self.intake.walk_new_dirs(self.stop_event))
            self._start_scheduler()
            self.requests.request("start")
            self._notify("READY=1", f"STATUS={self._status_line()}")
            log.info("daemon ready", extra={"node": self.node, "roots": self.config.roots})
            self._main_loop()
            return 0
        finally:
            self._shutdown()

    def request_stop(self) -> None:
        self.stop_event.set()
        self.queue.close()

    def _main_loop(self) -> None:
        last_status = 0.0
        while not self.stop_event.wait(TICK / 4):
            if self.reload_flag.is_set():
                self.reload_flag.clear()
                self._reload()
            elif self.policy_changed.is_set():
                time.sleep(0.5)  # let an editor or a git checkout finish writing
                self.policy_changed.clear()
                self._reload_policy()
            trigger = self.requests.take()
            if trigger is not None:
                self.reconciler.spawn(trigger)
            self._check_watcher()
            self._notify("WATCHDOG=1")
            now = time.monotonic()
            if now - last_status >= TICK:
                last_status = now
                write_status(self.state_dir, self.status())
                self._notify(f"STATUS={self._status_line()}")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_flag.set())

    # ----------------------------------------------------------- workers
    def _worker_count(self) -> int:
        return self.config.workers or (os.cpu_count() or 1)

    def _start_workers(self, warm: bool = False) -> Executor:
        spec = ScannerSpec(state_dir=str(self.state_dir), use_ner=not self.config.patterns_only,
                           max_scan_seconds=self.config.limits.max_scan_seconds,
                           max_file_bytes=self.config.limits.max_file_bytes)
        executor = make_executor(spec, self._worker_count(), self.config.worker_max_files)
        if warm:
            warm_workers(executor, self._worker_count(), self.state_dir)
        return executor

    # ----------------------------------------------------------- threads
    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=self._restarting(name, target), name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _restarting(self, name: str, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self.stop_event.is_set():
                try:
                    fn()
                    return
                except Exception:  # noqa: BLE001 - a loop never dies; it logs and restarts
                    log.exception("loop crashed; restarting", extra={"loop": name})
                    time.sleep(1)
        return run

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        sched = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        sched.add_job(self._periodic_reconcile, "interval", id="reconcile",
                      seconds=max(1.0, self.config.reconcile_interval))
        if self.policy is not None:
            sched.add_job(_logged("enforce", self.policy.tick), "interval", id="enforce",
                          seconds=max(1.0, self.config.enforce_interval))
            sched.add_job(_logged("drill", self.policy.drill), "interval", id="drill",
                          seconds=max(60.0, self.config.drill_interval),
                          next_run_time=datetime.now(UTC))
        sched.start()
        self._scheduler = sched

    def _periodic_reconcile(self) -> None:
        if in_heavy_window(self.config.heavy_windows, datetime.now().time()):
            self.reconciler.reconcile("periodic")

    def _check_watcher(self) -> None:
        if self.watcher.alive():
            return
        log.error("watcher died; restarting it and reconciling")
        self.watcher.restart(self.roots.bases(), self._policy_dir())
        self.requests.request("watch-error")

    # ------------------------------------------------------------ reload
    def _reload(self) -> None:
        self._notify("RELOADING=1")
        try:
            new = load_config(self.config_path) if self.config_path else self.config
        except ScratchwardenError as e:
            log.error("reload refused; keeping the running configuration",
                      extra={"error": str(e)})
            self._notify("READY=1")
            return
        self.config = new
        if self.policy is not None:
            self.policy.config = new
            self.policy.reload()
        self._apply_roots()
        log.info("configuration reloaded", extra={"roots": new.roots})
        self._notify("READY=1")

    def _reload_policy(self) -> None:
        if self.policy is None:
            return
        self._notify("RELOADING=1")
        if self.policy.reload():
            self._apply_roots()
        self._notify("READY=1")

    def _configured_roots(self) -> list[WatchRoot]:
        return [WatchRoot(r) for r in self.config.roots] + \
            (self.policy.roots() if self.policy is not None else [])

    def _apply_roots(self) -> None:
        old_bases = self.roots.bases()
        self.roots.replace(self._configured_roots())
        if self.roots.bases() != old_bases:
            self.watcher.restart(self.roots.bases(), self._policy_dir())
        self.requests.request("reload")

    def _policy_dir(self) -> str | None:
        return str(self.config.policies) if self.config.policies is not None else None

    # ------------------------------------------------------------ status
    def _status_line(self) -> str:
        return self.counters.line(len(self.queue), time.monotonic())

    def status(self) -> dict[str, Any]:
        p = self.policy
        return {
            "pid": os.getpid(), "node": self.node, "started_at": self.started_at.isoformat(),
            "roots": [r.pattern for r in self.roots], "queue_depth": len(self.queue),
            "inflight": self.dispatcher.inflight(),
            **self.counters.document(time.monotonic()),
            "policy_revision": str(p.loaded.revision) if p is not None and p.loaded else None,
            "guard_alive": p.guard_alive() if p is not None else None,
            "last_drill": ({r.red_line_id: str(r.status) for r in p.last_drill}
                           if p is not None else None),
            "metrics": self.metrics_endpoint,
            "updated_at": datetime.now(UTC).isoformat(),
        }

    def _notify(self, *lines: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(*lines)

    # ---------------------------------------------------------- shutdown
    def _shutdown(self) -> None:
        self._notify("STOPPING=1")
        self.request_stop()
        self.watcher.stop()
        if self._scheduler is not None:
            try:
                self._scheduler.shutdown(wait=False)
            except Exception:  # noqa: BLE001 - stopping goes on whatever the scheduler does
                log.exception("scheduler shutdown failed")
        deadline = time.monotonic() + 30
        self.dispatcher.wait_idle(deadline)
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        self.dispatcher.shutdown()
        self._overflow.uninstall()
        if self.policy is not None:
            self.policy.stop()
        write_status(self.state_dir, self.status())
        self.store.close()
        log.info("daemon stopped")


def _logged(name: str, fn: Callable[[], object]) -> Callable[[], None]:
    """A scheduled job that never kills the scheduler: failures are logged."""
    def job() -> None:
        try:
            fn()
        except ScratchwardenError as e:
            log.warning("scheduled job failed", extra={"job": name, "error": str(e)})
        except Exception:  # noqa: BLE001 - a job never kills the scheduler
            log.exception("scheduled job crashed", extra={"job": name})
    job.__name__ = name
    return job
