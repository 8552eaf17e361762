"""Audit mode (policy-wide, or forced by the node): decisions are recorded in
the inventory and the audit chain, and no file changes."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.models import AuditEntry
from policies.schema import Mode
from tests.actions.helpers import NODE, T0, Env, tree_digest, write_policy


def seed(env: Env) -> None:
    for rel, ents in (("a.csv", ("US_SSN",)), ("k.pem", ("PRIVATE_KEY",)),
                      ("junk/x.bin", ()), ("mail.txt", ("EMAIL_ADDRESS",))):
        env.record(env.file(rel, mtime=T0 - timedelta(hours=3)), *ents)
    # the session directory's own mtime counts as activity: keep it in the
    # test's time line, not at today's date (past T0 + 30h it hid the idle end)
    ns = int((T0 - timedelta(hours=3)).timestamp() * 1e9)
    os.utime(env.session, ns=(ns, ns))


@pytest.mark.parametrize("how", ["policy", "node"])
def test_audit_mode_records_decisions_and_changes_no_file(env: Env, how: str) -> None:
    seed(env)
    policy = write_policy(env.tmp / "audit-policy", env.base, "audit") if how == "policy" \
        else env.policy
    enf = env.enforcer(force_mode=Mode.AUDIT if how == "node" else None)
    before = tree_digest(env.tmp / "srv")
    for hours in (2, 30):
        report = enf.tick(env.store, policy, NODE, T0 + timedelta(hours=hours))
        assert not report.applied and not report.skipped
    assert tree_digest(env.tmp / "srv") == before
    assert not (env.state / "quarantine").exists() or \
        not list((env.state / "quarantine").iterdir())

    rows = {a.path.rsplit("/", 1)[1]: a for a in env.store.iter_assets(NODE)}
    assert rows["a.csv"].rule == "restricted-data"
    assert rows["k.pem"].rule == "secrets"
    assert all(a.encryption_state == "plaintext" and a.deleted_at is None
               for a in rows.values())
    with Session(env.store.engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.node == NODE)))
    would = sorted((e.subject.rsplit("/", 1)[1], e.payload["would"]) for e in entries
                   if "would" in e.payload)
    # each withheld action is reported once; at +30h the restricted file is past
    # its 24h retention, and the session has been idle for 12h (mail.txt: 1h)
    assert would == [("a.csv", "delete"), ("a.csv", "encrypt"), ("k.pem", "quarantine"),
                     ("mail.txt", "delete"), ("x.bin", "delete")]
    assert any(e.kind == "session-end" for e in entries)
    decisions = [e for e in entries if e.kind == "decision"]
    assert {e.kind for e in entries} == {"decision", "session-end"}
    assert all(e.policy_revision and "sha256:" in e.policy_revision for e in decisions)
    assert env.store.pending_intents(NODE) == []
    assert env.store.verify_audit(NODE).ok


def test_rule_level_audit_mode_only_spares_that_rule(env: Env) -> None:
    text = (env.tmp / "policy" / "policy.yaml").read_text()
    text = text.replace("    quarantine: true\n", "    quarantine: true\n    mode: audit\n")
    (env.tmp / "policy" / "policy.yaml").write_text(text)
    from policies.loader import load_policy

    policy = load_policy(env.tmp / "policy")
    seed(env)
    report = env.enforcer().tick(env.store, policy, NODE, T0 + timedelta(hours=2))
    assert report.applied == {"encrypt": 1, "delete": 1}
    assert report.withheld == 1 and (env.session / "k.pem").exists()
