"""The policy / keys / decrypt / quarantine / session / audit commands via
click's CliRunner, on the shipped example policies, a real SQLite inventory,
real keys and real files."""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from daemon.actions import Enforcer
from daemon.cli.main import main
from daemon.crypto import encrypt_file, load_keyring
from inventory.store import Store
from policies.loader import load_policy
from scratchwarden.observations import FileObservation, FileStatus, Finding

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "policies" / "examples"
NODE = "node-cli"
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)



def sw(state: Path, *args: str, code: int | None = 0) -> Result:
    result = CliRunner().invoke(main, ["--state-dir", str(state), *args])
    if code is not None:
        assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def db(state: Path) -> str:
    return f"sqlite:///{state}/inventory.db"


def observe(store: Store, path: str, *entities: str, now: datetime = T0,
            mtime: datetime | None = None) -> None:
    findings = tuple(Finding(e, 0, 11, 0.9, "T") for e in entities)
    ns = int((mtime or now).timestamp() * 1e9)
    store.record_observation(NODE, "agents", FileObservation(
        path, FileStatus.SCANNED, size=100, inode=1, mtime_ns=ns, findings=findings), now=now)


# ---------------------------------------------------------------- policy

def test_policy_check_passes_on_the_examples(state: Path) -> None:
    out = sw(state, "policy", "check", str(EXAMPLES)).output
    assert "policy check: OK" in out and "rule(s)" in out


