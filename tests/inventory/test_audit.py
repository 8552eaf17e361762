"""The audit hash chain detects edited, deleted, reordered and truncated
entries, per node, on SQLite and PostgreSQL; concurrent appends stay a chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from inventory.audit import entry_hash
from inventory.models import AuditEntry
from inventory.store import Store
from inventory.views import AuditHead
from scratchwarden.errors import AuditError, InventoryError

T0 = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)


def fill(store: Store, node: str = "n1", n: int = 5) -> None:
    for i in range(n):
        seq = store.append_audit(node, "action", f"/r/file{i}", {"i": i, "ok": True,
                                 "score": 0.5, "tags": ("a", "b")}, "rev-1",
                                 now=T0 + timedelta(seconds=i))
        assert seq == i + 1


def tamper(store: Store, stmt: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(stmt)  # type: ignore[call-overload]


def test_intact_chain_verifies(store: Store) -> None:
    fill(store)
    result = store.verify_audit("n1")
    assert result.ok and result.entries == 5 and result.head is not None
    assert result.head.seq == 5
    result.raise_for_failure()
    assert store.verify_audit("nobody").ok  # an empty chain is a valid chain


def test_edited_payload_is_found_at_its_seq(store: Store) -> None:
    fill(store)
    tamper(store, update(AuditEntry).where(AuditEntry.seq == 3).values(payload={"i": 99}))
    result = store.verify_audit("n1")
    assert not result.ok and result.first_bad_seq == 3 and result.entries == 2
    assert "edited" in (result.problem or "")
    with pytest.raises(AuditError, match="seq 3"):
        result.raise_for_failure()


def test_edit_with_recomputed_hash_breaks_the_next_link(store: Store) -> None:
    """A forger who rewrites an entry and its hash still breaks the next link."""
    fill(store)
    with store.engine.connect() as conn:
        row = conn.execute(select(AuditEntry).where(AuditEntry.seq == 2)).one()
    forged = {"i": 1, "ok": False}
    new_hash = entry_hash(seq=2, time=row.time, node="n1", kind=row.kind, subject=row.subject,
                          payload=forged, policy_revision=row.policy_revision,
                          prev_hash=row.prev_hash)
    tamper(store, update(AuditEntry).where(AuditEntry.seq == 2)
           .values(payload=forged, hash=new_hash))
    result = store.verify_audit("n1")
    assert not result.ok and result.first_bad_seq == 3
    assert "prev_hash" in (result.problem or "")


def test_edited_time_or_revision_is_found(store: Store) -> None:
    fill(store)
    tamper(store, update(AuditEntry).where(AuditEntry.seq == 4)
           .values(time=T0 + timedelta(days=1)))
    assert store.verify_audit("n1").first_bad_seq == 4


def test_deleted_entry_is_found(store: Store) -> None:
    fill(store)
    tamper(store, delete(AuditEntry).where(AuditEntry.seq == 2))
    result = store.verify_audit("n1")
    assert not result.ok and result.first_bad_seq == 2 and "missing" in (result.problem or "")


def test_reordered_entries_are_found(store: Store) -> None:
    fill(store)
    tamper(store, update(AuditEntry).where(AuditEntry.seq == 2).values(seq=-2))
    tamper(store, update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2))
    tamper(store, update(AuditEntry).where(AuditEntry.seq == -2).values(seq=3))
    result = store.verify_audit("n1")
    assert not result.ok and result.first_bad_seq == 2


def test_truncated_tail_needs_a_head_kept_elsewhere(store: Store) -> None:
    fill(store)
    head = store.verify_audit("n1").head
    assert head is not None
    store.append_audit("n1", "later", "x", {}, None, now=T0 + timedelta(hours=1))
    assert store.verify_audit("n1", expected_head=head).ok  # the chain may grow
    tamper(store, delete(AuditEntry).where(AuditEntry.seq >= 5))
    assert store.verify_audit("n1").ok  # invisible to the chain alone
    result = store.verify_audit("n1", expected_head=head)
    assert not result.ok and result.first_bad_seq == 5
    forged = AuditHead(3, "0" * 64)
    assert store.verify_audit("n1", expected_head=forged).first_bad_seq == 3


def test_each_node_has_its_own_chain(store: Store) -> None:
    fill(store, "n1", 3)
    fill(store, "n2", 2)
    assert store.audit_nodes() == ["n1", "n2"]
    tamper(store, update(AuditEntry).where(AuditEntry.node == "n2", AuditEntry.seq == 1)
           .values(kind="forged"))
    assert store.verify_audit("n1").ok
    assert store.verify_audit("n2").first_bad_seq == 1


def test_payload_must_be_json(store: Store) -> None:
    with pytest.raises(InventoryError, match="JSON object"):
        store.append_audit("n1", "k", "s", {"x": object()}, None)
    with pytest.raises(InventoryError, match="JSON object"):
        store.append_audit("n1", "k", "s", {"x": float("nan")}, None)


def test_concurrent_appends_from_several_stores_form_one_chain(db_url: str) -> None:
    """Several writers of one node (daemon threads, the CLI) never fork the chain."""
    stores = [Store.open(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def worker(s: Store, w: int) -> None:
        try:
            for i in range(15):
                s.append_audit("n1", "block", f"w{w}-{i}", {"w": w, "i": i}, "rev")
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s, w)) for w, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        result = stores[0].verify_audit("n1")
        assert result.ok and result.entries == 45
        with stores[0].engine.connect() as conn:
            subjects = set(conn.scalars(select(AuditEntry.subject)))
        assert len(subjects) == 45
    finally:
        for s in stores:
            s.close()
