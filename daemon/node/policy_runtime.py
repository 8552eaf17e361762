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

from daemon.actions import Enforcer, replay
from daemon.crypto import Keyring, load_credential, load_keyring
from daemon.host.config import NodeConfig
from daemon.host.roots import WatchRoot
from daemon.redlines.drill import DrillResult, DrillStatus, drill
from daemon.redlines.guard.controller import RedLineGuard
from daemon.redlines.record import AuditRecorder
from inventory.store import Store
from policies.loader import LoadedPolicy, load_policy
from policies.schema import Mode
from scratchwarden.errors import PolicyError, ScratchwardenError

log = logging.getLogger("scratchwarden.policy")


class PolicyRuntime:
    def __init__(self, config: NodeConfig, state_dir: Path, store: Store, node: str) -> None:
        self.config = config
        self.state_dir = state_dir
        self.store = store
        self.node = node
        self.loaded: LoadedPolicy | None = None
        self.enforcer: Enforcer | None = None
        self.guard: RedLineGuard | None = None
        self.recorder: AuditRecorder | None = None
        self.keyring: Keyring | None = None
        self.last_drill: list[DrillResult] = []
        self._lock = threading.Lock()

    def load(self) -> LoadedPolicy:
        """Load the policy directory.

        Raises:
            PolicyErrors: the policy is invalid (every problem with file:line).
        """
        assert self.config.policies is not None
        return load_policy(self.config.policies)

    def roots(self) -> list[WatchRoot]:
        if self.loaded is None:
            return []
        return [WatchRoot(r.path, name=r.name, owner=r.owner) for r in self.loaded.policy.roots]

    # --------------------------------------------------------------- start
    def start(self) -> None:
        """Load, replay the journal, audit the load, start the guard.

        Raises:
            PolicyError: the policy does not load (the daemon refuses to run).
            KeyMaterialError: a configured keyring cannot be loaded.
        """
        self.loaded = loaded = self.load()
        self.keyring = self._load_keyring()
        report = replay(self.store, self.node, self.keyring, state_dir=self.state_dir)
        log.info("journal replayed", extra={"report": str(report)})
        self.enforcer = Enforcer(self.state_dir, keyring=self.keyring,
                                 force_mode=Mode.AUDIT if self.config.dry_run else None)
        self.enforcer.policy_loaded(self.store, self.node, loaded, datetime.now(UTC))
        self._start_guard(loaded)

    def _load_keyring(self) -> Keyring | None:
        if self.config.keyring_credential:
            return load_credential(self.config.keyring_credential)
        path = self.config.keyring or self.state_dir / "keys"
        if Path(path).exists():
            return load_keyring(path)
        log.warning("no keyring: encryption actions wait until one is configured")
        return None

    def _start_guard(self, loaded: LoadedPolicy) -> None:
        if not (self.config.guard and loaded.policy.red_lines):
            return
        self.recorder = AuditRecorder(self.store, self.node, str(loaded.revision))
        try:
            self.guard = RedLineGuard().start(loaded.policy, on_block=self.recorder.block)
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
            errors = [str(x) for x in getattr(e, "errors", [e])][:20]
            log.error("policy refused; the last good policy stays in force",
                      extra={"errors": errors})
            self._audit("policy-refused", {"errors": errors})
            return False
        with self._lock:
            self.loaded = new
            if self.enforcer is not None:
                self.enforcer.policy_loaded(self.store, self.node, new, datetime.now(UTC))
            if self.guard is not None:
                self.guard.reload(new.policy)
                self.recorder = AuditRecorder(self.store, self.node, str(new.revision))
            elif new.policy.red_lines:
                self._start_guard(new)
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
        """One enforcement pass (the scheduler's ``enforce`` job)."""
        if self.enforcer is None or self.loaded is None:
            return
        with self._lock:
            report = self.enforcer.tick(self.store, self.loaded, self.node, datetime.now(UTC))
        log.info("enforcement tick", extra={"report": str(report)})

    def drill(self) -> list[DrillResult]:
        """Prove every red line (the scheduler's ``drill`` job)."""
        loaded = self.loaded
        if loaded is None or not loaded.policy.red_lines:
            return []
        rec = self.recorder or AuditRecorder(self.store, self.node, str(loaded.revision))
        guard = self.guard
        results = drill(loaded.policy, guard_alive=guard.alive if guard else (lambda: False),
                        recorder=rec, homes=guard.homes if guard else None)
        self.last_drill = results
        bad = [r for r in results if r.status is not DrillStatus.ENFORCED]
        log.log(logging.WARNING if bad else logging.INFO, "red-line drill",
                extra={"results": {r.red_line_id: str(r.status) for r in results}})
        return results

    def guard_alive(self) -> bool | None:
        return None if self.guard is None else bool(self.guard.alive())

    def claims(self, path: str) -> bool:
        """Whether the enforcer is acting on ``path`` (see ``Enforcer.claims``)."""
        return self.enforcer is not None and self.enforcer.claims(path)

    def stop(self) -> None:
        if self.guard is not None:
            self.guard.stop()
            self.guard = None