def test_policy_check_reports_file_and_line(state: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.yaml").write_text("version: 1\nrules:\n  - name: x\n    retian: {for: 1d}\n")
    result = sw(state, "policy", "check", str(bad), code=2)
    assert re.search(r"p\.yaml:4: .*retian", result.output), result.output


def test_policy_test_passes_on_the_examples(state: Path) -> None:
    out = sw(state, "policy", "test", str(EXAMPLES)).output
    assert re.search(r"policy test: \d+ passed, 0 failed", out)


def test_policy_test_fails_with_a_diff(state: Path, tmp_path: Path) -> None:
    d = tmp_path / "pol"
    d.mkdir()
    for f in EXAMPLES.glob("*.yaml"):
        (d / f.name).write_text(f.read_text())
    (d / "tests").mkdir()
    text = (EXAMPLES / "tests" / "rules_test.yaml").read_text()
    (d / "tests" / "rules_test.yaml").write_text(text.replace("due: in 5m", "due: in 7m", 1))
    out = sw(state, "policy", "test", str(d), code=1).output
    assert "FAIL" in out and "due" in out and "1 failed" in out


def test_policy_explain_prints_rule_reasons_and_deadline(state: Path) -> None:
    state.mkdir()
    path = "/srv/agents/acme/sessions/s-42/extract/customers.csv"
    with Store.open(db(state)) as store:
        observe(store, path, "US_SSN", mtime=T0 - timedelta(minutes=5))
    out = sw(state, "policy", "explain", path, "--policy", str(EXAMPLES), "--node", NODE,
             "--now", (T0 + timedelta(hours=2)).isoformat()).output
    assert "rule:      restricted-data" in out and "rules.yaml:" in out
    assert "US_SSN×1" in out and "owner ai-platform@example.com" in out
    assert "deadline:  2026-01-11T12:00:00+00:00 (in 22h)" in out
    assert "next:      encrypt" in out
    missing = sw(state, "policy", "explain", "/srv/agents/nope", "--policy", str(EXAMPLES),
                 "--node", NODE, code=1)
    assert "not in the inventory" in missing.output


# ---------------------------------------------------------------- keys + decrypt

def test_keys_generate_rotate_retire_and_decrypt(state: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    plain = root / "a.csv"
    plain.write_bytes(b"ssn 000-00-0000\n" * 100)
    sw(state, "keys", "generate")
    assert (state / "keys").stat().st_mode & 0o777 == 0o700
    old = load_keyring(state / "keys")
    enc = encrypt_file(plain, old)
    with Store.open(db(state)) as store:
        observe(store, str(enc))
        store.set_encryption_state(NODE, str(enc), "encrypted", now=T0, kek_id=old.active_id)

    active = sw(state, "keys", "retire", old.active_id, "--root", str(root), "--node", NODE,
                code=2)
    assert "active" in active.output
    out = sw(state, "keys", "rotate", "--root", str(root), "--node", NODE).output
    assert "1 rewrapped" in out
    new = load_keyring(state / "keys")
    assert new.active_id != old.active_id

    # a file still wrapped by the old KEK, known only to the inventory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.csv").write_bytes(b"x")
    missed = encrypt_file(elsewhere / "b.csv", old)
    with Store.open(db(state)) as store:
        observe(store, str(missed))
        store.set_encryption_state(NODE, str(missed), "encrypted", now=T0, kek_id=old.active_id)
    in_use = sw(state, "keys", "retire", old.active_id, "--node", NODE, code=2)
    assert "refusing" in in_use.output and old.active_id in load_keyring(state / "keys").keys
    sw(state, "keys", "rotate", "--node", NODE)  # rewraps the inventoried file too
    sw(state, "keys", "retire", old.active_id, "--root", str(root), "--node", NODE)
    assert old.active_id not in load_keyring(state / "keys").keys

    out_file = tmp_path / "copy.csv"
    sw(state, "decrypt", str(enc), "--out", str(out_file), "--node", NODE)
    assert out_file.read_bytes() == b"ssn 000-00-0000\n" * 100 and enc.exists()
    sw(state, "decrypt", str(enc), "--node", NODE)
    assert plain.read_bytes() == b"ssn 000-00-0000\n" * 100 and not enc.exists()
    with Store.open(db(state)) as store:
        row = store.get_asset(NODE, str(plain))
        assert row is not None and row.encryption_state == "plaintext"
        assert store.pending_intents(NODE) == []
        assert store.verify_audit(NODE).entries == 2  # two decrypt entries


# ---------------------------------------------------------------- quarantine + session

def _policy_for(tmp_path: Path) -> Path:
    d = tmp_path / "pol"
    d.mkdir()
    for f in EXAMPLES.glob("*.yaml"):
        (d / f.name).write_text(f.read_text().replace("/srv/agents", str(tmp_path / "agents")))
    return d


def test_quarantine_list_and_restore(state: Path, tmp_path: Path) -> None:
    pol = _policy_for(tmp_path)
    key = tmp_path / "agents" / "acme" / "sessions" / "s-7" / "id_rsa"
    key.parent.mkdir(parents=True)
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    state.mkdir(mode=0o700)
    now = datetime.now(UTC)
    with Store.open(db(state)) as store:
        st = key.stat()
        store.record_observation(NODE, "agents", FileObservation(
            str(key), FileStatus.SCANNED, size=st.st_size, inode=st.st_ino,
            mtime_ns=st.st_mtime_ns, findings=(Finding("PRIVATE_KEY", 0, 5, 1.0, "T"),)),
            now=now)
        report = Enforcer(state).tick(store, load_policy(pol), NODE, now)
        assert report.applied == {"quarantine": 1}
    assert not key.exists()
    out = sw(state, "quarantine", "list").output
    qid = out.split()[0]
    assert "rule secrets" in out and str(key) in out
    sw(state, "quarantine", "restore", qid, "--node", NODE)
    assert key.read_bytes() == b"-----BEGIN PRIVATE KEY-----\n"
    assert "quarantine is empty" in sw(state, "quarantine", "list").output


def test_session_end_by_label_and_by_path(state: Path, tmp_path: Path) -> None:
    pol = _policy_for(tmp_path)
    sdir = tmp_path / "agents" / "acme" / "sessions" / "s-9"
    state.mkdir(mode=0o700)
    with Store.open(db(state)) as store:
        store.record_observation(NODE, "agents", FileObservation(
            str(sdir / "t.json"), FileStatus.SCANNED, size=1, inode=1, mtime_ns=1),
            now=T0, session="s-9")
    out = sw(state, "session", "end", "s-9", "--policy", str(pol), "--node", NODE).output
    assert f"directory {sdir}" in out
    sw(state, "session", "end", "s-404", "--policy", str(pol), "--node", NODE, code=2)
    sw(state, "session", "end", str(tmp_path / "other"), "--node", NODE)
    assert len(list((state / "sessions").glob("*.json"))) == 2


# ---------------------------------------------------------------- audit verify

def test_audit_verify_passes_intact_and_fails_tampered(state: Path) -> None:
    state.mkdir()
    with Store.open(db(state)) as store:
        for i in range(4):
            store.append_audit(NODE, "decision", f"/r/f{i}", {"rule": "r"}, "rev", now=T0)
    out = sw(state, "audit", "verify").output
    assert f"node {NODE}: intact, 4 entries" in out
    con = sqlite3.connect(state / "inventory.db")
    with con:
        con.execute("UPDATE audit_log SET subject = '/r/other' WHERE seq = 3 AND node = ?",
                    (NODE,))
    con.close()
    bad = sw(state, "audit", "verify", "--node", NODE, code=1)
    assert "first bad seq 3" in bad.output
    os.chmod(state, 0o700)
