"""A file with restricted data is encrypted once idle and decrypts to the
identical bytes; the inventory row follows the ciphertext; the audit chain
records the decision and the action and verifies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from daemon.crypto import decrypt_file
from tests.actions.helpers import NODE, T0, Env

DATA = b"name,ssn\n" + b"customer,000-00-0000\n" * 5000


def test_restricted_file_is_encrypted_after_idle_and_decrypts_identically(env: Env,
                                                                         tmp_path: Path) -> None:
    f = env.file("extract/customers.csv", DATA, mtime=T0 - timedelta(minutes=5))
    env.record(f, "US_SSN")
    enf = env.enforcer()

    early = enf.tick(env.store, env.policy, NODE, T0)
    assert early.evaluated == 1 and not early.applied
    assert f.read_bytes() == DATA  # idle 5 min < 10 min: untouched
    row = env.store.get_asset(NODE, str(f))
    assert row is not None and row.rule == "restricted-data"
    assert row.deadline == T0 + timedelta(hours=24)

    late = enf.tick(env.store, env.policy, NODE, T0 + timedelta(minutes=6))
    assert late.applied == {"encrypt": 1}, late
    enc = f.with_name(f.name + ".swenc")
    assert not f.exists() and enc.exists()
    assert DATA not in enc.read_bytes()

    row = env.store.get_asset(NODE, str(enc))
    assert row is not None and row.deleted_at is None
    assert (row.encryption_state, row.kek_id) == ("encrypted", env.keyring.active_id)
    assert row.entity_counts == {"US_SSN": 1}  # same asset: findings followed

    out = tmp_path / "restored.csv"
    decrypt_file(enc, env.keyring, out)
    assert out.read_bytes() == DATA

    again = enf.tick(env.store, env.policy, NODE, T0 + timedelta(minutes=30))
    assert not again.applied and enc.exists()  # encrypted once, not twice

    assert env.store.pending_intents(NODE) == []
    verdict = env.store.verify_audit(NODE)
    assert verdict.ok and verdict.entries >= 2


def test_encrypted_file_is_deleted_at_its_retention_deadline(env: Env) -> None:
    f = env.file("a.csv", DATA, mtime=T0 - timedelta(hours=1))
    env.record(f, "US_SSN")
    enf = env.enforcer()
    assert enf.tick(env.store, env.policy, NODE, T0).applied == {"encrypt": 1}
    enc = f.with_name(f.name + ".swenc")
    report = enf.tick(env.store, env.policy, NODE, T0 + timedelta(hours=25))
    assert report.applied == {"delete": 1}, report
    assert not enc.exists() and not f.exists()
    row = env.store.get_asset(NODE, str(enc))
    assert row is not None and row.status == "deleted"
    assert row.deleted_reason is not None and "restricted-data" in row.deleted_reason
    assert "sha256:" in row.deleted_reason  # the policy revision is part of why


def test_policy_load_is_audited_with_its_revision(env: Env) -> None:
    enf = env.enforcer()
    seq = enf.policy_loaded(env.store, NODE, env.policy, T0)
    assert seq == 1
    verdict = env.store.verify_audit(NODE)
    assert verdict.ok and verdict.entries == 1


def test_watcher_is_told_which_removals_are_the_enforcers(env: Env) -> None:
    f = env.file("junk/old.bin", b"x")
    env.record(f)
    enf = env.enforcer()
    assert not enf.claims(str(f))
    enf.tick(env.store, env.policy, NODE, T0 + timedelta(hours=2))
    assert not f.exists() and enf.claims(str(f))


def test_no_keyring_means_encryption_waits(env: Env) -> None:
    f = env.file("a.csv", DATA, mtime=T0 - timedelta(hours=1))
    env.record(f, "US_SSN")
    report = env.enforcer(keyring=None).tick(env.store, env.policy, NODE, T0)
    assert report.skipped == {"no-keyring": 1} and f.read_bytes() == DATA
