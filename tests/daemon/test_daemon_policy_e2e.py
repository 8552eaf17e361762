"""End-to-end with the real daemon and a policy directory: encryption after
idle time, audit mode, policy hot reload (the last good policy stays)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.daemon_harness import NODE, running_daemon, write_from_other_process

pytestmark = pytest.mark.slow

SSN_TEXT = "Applicant SSN: 219-09-9999, card 4532015112830366.\n"
ROOTS = """\
version: 1
mode: {mode}
roots:
  - name: work
    path: {base}/{{session}}
    owner: platform@example.com
"""
RULES = """\
version: 1
classes:
  restricted: [US_SSN, CREDIT_CARD]
rules:
  - name: restricted-data
    match: {classes: [restricted]}
    encrypt: {after_idle: 2s}
  - name: everything-else
    retain: {for: 30d, from: first_seen}
"""


def _policy(tmp: Path, base: Path, mode: str) -> Path:
    pol = tmp / "policy"
    pol.mkdir()
    (pol / "roots.yaml").write_text(ROOTS.format(mode=mode, base=base))
    (pol / "rules.yaml").write_text(RULES)
    return pol


def _keyring(state: Path) -> None:
    from daemon.crypto import generate_keyring

    state.mkdir(mode=0o700, exist_ok=True)
    generate_keyring(state / "keys", directory=True)


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_restricted_file_is_encrypted_after_idle_and_decrypts_identically(
        tmp_path: Path) -> None:
    base = tmp_path / "agents"
    (base / "s1").mkdir(parents=True)
    pol = _policy(tmp_path, base, "enforce")
    _keyring(tmp_path / "state")
    f = base / "s1" / "applicant.txt"
    clean = base / "s1" / "readme.txt"
    with running_daemon(tmp_path, [], policies=str(pol), enforce_interval=1,
                        guard=False) as d:
        write_from_other_process(f, SSN_TEXT)
        write_from_other_process(clean, "nothing to see\n")
        enc = Path(str(f) + ".swenc")
        d.wait(lambda: enc.exists() and not f.exists(), timeout=120,
               desc="encryption after the idle time")
        a = d.wait(lambda: (x := d.asset(enc)) and x.encryption_state == "encrypted" and x,
                   desc="inventory shows the file encrypted")
        assert a.rule == "restricted-data" and a.kek_id and a.owner == "platform@example.com"
        assert clean.read_text() == "nothing to see\n"  # other rule: untouched
        assert SSN_TEXT.encode() not in enc.read_bytes()
        assert d.stop() == 0
    state = tmp_path / "state"
    inv = ["--inventory", f"sqlite:///{state / 'inventory.db'}", "--node", NODE]

    def sw(*args: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([sys.executable, "-m", "daemon", "--state-dir", str(state), *args],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p

    # rotation rewraps the header only; the old KEK can then be retired
    from daemon.crypto.format import BODY_OFFSET, HEADER_SIZE

    old_kek = a.kek_id
    before = enc.read_bytes()
    sw("keys", "rotate", "--root", str(base), *inv)
    after = enc.read_bytes()
    assert len(after) > BODY_OFFSET and after[BODY_OFFSET:] == before[BODY_OFFSET:]
    assert after[:HEADER_SIZE] == before[:HEADER_SIZE] and after != before  # a slot rewrapped
    sw("keys", "retire", old_kek, "--root", str(base), *inv)
    from daemon.crypto import load_keyring

    ring = load_keyring(state / "keys")
    assert old_kek not in ring.keys and ring.active_id != old_kek
    out = tmp_path / "restored.txt"
    sw("decrypt", str(enc), "--out", str(out), *inv)
    assert out.read_text() == SSN_TEXT


def test_audit_mode_records_decisions_and_changes_no_file(tmp_path: Path) -> None:
    base = tmp_path / "agents"
    (base / "s1").mkdir(parents=True)
    pol = _policy(tmp_path, base, "audit")
    _keyring(tmp_path / "state")
    f = base / "s1" / "applicant.txt"
    with running_daemon(tmp_path, [], policies=str(pol), enforce_interval=1,
                        guard=False) as d:
        write_from_other_process(f, SSN_TEXT)
        before = _tree_digest(base)
        d.wait(lambda: (x := d.asset(f)) and x.rule == "restricted-data", timeout=120,
               desc="decision recorded")
        assert d.store is not None
        d.wait(lambda: _audit_kinds(d) >= {"policy-load", "decision"}, desc="audit entries")
        import time
        time.sleep(4)  # well past after_idle: enforce mode would have encrypted by now
        assert _tree_digest(base) == before
        assert d.store.verify_audit(NODE).ok


def _audit_kinds(d: object) -> set[str]:
    from sqlalchemy import text

    store = d.store  # type: ignore[attr-defined]
    with store.engine.connect() as c:
        return {r[0] for r in c.execute(text("SELECT DISTINCT kind FROM audit_log"))}


def test_bad_policy_edit_is_refused_and_last_good_stays(tmp_path: Path) -> None:
    base = tmp_path / "agents"
    (base / "s1").mkdir(parents=True)
    pol = _policy(tmp_path, base, "audit")
    with running_daemon(tmp_path, [], policies=str(pol), enforce_interval=1,
                        guard=False) as d:
        (pol / "rules.yaml").write_text(RULES.replace("after_idle: 2s", "after_idle: soon"))
        d.wait(lambda: "policy refused" in d.log_text(), timeout=60, desc="refusal logged")
        assert "rules.yaml:7" in d.log_text()  # file:line of the bad duration
        f = base / "s1" / "applicant.txt"
        write_from_other_process(f, SSN_TEXT)
        d.wait(lambda: (x := d.asset(f)) and x.rule == "restricted-data", timeout=120,
               desc="the last good policy still decides")


RETAIN_RULES = """\
version: 1
rules:
  - name: short-lived
    retain: {for: 3s, from: first_seen}
