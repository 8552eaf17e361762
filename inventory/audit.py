"""The append-only audit log: one hash chain per node; and ``EvidenceLog``, the
store's part that keeps what an auditor is shown besides the assets (the
chain, the journal of destructive actions, red-line drill results).

Each entry's ``hash`` is SHA-256 over the canonical JSON (sorted keys, no
spaces, UTF-8, no NaN) of ``{seq, time, node, kind, subject, payload,
policy_revision, prev_hash}``; ``prev_hash`` is the previous entry's hash (64
zeros for seq 1). ``verify`` recomputes the chain in seq order and reports the
first seq where it breaks:

* an edited entry: its hash no longer matches (or, if the editor recomputed
  it, the next entry's ``prev_hash`` no longer does);
* a deleted entry: a gap in seq;
* reordered entries: seq is inside the hash, so swapping rows breaks both.

A truncated tail is invisible to any chain: compare ``head`` to an
``AuditHead`` kept elsewhere (``expected_head``).

Concurrency: nodes of a fleet append to one PostgreSQL. A chain per node means
nodes never wait on each other; appends of one node (daemon and CLI, several
threads) are serialised by a transaction-scoped advisory lock keyed on the
node (PostgreSQL) or by ``BEGIN IMMEDIATE`` (SQLite, one writer at a time).
The unique (node, seq) constraint is the backstop if either is bypassed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from inventory.columns import as_utc
from inventory.engine import Database
from inventory.models import DRILL_OUTCOMES, AuditEntry, DrillResult, JournalEntry
from inventory.recording import storable_path
from inventory.views import AuditHead, DrillView, JournalView, VerifyResult
from scratchwarden.errors import InventoryError

GENESIS = "0" * 64
VERIFY_BATCH = 1000


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def normalise_payload(payload: Any) -> dict[str, Any]:
    """The payload as it will read back from the database (tuples become lists),
    so the hash computed now is the hash recomputed later.

    Raises:
        InventoryError: not a JSON object of plain values.
    """
    try:
        value = json.loads(canonical_json(payload))
    except (TypeError, ValueError) as e:
        raise InventoryError(f"audit payload: expected a JSON object of plain values, found "
                             f"an unserialisable {type(payload).__name__}") from e
    if not isinstance(value, dict):
        raise InventoryError(f"audit payload: expected a JSON object, found "
                             f"{type(value).__name__}")
    return value


def entry_hash(*, seq: int, time: datetime, node: str, kind: str, subject: str,
               payload: dict[str, Any], policy_revision: str | None, prev_hash: str) -> str:
    doc = {"seq": seq, "time": as_utc(time).isoformat(timespec="microseconds"), "node": node,
           "kind": kind, "subject": subject, "payload": payload,
           "policy_revision": policy_revision, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def node_lock_key(node: str) -> int:
    digest = hashlib.sha256(b"scratchwarden-audit\0" + node.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def append(session: Session, *, node: str, kind: str, subject: str, payload: Any,
           policy_revision: str | None, now: datetime) -> int:
    """Append one entry in the session's (write) transaction; returns its seq."""
    body = normalise_payload(payload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": node_lock_key(node)})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.node == node)
        .order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    when = as_utc(now)
    digest = entry_hash(seq=seq, time=when, node=node, kind=kind, subject=subject,
                        payload=body, policy_revision=policy_revision, prev_hash=prev)
    session.add(AuditEntry(node=node, seq=seq, time=when, kind=kind, subject=subject,
                           payload=body, policy_revision=policy_revision, prev_hash=prev,
                           hash=digest))
    session.flush()
    return seq


def verify(session: Session, node: str, expected_head: AuditHead | None = None) -> VerifyResult:
    """Walk the node's chain in seq order. ``expected_head``, a head recorded
    earlier outside the database, must still be in the chain (the chain may
    have grown since): this is what detects a truncated tail."""
    expected_seq, prev, count = 1, GENESIS, 0
    rows = session.scalars(select(AuditEntry).where(AuditEntry.node == node)
                           .order_by(AuditEntry.seq)
                           .execution_options(yield_per=VERIFY_BATCH))
    for row in rows:
        problem = _check(row, expected_seq, prev) or _check_anchor(row, expected_head)
        if problem is not None:
            return VerifyResult(node, False, count, _head(count, prev), expected_seq, problem)
        expected_seq, prev, count = row.seq + 1, row.hash, count + 1
    if expected_head is not None and count < expected_head.seq:
        return VerifyResult(node, False, count, _head(count, prev), count + 1,
                            f"expected the chain to reach seq {expected_head.seq} (a head "
                            f"recorded earlier), found it ends at seq {count} (tail removed)")
    return VerifyResult(node, True, count, _head(count, prev))


def _check_anchor(row: AuditEntry, expected_head: AuditHead | None) -> str | None:
    if expected_head is None or row.seq != expected_head.seq or row.hash == expected_head.hash:
        return None
    return (f"expected hash {expected_head.hash[:12]}... at seq {row.seq} (a head recorded "
            f"earlier), found {row.hash[:12]}... (chain rewritten)")


def _check(row: AuditEntry, expected_seq: int, prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected entry seq {expected_seq}, found seq {row.seq} (entry missing)"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous entry's hash (entry edited or reordered)"
    digest = entry_hash(seq=row.seq, time=row.time, node=row.node, kind=row.kind,
                        subject=row.subject, payload=row.payload,
                        policy_revision=row.policy_revision, prev_hash=row.prev_hash)
    if digest != row.hash:
        return "hash does not match the entry's content (entry edited)"
    return None


def _head(count: int, prev: str) -> AuditHead | None:
    return AuditHead(count, prev) if count else None


class EvidenceLog(Database):
    """What an auditor is shown besides the assets: the audit chain, the
    journal of destructive actions, the red-line drill results."""

    # -- audit chain ------------------------------------------------------------------

    def append_audit(self, node: str, kind: str, subject: str, payload: Mapping[str, Any],
                     policy_revision: str | None, *, now: datetime | None = None) -> int:
        """Append to the node's hash chain; returns the entry's seq.

        Raises:
            InventoryUnavailable: the database is down; nothing was appended.
            InventoryError: the payload is not a JSON object of plain values.
        """
        when = now if now is not None else datetime.now(UTC)
        with self._write() as s:
            return append(s, node=node, kind=kind, subject=subject, payload=payload,
                                policy_revision=policy_revision, now=when)

    def verify_audit(self, node: str, *,
                     expected_head: AuditHead | None = None) -> VerifyResult:
        with self._read() as s:
            return verify(s, node, expected_head)

    def audit_nodes(self) -> list[str]:
        with self._read() as s:
            return list(s.scalars(select(AuditEntry.node).distinct().order_by(AuditEntry.node)))

    # -- journal of destructive actions ------------------------------------------------

    def journal_intent(self, node: str, path: str, action: str, *, now: datetime,
                       details: Mapping[str, Any] | None = None) -> int:
        with self._write() as s:
            entry = JournalEntry(node=node, path=storable_path(path), action=action,
                                 state="intent", created=as_utc(now),
                                 details=dict(details) if details else None)
            s.add(entry)
            s.flush()
            return entry.id

    def journal_finish(self, entry_id: int, state: str, *, now: datetime) -> None:
        """Close journal entry ``entry_id`` as ``done`` or ``rolled_back``.

        Raises:
            InventoryError: another state, or no such entry.
            InventoryUnavailable: the database is down.
        """
        if state not in ("done", "rolled_back"):
            raise InventoryError(f"journal: expected state done or rolled_back, found {state!r}")
        with self._write() as s:
            entry = s.get(JournalEntry, entry_id)
            if entry is None:
                raise InventoryError(f"journal: expected entry {entry_id}, found none")
            entry.state, entry.finished = state, as_utc(now)

    def pending_intents(self, node: str) -> list[JournalView]:
        with self._read() as s:
            rows = s.scalars(select(JournalEntry).where(
                JournalEntry.node == node, JournalEntry.state == "intent")
                .order_by(JournalEntry.id))
            return [JournalView(r.id, r.node, r.path, r.action, r.state, r.created,
                                r.finished, r.details) for r in rows]

    # -- red-line drills --------------------------------------------------------------

    def record_drill(self, node: str, red_line: str, mechanism: str, outcome: str, *,
                     now: datetime, policy_revision: str | None = None,
                     details: Mapping[str, Any] | None = None) -> int:
        """Record one red line's drill result; returns its id.

        Raises:
            InventoryError: an unknown outcome.
            InventoryUnavailable: the database is down.
        """
        if outcome not in DRILL_OUTCOMES:
            raise InventoryError(f"drill outcome: expected one of {DRILL_OUTCOMES}, "
                                 f"found {outcome!r}")
        with self._write() as s:
            row = DrillResult(node=node, red_line=red_line, mechanism=mechanism,
                              outcome=outcome, time=as_utc(now),
                              policy_revision=policy_revision,
                              details=dict(details) if details else None)
            s.add(row)
            s.flush()
            return row.id

    def latest_drills(self, node: str) -> list[DrillView]:
        """The most recent drill of each red line of ``node``, by red line."""
        with self._read() as s:
            newest = select(DrillResult.red_line, func.max(DrillResult.id).label("id")) \
                .where(DrillResult.node == node).group_by(DrillResult.red_line).subquery()
            rows = s.scalars(select(DrillResult).join(newest, DrillResult.id == newest.c.id)
                             .order_by(DrillResult.red_line))
            return [DrillView(r.id, r.node, r.red_line, r.mechanism, r.outcome, r.time,
                              r.policy_revision, r.details) for r in rows]
