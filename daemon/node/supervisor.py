"""The node daemon: keeps the inventory true while agents write.

Threads, each with one job (none of them ever raises out of its loop)::

    watchdog observer ──events──► WorkQueue (bounded, coalescing)
                                     │ due paths
    dispatcher ──────────────────────┴─► worker processes (Scanner, recycled)
                                     │ observations
    recorder ◄───────────────────────┘   batches into the inventory (one writer)
    scheduler (APScheduler) ── reconcile walks: at start, periodically, on overflow
    main thread ── signals, sd_notify (READY/STATUS/WATCHDOG/RELOADING/STOPPING),
                   status file, watcher health

SIGHUP reloads the configuration; SIGTERM/SIGINT drains in-flight work and exits.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import signal
import threading
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.actions.ignore import is_ciphertext, is_transient, not_scanned
from daemon.host.config import NodeConfig, load_config
from daemon.host.roots import RootMatch, WatchRoot, match_any
from daemon.node.policy_runtime import PolicyRuntime
from daemon.node.warmup import warm_workers
from daemon.node.watch import ROOT_EVENTS, EventSink, Handler, OverflowDetector
from daemon.node.work_queue import Pending, WorkQueue
from daemon.platform.files import atomic_write
from daemon.platform.state_dir import default_inventory_url, prepare_state_dir
from daemon.scan.batching import BATCH_BYTES, BATCH_FILES
from daemon.scan.pipeline import non_regular_reason
from daemon.scan.walk import walk
from daemon.scan.workers import ScannerSpec, make_executor, submit_scan_batch
from inventory.store import Recording
from scratchwarden.errors import InventoryUnavailable, ScratchwardenError
from scratchwarden.observations import FileObservation, FileStatus

log = logging.getLogger("scratchwarden.daemon")

STATUS_FILE = "status.json"
TICK = 1.0


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
    recent: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=4096))
    cpu: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=8192))

    def cpu_used(self, now: float, window: float) -> float:
        """Worker seconds spent scanning in the last ``window`` seconds."""
        return sum(s for t, s in self.cpu if now - t <= window)

    def rate(self, now: float, window: float = 10.0) -> float:
        return sum(1 for t in self.recent if now - t <= window) / window


class Daemon(EventSink):
    def __init__(self, config: NodeConfig, *, config_path: Path | None = None,
                 notifier: Any = None, metrics: Any = None) -> None:
        self.config = config
        self.config_path = config_path
        self.state_dir = prepare_state_dir(config.state_dir)
        self.node = config.node_id
        self.notifier = notifier
        self.metrics = metrics
        self.roots = [WatchRoot(r) for r in config.roots]
        self.policy: PolicyRuntime | None = None
        self._policy_flag = threading.Event()
        self.queue = WorkQueue(config.limits.max_queue)
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=10_000)
        self.counters = Counters()
        self.stop_event = threading.Event()
        self.reload_flag = threading.Event()
        self.reconcile_flag = threading.Event()
        self.started_at = datetime.now(UTC)
        self._threads: list[threading.Thread] = []
        self._inflight: dict[Future[list[FileObservation]], list[Pending]] = {}
        self._inflight_lock = threading.Lock()
        self._slots = threading.Semaphore(self._max_inflight())
        self._executor: Executor | None = None
        self._observer: Any = None
        self._scheduler: Any = None
        self._overflow = OverflowDetector(self._on_overflow)
        self._known: dict[str, tuple[int, int, int]] = {}
        self._store: Any = None
        self._last_reconcile: str | None = None
        self._reconciling = threading.Lock()
        self.metrics_endpoint: str | None = None
        self._new_dirs: queue.Queue[str] = queue.Queue(maxsize=10_000)
        self._last_commit = 0.0

    # ---------------------------------------------------------------- setup
    def _max_inflight(self) -> int:
        """Tasks in flight: one running and one waiting per worker."""
        return 2 * self._worker_count()

    def _worker_count(self) -> int:
        return self.config.workers or (os.cpu_count() or 1)

    def _open_store(self) -> Any:
        from inventory.store import Store

        url = self.config.inventory or default_inventory_url(self.state_dir)
        return Store.open(url)

    def _start_executor(self, warm: bool = False) -> None:
        spec = ScannerSpec(state_dir=str(self.state_dir), use_ner=not self.config.patterns_only,
                           max_scan_seconds=self.config.limits.max_scan_seconds,
                           max_file_bytes=self.config.limits.max_file_bytes)
        self._executor = make_executor(spec, self._worker_count(), self.config.worker_max_files)
        if warm:
            warm_workers(self._executor, self._worker_count(), self.state_dir)

    def _start_observer(self) -> None:
        from watchdog.observers.inotify import InotifyObserver

        obs = InotifyObserver()
        handler = Handler(self)
        for base in self._bases():
            if os.path.isdir(base):
                obs.schedule(handler, base, recursive=True, event_filter=ROOT_EVENTS)
            else:
                log.warning("root base does not exist yet; reconcile will retry",
                            extra={"base": base})
        if self.config.policies is not None and os.path.isdir(self.config.policies):
            from daemon.node.watch import PolicyDirHandler

            obs.schedule(PolicyDirHandler(self._policy_flag.set), str(self.config.policies),
                         recursive=True)
        obs.start()
        self._observer = obs

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        sched = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        sched.add_job(self._periodic_reconcile, "interval", id="reconcile",
                      seconds=max(1.0, self.config.reconcile_interval))
        if self.policy is not None:
            sched.add_job(self._guarded_job(self.policy.tick), "interval", id="enforce",
                          seconds=max(1.0, self.config.enforce_interval))
            sched.add_job(self._guarded_job(self.policy.drill), "interval", id="drill",
                          seconds=max(60.0, self.config.drill_interval),
                          next_run_time=datetime.now(UTC))
        sched.start()
        self._scheduler = sched

    def _guarded_job(self, fn: Any) -> Any:
        def job() -> None:
            try:
                fn()
            except ScratchwardenError as e:
                log.warning("scheduled job failed", extra={"job": fn.__name__, "error": str(e)})
            except Exception:  # noqa: BLE001 - a job never kills the scheduler
                log.exception("scheduled job crashed", extra={"job": fn.__name__})
        job.__name__ = fn.__name__
        return job

    def _bases(self) -> list[str]:
        return sorted({r.base for r in self.roots})

    def _spawn(self, name: str, target: Any) -> None:
        t = threading.Thread(target=self._guarded(target), name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _guarded(self, fn: Any) -> Any:
        def run() -> None:
            while not self.stop_event.is_set():
                try:
                    fn()
                    return
                except Exception:  # noqa: BLE001 - a loop never dies; it logs and restarts
                    log.exception("loop crashed; restarting", extra={"loop": fn.__name__})
                    time.sleep(1)
        return run

    # ----------------------------------------------------------------- run
    def run(self) -> int:
        self._install_signals()
        self._store = self._open_store()
        if self.config.policies is not None:
            self.policy = PolicyRuntime(self.config, self.state_dir, self._store, self.node)
            self.policy.start()  # a bad policy at start: refuse to run (exit 2)
            self.roots = [WatchRoot(r) for r in self.config.roots] + self.policy.roots()
        if not self.roots:
            log.warning("no roots configured: nothing to watch")
        self._notify("STATUS=loading the detection model in the scan workers")
        self._start_executor(warm=True)
        self._overflow.install()
        if self.metrics is not None:
            self.metrics.track_queue_depth(lambda: float(len(self.queue)))
        try:
            self._start_observer()
            self._spawn("sw-dispatch", self._dispatch_loop)
            self._spawn("sw-record", self._record_loop)
            self._spawn("sw-newdir", self._new_dir_loop)
            self._start_scheduler()
            self._request_reconcile("start")
            self._notify("READY=1", f"STATUS={self._status_line()}")
            log.info("daemon ready", extra={"node": self.node, "roots": self.config.roots})
            self._main_loop()
            return 0
        finally:
            self._shutdown()

    def _main_loop(self) -> None:
        last_status = 0.0
        while not self.stop_event.wait(TICK / 4):
            if self.reload_flag.is_set():
                self.reload_flag.clear()
                self._reload()
            elif self._policy_flag.is_set():
                time.sleep(0.5)  # let an editor or a git checkout finish writing
                self._policy_flag.clear()
                self._reload_policy()
            if self.reconcile_flag.is_set():
                self.reconcile_flag.clear()
                self._spawn_reconcile()
            self._check_observer()
            self._notify("WATCHDOG=1")
            now = time.monotonic()
            if now - last_status >= TICK:
                last_status = now
                self._write_status()
                self._notify(f"STATUS={self._status_line()}")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_flag.set())

    def request_stop(self) -> None:
        self.stop_event.set()
        self.queue.close()

    # --------------------------------------------------------------- events
    def _match(self, path: str) -> RootMatch | None:
        return match_any(self.roots, path) if self.roots else None

    def file_changed(self, path: str, *, closed: bool, event_time: float) -> None:
        if not_scanned(path):
            return
        m = self._match(path)
        if m is None or path == m.root_dir:
            return
        due = event_time if closed else event_time + self.config.quiet_period
        if not self.queue.put(path, due, event_time, m.key):
            self._on_overflow("queue-full")

    def file_deleted(self, path: str) -> None:
        if self.policy is not None and self.policy.claims(path):
            return  # the enforcer removed it and recorded why
        if self._match(path):
            self.queue.discard(path)
            self._known.pop(path, None)
            self._post(("deleted", path))

    def file_moved(self, src: str, dest: str, event_time: float) -> None:
        if self.policy is not None and self.policy.claims(src):
            return
        if self._match(src):
            self.queue.discard(src)
            self._known.pop(src, None)
            self._post(("renamed", (src, dest)))
        self.file_changed(dest, closed=True, event_time=event_time)

    def dir_appeared(self, path: str) -> None:
        # Files created before inotify added the new directory's watch are
        # invisible to events: walk it (bounded: only this subtree).
        if any(path.startswith(b) for b in self._bases()):
            try:
                self._new_dirs.put_nowait(path)
            except queue.Full:
                self._on_overflow("new-dirs-full")

    def dir_deleted(self, path: str) -> None:
        self._post(("dir-deleted", path))

    def handler_error(self, error: BaseException) -> None:
        log.error("watch handler error", extra={"error_type": type(error).__name__})
        self._on_overflow("handler-error")

    def _new_dir_loop(self) -> None:
        """One thread walks new directories in turn (a burst of new directories
        costs a queue, not a thread each)."""
        while not self.stop_event.is_set():
            try:
                path = self._new_dirs.get(timeout=TICK)
            except queue.Empty:
                continue
            now = time.monotonic()
            for entry in walk(path):
                if self.stop_event.is_set():
                    return
                self.file_changed(entry.path, closed=True, event_time=now)

    def _on_overflow(self, reason: str) -> None:
        self.counters.overflows += 1
        log.warning("events may have been missed; reconciling", extra={"trigger": reason})
        self._request_reconcile(reason)

    def _post(self, item: tuple[str, Any]) -> None:
        try:
            self.results.put(item, timeout=5)
        except queue.Full:
            self._on_overflow("results-full")

    # ------------------------------------------------------------ dispatch
    def _dispatch_loop(self) -> None:
        """One task per free slot: the files due now, batched (``scanbatch``).
        A slot is a task, and there are two per worker: one running, one
        waiting in the pipe so a worker never idles between tasks, while
        everything else stays in the queue where it coalesces and batches."""
        while not self.stop_event.is_set():
            if self._over_budget():
                self.stop_event.wait(0.2)
                continue
            if not self._slots.acquire(timeout=TICK):
                continue
            batch = self._next_batch()
            if batch:
                self._submit(batch)
            else:
                self._slots.release()

    def _next_batch(self) -> list[Pending]:
        """Due files to scan in one task: waits up to a tick for the first,
        then takes only what is already due. A file that would overflow
        ``BATCH_BYTES`` goes back to lead the next batch."""
        batch: list[Pending] = []
        size = 0
        while len(batch) < BATCH_FILES and size < BATCH_BYTES:
            items = self.queue.take_due(time.monotonic(), 1, timeout=0 if batch else TICK)
            if not items:
                break
            item, st_size = items[0], self._admit(items[0])
            if st_size is None:
                continue
            if batch and size + st_size > BATCH_BYTES and self.queue.put_back(item):
                break
            batch.append(item)
            size += st_size
        return batch

    def _admit(self, item: Pending) -> int | None:
        """The size of a file to scan now; None when it is gone, unchanged, or
        big and outside the heavy window (it is queued again for later)."""
        try:
            st = os.lstat(item.path)
        except FileNotFoundError:
            return None
        if non_regular_reason(st.st_mode) is None and self._unchanged(item.path, st):
            self.counters.unchanged_skipped += 1
            return None
        if st.st_size >= self.config.heavy_bytes > 0 and not self._in_heavy_window():
            self.queue.put(item.path, time.monotonic() + 60, item.first_event, item.root)
            return None
        return st.st_size

    def _submit(self, batch: list[Pending]) -> None:
        assert self._executor is not None
        try:
            fut = submit_scan_batch(self._executor, [item.path for item in batch])
        except (BrokenProcessPool, RuntimeError):
            self._restart_workers()
            for item in batch:
                if not self.queue.put(item.path, time.monotonic() + 1, item.first_event,
                                      item.root):
                    self._on_overflow("queue-full")  # a reconcile finds it
            self._slots.release()
            return
        with self._inflight_lock:
            self._inflight[fut] = batch
        fut.add_done_callback(self._scan_done)

    def _scan_done(self, fut: Future[list[FileObservation]]) -> None:
        with self._inflight_lock:
            batch = self._inflight.pop(fut, None)
        self._slots.release()
        if batch is None:
            return
        for item, obs in zip(batch, self._observations(fut, batch), strict=True):
            self._post(("observed", (item, obs)))

    def _observations(self, fut: Future[list[FileObservation]],
                      batch: list[Pending]) -> list[FileObservation]:
        """One observation per file of the batch; a failed task makes every
        file of it unscannable with the reason (a reconcile retries them)."""
        try:
            found = fut.result()
            if len(found) == len(batch):
                return found
            reason = "worker-error:short-batch"
        except BrokenProcessPool:
            self.counters.worker_restarts += 1
            if self.metrics is not None:
                self.metrics.worker_restarted()
            self.reconcile_flag.set()
            reason = "worker-crashed"
        except Exception as e:  # noqa: BLE001
            reason = f"worker-error:{type(e).__name__}"
        return [FileObservation(item.path, FileStatus.UNSCANNABLE, reason=reason)
                for item in batch]

    BUDGET_WINDOW = 10.0

    def _over_budget(self) -> bool:
        """The CPU budget: workers may spend ``cpu_budget`` cores' worth of
        scan time per window; past it, dispatch pauses (the queue absorbs the
        burst, overflow mode and reconcile catch the rest)."""
        if self.config.limits.cpu_budget is None:
            return False
        budget = self.config.limits.cpu_budget * self.BUDGET_WINDOW
        return self.counters.cpu_used(time.monotonic(), self.BUDGET_WINDOW) > budget

    def _unchanged(self, path: str, st: os.stat_result) -> bool:
        known = self._known.get(path)
        return known is not None and known == (st.st_ino, st.st_size, st.st_mtime_ns) \
            and time.time_ns() - st.st_mtime_ns > 2_000_000_000  # racy mtime: rescan

    def _in_heavy_window(self) -> bool:
        if not self.config.heavy_windows:
            return True
        t = datetime.now().time()
        return any(w.contains(t) for w in self.config.heavy_windows)

    def _restart_workers(self) -> None:
        old = self._executor
        self.counters.worker_restarts += 1
        self._start_executor()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    # -------------------------------------------------------------- record
    RECORD_INTERVAL = 0.05  # seconds between the starts of two commits, at least
    RECORD_BATCH = 500      # observations per transaction at most

    def _record_loop(self) -> None:
        while True:
            stopping = self.stop_event.is_set()
            batch = self._gather()
            if batch:
                self._record(batch)
            elif stopping and self._drained():
                return

    def _gather(self) -> list[tuple[str, Any]]:
        """The next batch to record. A commit costs ~1.5 ms of CPU for one
        file and ~0.3 ms per file for twenty (SQLAlchemy and SQLite
        per-transaction work), so commits are spaced ``RECORD_INTERVAL``
        apart: a lone observation is recorded at once, a stream of them
        (200 files/s) goes in one transaction per interval."""
        try:
            batch = [self.results.get(timeout=TICK / 2)]
        except queue.Empty:
            return []
        until = self._last_commit + self.RECORD_INTERVAL
        while len(batch) < self.RECORD_BATCH:
            left = until - time.monotonic()
            try:
                batch.append(self.results.get(timeout=left) if left > 0
                             else self.results.get_nowait())
            except queue.Empty:
                break
        self._last_commit = time.monotonic()
        return batch

    def _drained(self) -> bool:
        with self._inflight_lock:
            return not self._inflight and self.results.empty()

    def _record(self, batch: list[tuple[str, Any]]) -> None:
        """Apply a batch in event order: runs of observations go in one
        transaction; a delete or rename is applied where it happened."""
        now = datetime.now(UTC)
        observed = [p for k, p in batch if k == "observed"]
        for attempt in range(5):
            try:
                run: list[tuple[Pending, FileObservation]] = []
                for kind, payload in batch:
                    if kind == "observed":
                        run.append(payload)
                        continue
                    self._record_observed(run, now)
                    run = []
                    self._record_other(kind, payload, now)
                self._record_observed(run, now)
                break
            except InventoryUnavailable:
                log.warning("inventory unavailable; retrying", extra={"attempt": attempt + 1})
                if self.metrics is not None:
                    self.metrics.inventory_error()
                if self.stop_event.wait(min(30, 2 ** attempt)):
                    break
        else:
            self._on_overflow("inventory-unavailable")
        done = time.monotonic()
        for item, obs in observed:
            self._account(item, obs, done)

    def _record_observed(self, observed: list[tuple[Pending, FileObservation]],
                         now: datetime) -> None:
        if not observed:
            return
        recs = []
        for item, obs in observed:
            m = self._match(obs.path)
            labels = m.labels if m else {}
            recs.append(Recording(obs, root=item.root, labels=labels,
                                  owner=m.root.owner if m else None,
                                  session=labels.get("session")))
        self._store.record_many(self.node, recs, now=now)

    def _record_other(self, kind: str, payload: Any, now: datetime) -> None:
        if kind == "deleted":
            self._store.mark_deleted(self.node, payload, now=now, reason="removed")
            self.counters.deleted += 1
        elif kind == "renamed":
            src, dest = payload
            self._store.mark_renamed(self.node, src, dest, now=now)
        elif kind == "dir-deleted":
            prefix = payload.rstrip("/") + "/"
            for path in list(self._known_all()):
                if path.startswith(prefix) and not os.path.lexists(path):
                    self._store.mark_deleted(self.node, path, now=now, reason="removed")
                    self._known.pop(path, None)
                    self.counters.deleted += 1

    def _account(self, item: Pending, obs: FileObservation, done: float) -> None:
        c = self.counters
        spent = obs.cpu_seconds if obs.cpu_seconds is not None else obs.scan_seconds
        if spent:
            c.cpu.append((done, spent))
        if obs.status is FileStatus.SCANNED:
            c.files_scanned += 1
            c.bytes_scanned += obs.size or 0
            c.recent.append(done)
            if obs.inode is not None and obs.size is not None and obs.mtime_ns is not None:
                self._known[obs.path] = (obs.inode, obs.size, obs.mtime_ns)
        elif obs.status is FileStatus.UNSCANNABLE:
            c.scan_errors += 1
        if self.metrics is not None:
            self.metrics.observe_scan(obs, done - item.first_event)

    # ----------------------------------------------------------- reconcile
    def _request_reconcile(self, trigger: str) -> None:
        self._reconcile_trigger = trigger
        self.reconcile_flag.set()

    def _periodic_reconcile(self) -> None:
        if self._in_heavy_window():
            self._reconcile("periodic")

    def _spawn_reconcile(self) -> None:
        trigger = getattr(self, "_reconcile_trigger", "request")
        threading.Thread(target=self._reconcile, args=(trigger,), daemon=True,
                         name="sw-reconcile").start()

    def _reconcile(self, trigger: str) -> None:
        """Walk every root; queue what is new or changed; mark what vanished."""
        if not self._reconciling.acquire(blocking=False):
            self.reconcile_flag.set()  # one is running: run again after it
            return
        try:
            self._reconcile_walk(trigger)
        except ScratchwardenError as e:
            log.warning("reconcile failed", extra={"error": str(e)})
        finally:
            self._reconciling.release()

    def _reconcile_walk(self, trigger: str) -> None:
        t0 = time.monotonic()
        known = self._known_all()
        retry = set(self._known_unscannable())
        seen: set[str] = set()
        queued = 0
        for base in self._bases():
            if self._observer is not None and os.path.isdir(base):
                self._ensure_watched(base)
            for entry in walk(base):
                if self.stop_event.is_set():
                    return
                if is_transient(entry.path):
                    continue
                m = self._match(entry.path)
                if m is None:
                    continue
                seen.add(entry.path)
                if is_ciphertext(entry.path):
                    continue  # the enforcer's own output: its row follows it
                st = entry.stat
                k = known.get(entry.path)
                if k is not None and entry.path not in retry and \
                        (k.inode, k.size, k.mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns):
                    self._known[entry.path] = (st.st_ino, st.st_size, st.st_mtime_ns)
                    continue
                now = time.monotonic()
                while not self.queue.put(entry.path, now, now, m.key):
                    if self.stop_event.wait(0.2):  # backpressure, not growth
                        return
                queued += 1
        vanished = [p for p in known if p not in seen and self._match(p)
                    and not os.path.lexists(p)]
        for p in vanished:
            self._post(("deleted", p))
        self.counters.reconciles += 1
        self._last_reconcile = datetime.now(UTC).isoformat()
        if self.metrics is not None:
            self.metrics.reconcile_done(trigger)
        log.info("reconcile done", extra={"trigger": trigger, "queued": queued,
                                          "vanished": len(vanished), "files": len(seen),
                                          "seconds": round(time.monotonic() - t0, 3)})

    def _known_all(self) -> dict[str, Any]:
        known: dict[str, Any] = {}
        for r in self.roots:
            known.update(self._store.known_files(self.node, r.name))
        return known

    def _known_unscannable(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.roots:
            out.update(self._store.known_unscannable(self.node, r.name))
        return out

    def _ensure_watched(self, base: str) -> None:
        watched = {w.path for w in getattr(self._observer, "_watches", {})} \
            if hasattr(self._observer, "_watches") else set()
        if base not in watched:
            with contextlib.suppress(OSError):
                self._observer.schedule(Handler(self), base, recursive=True,
                                        event_filter=ROOT_EVENTS)

    def _check_observer(self) -> None:
        obs = self._observer
        if obs is None or obs.is_alive():
            return
        log.error("watcher died; restarting it and reconciling")
        with contextlib.suppress(Exception):
            obs.stop()
        self._start_observer()
        self._request_reconcile("watch-error")

    # -------------------------------------------------------------- reload
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

    def _apply_roots(self) -> None:
        old_bases = self._bases()
        self.roots = [WatchRoot(r) for r in self.config.roots] + \
            (self.policy.roots() if self.policy is not None else [])
        if self._bases() != old_bases and self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._start_observer()
        self._request_reconcile("reload")

    # -------------------------------------------------------------- status
    def _status_line(self) -> str:
        c = self.counters
        return (f"queue {len(self.queue)}, {c.rate(time.monotonic()):.1f} files/s, "
                f"{c.files_scanned} scanned, {c.scan_errors} errors")

    def status(self) -> dict[str, Any]:
        c = self.counters
        with self._inflight_lock:
            inflight = sum(len(batch) for batch in self._inflight.values())
        return {
            "pid": os.getpid(), "node": self.node, "started_at": self.started_at.isoformat(),
            "roots": [r.pattern for r in self.roots], "queue_depth": len(self.queue),
            "inflight": inflight,
            "files_scanned": c.files_scanned, "bytes_scanned": c.bytes_scanned,
            "unchanged_skipped": c.unchanged_skipped, "scan_errors": c.scan_errors,
            "files_per_second": round(c.rate(time.monotonic()), 2), "overflows": c.overflows,
            "reconciles": c.reconciles, "last_reconcile": self._last_reconcile,
            "worker_restarts": c.worker_restarts, "deleted": c.deleted,
            "policy_revision": (str(self.policy.loaded.revision)
                                if self.policy is not None and self.policy.loaded else None),
            "guard_alive": self.policy.guard_alive() if self.policy is not None else None,
            "last_drill": ({r.red_line_id: str(r.status) for r in self.policy.last_drill}
                           if self.policy is not None else None),
            "metrics": self.metrics_endpoint,
            "updated_at": datetime.now(UTC).isoformat(),
        }

    def _write_status(self) -> None:
        with contextlib.suppress(OSError):
            atomic_write(self.state_dir / STATUS_FILE,
                         json.dumps(self.status(), indent=1).encode(), mode=0o600)

    def _notify(self, *lines: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(*lines)

    # ------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        self._notify("STOPPING=1")
        self.stop_event.set()
        self.queue.close()
        if self._observer is not None:
            with contextlib.suppress(Exception):
                self._observer.stop()
                self._observer.join(timeout=5)
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._inflight_lock:
                if not self._inflight:
                    break
            time.sleep(0.05)
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._overflow.uninstall()
        if self.policy is not None:
            self.policy.stop()
        self._write_status()
        if self._store is not None:
            self._store.close()
        log.info("daemon stopped")