"""


@pytest.mark.root
def test_retention_waits_for_open_files_and_never_follows_links(tmp_path: Path) -> None:
    """Deadline passed: a file held open by another process survives until it
    is closed; a symlink and a hardlink planted in the root never carry the
    delete to the canary outside it."""
    import os
    import time

    base = tmp_path / "agents"
    (base / "s1").mkdir(parents=True)
    pol = tmp_path / "policy"
    pol.mkdir()
    (pol / "roots.yaml").write_text(ROOTS.format(mode="enforce", base=base))
    (pol / "rules.yaml").write_text(RETAIN_RULES)
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary.txt"
    canary.write_text("keep me\n")
    held = base / "s1" / "held.txt"
    plain = base / "s1" / "plain.txt"
    with running_daemon(tmp_path, [], policies=str(pol), enforce_interval=1,
                        guard=False) as d:
        write_from_other_process(held, "in use\n")
        write_from_other_process(plain, "old\n")
        (base / "s1" / "link").symlink_to(canary)
        os.link(canary, base / "s1" / "hard")
        holder = subprocess.Popen(["sh", "-c", f'exec 3<"{held}"; exec sleep 300'])
        try:
            d.wait(lambda: not plain.exists(), timeout=120, desc="plain file deleted")
            time.sleep(3)  # several ticks past the deadline
            assert held.exists(), "deleted while another process held it open"
        finally:
            holder.kill()
            holder.wait(timeout=10)
        d.wait(lambda: not held.exists(), timeout=120, desc="deleted once closed")
        # the unlink is journaled first and recorded right after it: wait for the row
        a = d.wait(lambda: (x := d.asset(held)) and x.status == "deleted" and x,
                   timeout=60, desc="deletion recorded")
        assert a.deleted_reason
        time.sleep(2)
    assert canary.read_text() == "keep me\n"
    assert canary.stat().st_nlink >= 1
