"""The enforcer: applies policy decisions to the files the inventory knows.

``tick`` (called every few seconds by the daemon's scheduler) takes the next
``batch`` live assets (a cursor walks the inventory, wrapping around), builds
their facts, evaluates the pure policy, stores the rule and deadline, and for
a due action in enforce mode applies it (at most ``max_actions`` per tick),
journaled and crash-safe. In audit mode (per rule, per policy, or forced by
the node) the would-be action is written to the audit chain and no file is
touched.

Audit chain entries written here (stamped with the policy revision; payloads
carry no file content and no detected value):

* ``policy-load``  a policy became active (``policy_loaded``)
* ``decision``     an asset's rule/deadline/revision changed, or a due action
                   was withheld because the mode is audit (``would``)
* ``action``       an action finished (``done``/``failed``), or was skipped for
                   a reason not seen before for that asset (``in-use``...)
* ``session-end``  a session ended (directory gone, marker, idle, manual)
* ``replay``       an unfinished intent settled on start (``journal.replay``)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.actions import retention
from daemon.actions.context import ActionContext, Hook, Outcome, revision_text
from daemon.actions.encrypt import encrypt_file_in_root
from daemon.actions.facts import NOT_GOVERNED_STATUSES, asset_facts, modified_of, policy_path
from daemon.actions.preflight import Expected
from daemon.actions.quarantine import Quarantine, quarantine_file
from daemon.actions.sessions import (
    SessionEnd,
    SessionLog,
    SessionSpec,
    SessionTracker,
    observe_directory,
)
from daemon.crypto import Keyring
from inventory.store import Store
from inventory.views import AssetView
from policies.decision import Action, Decision
from policies.evaluate import RootMatch, evaluate, match_root
from policies.loader import LoadedPolicy
from policies.schema import Mode
from scratchwarden.errors import InventoryUnavailable, ScratchwardenError

log = logging.getLogger("scratchwarden.actions")

ACTING = (Action.ENCRYPT, Action.QUARANTINE, Action.DELETE)
CLAIM_SECONDS = 600.0


@dataclass
class TickReport:
    evaluated: int = 0
    decided: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    withheld: int = 0
    sessions_ended: int = 0
    pass_complete: bool = False


class Enforcer:
    """Holds what must survive between ticks: the cursor, the session
    tracker, and which (asset, action, reason) were already audited."""

    def __init__(self, state_dir: str | Path, *, keyring: Keyring | None = None,
                 hooks: Hook | None = None, batch: int = 500, max_actions: int = 20,
                 force_mode: Mode | None = None, quarantine: Quarantine | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.keyring = keyring
        self.hooks = hooks
        self.batch = batch
        self.max_actions = max_actions
        self.force_mode = force_mode
        self.quarantine = quarantine or Quarantine.in_state_dir(self.state_dir)
        self.sessions = SessionTracker()
        self.session_log = SessionLog(self.state_dir)
        self._specs: dict[str, SessionSpec | None] = {}
        self._cursor = 0
        self._passes = 0
        self._said: set[tuple[int, str, str]] = set()
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ daemon API

    def claims(self, path: str) -> bool:
        """True while ``path`` was just removed or renamed by an action: the
        watcher must not record that deletion itself (the enforcer already
        recorded it, with the rule and policy revision as the reason)."""
        now = time.monotonic()
        with self._lock:
            for p in [p for p, t in self._claims.items() if t < now]:
                del self._claims[p]
            return path in self._claims

    def _claim(self, *paths: str) -> None:
        with self._lock:
            for p in paths:
                self._claims[p] = time.monotonic() + CLAIM_SECONDS

    def policy_loaded(self, store: Store, node: str, policy: LoadedPolicy,
                      now: datetime) -> int:
        """Audit that ``policy`` is now in force; returns the entry's seq."""
        rev = policy.revision
        payload = {"directory": policy.directory, "files": list(policy.files),
                   "commit": rev.commit, "dirty": rev.dirty, "content_hash": rev.content_hash,
                   "mode": policy.policy.mode.value, "rules": len(policy.policy.rules),
                   "force_mode": self.force_mode.value if self.force_mode else None}
        return store.append_audit(node, "policy-load", policy.directory or "-", payload,
                                  revision_text(rev), now=now)

    def end_session(self, store: Store, node: str, directory: str, session: str | None,
                    now: datetime, why: str = "manual") -> SessionEnd:
        end = self.sessions.end_manually(directory, session, now)
        if self.session_log.record(end):
            store.append_audit(node, "session-end", directory,
                               {"session": session, "why": why,
                                "ended_at": end.ended_at.isoformat()}, None, now=now)
        return end

    def tick(self, store: Store, policy: LoadedPolicy, node: str, now: datetime) -> TickReport:
        report = TickReport()
        ctx = ActionContext(store, node, self.state_dir, self.keyring, self.hooks)
        rev = revision_text(policy.revision)
        assets = self._next_batch(store, node, report)
        for asset in assets:
            where = match_root(policy_path(asset), policy)
            if where is not None:
                self._specs.setdefault(where.directory, _spec(where))
                self.sessions.note_activity(where.directory, where.labels.get("session"),
                                            modified_of(asset))
        self._update_sessions(ctx, now, report)
        for asset in assets:
            try:
                self._one(ctx, asset, policy, rev, now, report)
            except InventoryUnavailable:
                raise  # the whole tick is retried by the scheduler
            except (ScratchwardenError, OSError) as e:
                report.failed["error"] += 1
                log.warning("enforcing one asset failed; continuing",
                            extra={"asset_id": asset.id, "error": str(e)})
        return report

    def _one(self, ctx: ActionContext, asset: AssetView, policy: LoadedPolicy, rev: str,
             now: datetime, report: TickReport) -> None:
        facts, m = asset_facts(asset, policy, self.sessions.ended_at)
        decision = evaluate(facts, policy, now)
        report.evaluated += 1
        self._store_decision(ctx, asset, decision, rev, now, report)
        if decision.is_due(now) and decision.action in ACTING and m is not None:
            self._act(ctx, asset, m, decision, rev, now, report)

    # ------------------------------------------------------------ internals

    def _next_batch(self, store: Store, node: str, report: TickReport) -> list[AssetView]:
        out: list[AssetView] = []
        for asset in store.iter_assets(node, include_deleted=False):
            if asset.id <= self._cursor or asset.status in NOT_GOVERNED_STATUSES:
                continue
            out.append(asset)
            if len(out) >= self.batch:
                self._cursor = asset.id
                return out
        self._cursor = 0
        self._passes += 1
        report.pass_complete = True
        return out

    def _update_sessions(self, ctx: ActionContext, now: datetime, report: TickReport) -> None:
        self.sessions.load(self.session_log.load_new())
        for directory, session in self.sessions.known_open().items():
            spec = self._specs.get(directory)
            obs = observe_directory(directory, session, spec)
            end = self.sessions.observe(obs, spec, now, idle_decidable=self._passes > 0)
            if end is not None and self.session_log.record(end):
                report.sessions_ended += 1
                ctx.audit("session-end", directory, {"session": session, "why": end.why,
                                                     "ended_at": end.ended_at.isoformat()},
                          None, now)

    def _store_decision(self, ctx: ActionContext, asset: AssetView, d: Decision, rev: str,
                        now: datetime, report: TickReport) -> None:
        if (asset.rule, asset.deadline, asset.policy_revision) == (d.rule, d.deadline, rev):
            return
        ctx.store.set_decision(ctx.node, asset.path, rule=d.rule, deadline=d.deadline,
                               policy_revision=rev, now=now)
        report.decided += 1
        ctx.audit("decision", asset.path, _decision_payload(asset, d), rev, now)

    def _act(self, ctx: ActionContext, asset: AssetView, m: RootMatch, d: Decision, rev: str,
             now: datetime, report: TickReport) -> None:
        mode = self.force_mode or d.mode
        if mode is Mode.AUDIT:
            if self._first_time(asset.id, d.action.value, f"would {rev}"):
                report.withheld += 1
                ctx.audit("decision", asset.path, {**_decision_payload(asset, d),
                                                   "would": d.action.value, "mode": "audit"},
                          rev, now)
            return
        if sum(report.applied.values()) + sum(report.failed.values()) >= self.max_actions:
            return
        self._claim(asset.path, asset.path + ".swenc")
        outcome = self._apply(ctx, asset, m, d, rev, now)
        self._report(ctx, asset, d, outcome, rev, now, report)

    def _apply(self, ctx: ActionContext, asset: AssetView, m: RootMatch, d: Decision,
               rev: str, now: datetime) -> Outcome:
        expected = Expected(asset.inode, asset.mtime_ns) \
            if asset.encryption_state == "plaintext" else Expected()
        if d.action is Action.ENCRYPT:
            return encrypt_file_in_root(ctx, m.directory, asset.path, expected, rule=d.rule,
                                        revision=rev, now=now)
        if d.action is Action.QUARANTINE:
            return quarantine_file(ctx, self.quarantine, m.directory, asset.path, expected,
                                   rule=d.rule, revision=rev, owner=m.root.owner, now=now)
        return retention.delete_file(ctx, m.directory, asset.path, expected, rule=d.rule,
                                     revision=rev, deadline=d.deadline, now=now)

    def _report(self, ctx: ActionContext, asset: AssetView, d: Decision, o: Outcome,
                rev: str, now: datetime, report: TickReport) -> None:
        payload: dict[str, Any] = {"action": o.action, "result": o.result, "reason": o.reason,
                                   "rule": d.rule, "asset_id": asset.id, **dict(o.details)}
        if o.new_path:
            payload["new_path"] = o.new_path
        if o.result == "skipped":
            report.skipped[o.reason] += 1
            log.info("action skipped", extra={"action": o.action, "reason": o.reason})
            if not self._first_time(asset.id, o.action, f"{o.reason} {rev}"):
                return
        elif o.result == "done":
            report.applied[o.action] += 1
        else:
            report.failed[o.action] += 1
            log.warning("action failed", extra={"action": o.action, "reason": o.reason})
        ctx.audit("action", asset.path, payload, rev, now)

    def _first_time(self, asset_id: int, action: str, reason: str) -> bool:
        key = (asset_id, action, reason)
        if key in self._said:
            return False
        if len(self._said) > 100_000:
            self._said.clear()
        self._said.add(key)
        return True


def _spec(m: RootMatch) -> SessionSpec | None:
    s = m.root.session
    return SessionSpec(s.end_marker, s.idle_end) if s is not None else None


def _decision_payload(asset: AssetView, d: Decision) -> dict[str, Any]:
    return {"asset_id": asset.id, "rule": d.rule, "mode": d.mode.value,
            "action": d.action.value, "due_at": d.due_at.isoformat() if d.due_at else None,
            "deadline": d.deadline.isoformat() if d.deadline else None,
            "classes": list(d.classes), "root": d.root}
