"""The daemon's policy runtime: the loaded policy (last good one kept), the
enforcer that applies its decisions, the fanotify guard for its red lines and
the drills that prove them.

Order at start matters: the journal is replayed before anything watches or
acts (a half-finished encryption must be settled before a tick looks at the
file), then the policy load is audited, then the guard starts, then a drill
proves the red lines."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.host.config import NodeConfig
from daemon.host.roots import WatchRoot
from scratchwarden.errors import KeyMaterialError, PolicyError, ScratchwardenError

log = logging.getLogger("scratchwarden.policy")


class PolicyRuntime:
    def __init__(self, config: NodeConfig, state_dir: Path, store: Any, node: str) -> None:
        self.config = config
        self.state_dir = state_dir
        self.store = store
        self.node = node
        self.loaded: Any = None          # policies.loader.LoadedPolicy
        self.enforcer: Any = None
        self.guard: Any = None
        self.recorder: Any = None
        self.keyring: Any = None
        self.last_drill: list[Any] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------- loading
    @property
    def enabled(self) -> bool:
        return self.config.policies is not None

    def load(self) -> Any:
        """Load the policy directory; raises PolicyErrors (file:line) on a bad one."""
        from policies.loader import load_policy

        assert self.config.policies is not None
        return load_policy(self.config.policies)

    def roots(self) -> list[WatchRoot]:
        if self.loaded is None:
            return []
        return [WatchRoot(r.path, name=r.name, owner=r.owner) for r in self.loaded.policy.roots]

    def owner_of(self, root_name: str) -> str | None:
        if self.loaded is None:
            return None
        root = self.loaded.policy.root(root_name)
        return root.owner if root is not None else None

    # --------------------------------------------------------------- start
    def start(self) -> None:
        from daemon.actions import Enforcer, replay
        from policies.schema import Mode

        self.loaded = self.load()
        self.keyring = self._load_keyring()
        report = replay(self.store, self.node, self.keyring, state_dir=self.state_dir)
        log.info("journal replayed", extra={"report": str(report)})
        self.enforcer = Enforcer(self.state_dir, keyring=self.keyring,
                                 force_mode=Mode.AUDIT if self.config.dry_run else None)
        self.enforcer.policy_loaded(self.store, self.node, self.loaded, datetime.now(UTC))
        self._start_guard()

    def _load_keyring(self) -> Any:
        from daemon.crypto import load_credential, load_keyring

        try:
            if self.config.keyring_credential:
                return load_credential(self.config.keyring_credential)
            path = self.config.keyring or self.state_dir / "keys"
            if Path(path).exists():
                return load_keyring(path)
        except KeyMaterialError:
            raise
        log.warning("no keyring: encryption actions wait until one is configured")
        return None

    def _red_lines(self) -> bool:
        return bool(self.loaded is not None and self.loaded.policy.red_lines)

    def _start_guard(self) -> None:
        if not (self.config.guard and self._red_lines()):
            return
        from daemon.redlines.guard.controller import RedLineGuard
        from daemon.redlines.record import AuditRecorder

        self.recorder = AuditRecorder(self.store, self.node, str(self.loaded.revision))
        try:
            self.guard = RedLineGuard().start(self.loaded.policy, on_block=self.recorder.block)
        except ScratchwardenError as e:
            log.error("red-line guard could not start; drills will report it",
                      extra={"error": str(e)})
            self.guard = None

    # -------------------------------------------------------------- reload
    def reload(self) -> bool:
        """Load the policy again; on any error keep the last good one."""
        try:
            new = self.load()
        except PolicyError as e:
            errors = getattr(e, "errors", [e])
            log.error("policy refused; the last good policy stays in force",
                      extra={"errors": [str(x) for x in errors][:20]})
            self._audit("policy-refused", {"errors": [str(x) for x in errors][:20]})
            return False
        with self._lock:
            self.loaded = new
            self.enforcer.policy_loaded(self.store, self.node, new, datetime.now(UTC))
            if self.guard is not None:
                self.guard.reload(new.policy)
                from daemon.redlines.record import AuditRecorder

                self.recorder = AuditRecorder(self.store, self.node, str(new.revision))
            elif self._red_lines():
                self._start_guard()
        log.info("policy loaded", extra={"revision": str(new.revision)})
        return True

    def _audit(self, kind: str, payload: dict[str, Any]) -> None:
        try:
            rev = str(self.loaded.revision) if self.loaded is not None else None
            self.store.append_audit(self.node, kind, str(self.config.policies), payload, rev)
        except ScratchwardenError as e:
            log.warning("audit append failed", extra={"error": str(e)})

    # ---------------------------------------------------------- periodic
    def tick(self) -> None:
        if self.enforcer is None:
            return
        with self._lock:
            report = self.enforcer.tick(self.store, self.loaded, self.node, datetime.now(UTC))
        log.info("enforcement tick", extra={"report": str(report)})

    def drill(self) -> list[Any]:
        if not self._red_lines():
            return []
        from daemon.redlines.drill import drill
        from daemon.redlines.record import AuditRecorder

        rec = self.recorder or AuditRecorder(self.store, self.node, str(self.loaded.revision))
        guard = self.guard
        results = drill(self.loaded.policy, guard_alive=guard.alive if guard else (lambda: False),
                        recorder=rec, homes=guard.homes if guard else None)
        self.last_drill = results
        bad = [r for r in results if str(r.status) != "ENFORCED"]
        log.log(logging.WARNING if bad else logging.INFO, "red-line drill",
                extra={"results": {r.red_line_id: str(r.status) for r in results}})
        return results

    def guard_alive(self) -> bool | None:
        return None if self.guard is None else bool(self.guard.alive())

    # ---------------------------------------------------------- watcher help
    def ignore_event(self, path: str) -> bool:
        from daemon.actions import not_scanned

        return not_scanned(path)

    def claims(self, path: str) -> bool:
        return self.enforcer is not None and bool(self.enforcer.claims(path))

    def stop(self) -> None:
        if self.guard is not None:
            self.guard.stop()
            self.guard = None
