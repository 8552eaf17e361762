"""Red lines on the real kernel (root): ``scratchwarden run`` confines writes,
TCP and exec; the guard denies the agent identity a credential while root and
the daemon read it; every block lands in the audit chain; drills report
ENFORCED, and NOT ENFORCED once the guard is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.redlines.confine import landlock as ll
from daemon.redlines.drill import DrillStatus, drill
from daemon.redlines.guard.controller import RedLineGuard
from daemon.redlines.guard.identity import AgentIdentity
from daemon.redlines.record import AuditRecorder
from inventory.models import AuditEntry
from inventory.store import Store
from policies.loader import load_policy

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or ll.abi_version() < 4,
                       reason="needs root and Landlock ABI >= 4"),
]

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
RUN = [sys.executable, "-m", "daemon", "run"]
PROBE = [sys.executable, "-I", "-m", "daemon.redlines.probe"]


@pytest.fixture
def world() -> Iterator[Path]:
    """A world-readable scratch dir outside /tmp (pytest's tmp_path is 0700
    and beneath /tmp, which the policy below leaves writable)."""
    d = Path(tempfile.mkdtemp(prefix="sw-redlines-", dir="/var/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def setup(world: Path, tmp_path: Path) -> dict[str, Any]:
    session, outside = world / "session", world / "outside"
    creds, tools = world / "creds", world / "tools"
    for d in (session, outside, creds, tools):
        d.mkdir()
        d.chmod(0o755)
    for d in (session, outside):
        for name in ("victim", "trunc", "doomed", "movable"):
            (d / name).write_text("canary\n")
    (creds / "credentials").write_text("[default]\nkey = CANARY\n")
    (creds / "credentials").chmod(0o644)
    shutil.copy("/bin/true", tools / "wipe")
    pol = tmp_path / "policy"
    pol.mkdir()
    (pol / "red.yaml").write_text(f"""version: 1
mode: enforce
red_lines:
  - id: scratch-only
    reason: only the session dir
    deny: [remove, rename, truncate, write]
    outside: ["{{session_dir}}", /tmp/**]
  - id: no-creds
    reason: credentials
    deny: [read]
    paths: ["{creds}/**", "**/.env"]
  - id: no-db
    reason: no databases
    deny: [connect]
    ports: [5432, 3306]
  - id: no-wipe
    reason: no wiping
    deny: [exec]
    paths: ["{tools}/wipe"]
""")
    return {"session": session, "outside": outside, "creds": creds, "tools": tools,
            "policy": pol, "db": f"sqlite:///{tmp_path / 'inv.db'}"}


def run_under(s: dict[str, Any], *argv: str, stdin: str | None = None,
              inventory: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [*RUN, "--policy", str(s["policy"]), "--session-dir", str(s["session"])]
    if inventory:
        cmd += ["--inventory", s["db"], "--node", "n1"]
    return subprocess.run([*cmd, "--", *argv], input=stdin, capture_output=True, text=True,
                          timeout=60)


def probe(s: dict[str, Any], attempts: list[dict[str, Any]]) -> list[str]:
    done = run_under(s, *PROBE, stdin=json.dumps(attempts))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return [out[str(i)] for i in range(len(attempts))]


def audit_rows(url: str, kind: str | None = None) -> list[AuditEntry]:
    with Store.open(url) as store, Session(store.engine) as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    return [r for r in rows if kind is None or r.kind == kind]


def test_writes_outside_the_session_dir_fail_inside_succeed(setup: dict[str, Any]) -> None:
    results = {}
    for where in ("outside", "session"):
        d = setup[where]
        attempts = [{"op": "remove", "path": f"{d}/doomed"},
                    {"op": "rename", "path": f"{d}/movable", "to": f"{d}/moved"},
                    {"op": "truncate", "path": f"{d}/trunc"},
                    {"op": "write", "path": f"{d}/victim"},
                    {"op": "create", "path": f"{d}/new"}]
        results[where] = probe(setup, attempts)
    assert all(r in ("EACCES", "EPERM") for r in results["outside"]), results
    assert results["session"] == ["ok"] * 5
    assert (setup["outside"] / "victim").read_text() == "canary\n"
    assert (setup["outside"] / "doomed").exists() and (setup["session"] / "moved").exists()


def test_exit_code_passes_through_and_launch_is_recorded(setup: dict[str, Any]) -> None:
    done = run_under(setup, "sh", "-c", "exit 7", inventory=True)
    assert done.returncode == 7, done.stderr
    [launch] = audit_rows(setup["db"], "redline-launch")
    assert launch.payload["program"] == "sh"
    assert {x["id"]: x["status"] for x in launch.payload["red_lines"]}["no-db"] == "enforced"
    assert "write-confined" in launch.payload["landlock_enforced"]


def test_denied_port_fails_allowed_port_works(setup: dict[str, Any]) -> None:
    listeners = []
    ports = []
    for port in (3306, 0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:  # a real service listens there: connecting is harmless
            s.close()
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            ports.append(port)
            continue
        s.listen(4)
        listeners.append(s)
        ports.append(s.getsockname()[1])
    try:
        got = probe(setup, [{"op": "connect", "port": p} for p in ports])
    finally:
        for s in listeners:
            s.close()
    assert got == ["EACCES", "ok"]


def test_denied_exec_fails_under_run(setup: dict[str, Any]) -> None:
    got = probe(setup, [{"op": "exec", "path": f"{setup['tools']}/wipe"},
                        {"op": "exec", "path": "/bin/true"}])
    assert got[0] in ("EACCES", "EPERM") and got[1] == "ok"


@pytest.fixture
def guard(setup: dict[str, Any]) -> Iterator[tuple[RedLineGuard, Store]]:
    store = Store.open(setup["db"])
    policy = load_policy(setup["policy"])
    recorder = AuditRecorder(store, "n1", str(policy.revision))
    g = RedLineGuard(identity=AgentIdentity(trusted_pids=frozenset({os.getpid()})),
                     homes=("/root",))
    g.start(policy.policy, recorder.block)
    yield g, store
    g.stop()
    store.close()


def wait_for(pred: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_guard_denies_agent_identity_allows_root_and_daemon(
        setup: dict[str, Any], guard: tuple[RedLineGuard, Store]) -> None:
    cred = setup["creds"] / "credentials"
    nobody = subprocess.run([*NOBODY, "cat", str(cred)], capture_output=True, timeout=20)
    assert nobody.returncode != 0 and b"Operation not permitted" in nobody.stderr
    sandboxed_root = probe(setup, [{"op": "read", "path": str(cred)}])
    assert sandboxed_root == ["EPERM"]
    root = subprocess.run(["cat", str(cred)], capture_output=True, timeout=20)
    assert root.returncode == 0 and b"CANARY" in root.stdout
    assert cred.read_text().startswith("[default]")  # the daemon's own open
    nobody_exec = subprocess.run([*NOBODY, str(setup["tools"] / "wipe")], capture_output=True,
                                 timeout=20)
    assert nobody_exec.returncode != 0

    def blocks() -> list[AuditEntry]:
        return audit_rows(setup["db"], "redline-block")

    assert wait_for(lambda: len(blocks()) >= 3)
    rows = blocks()
    by_uid = {r.payload.get("uid"): r for r in rows if r.payload["action"] == "open"}
    assert by_uid[65534].subject == "no-creds"
    assert by_uid[65534].payload["target"] == str(cred)
    assert by_uid[65534].payload["exe"].endswith("/cat") and by_uid[65534].payload["pid"] > 0
    assert by_uid[0].payload["session"] == "session"  # the sandboxed root agent
    assert any(r.subject == "no-wipe" and r.payload["action"] == "exec" for r in rows)
    assert all("CANARY" not in json.dumps(r.payload) for r in rows)
    assert guard[1].verify_audit("n1").ok


def test_guard_survives_a_burst_of_unrelated_opens(setup: dict[str, Any],
                                                   guard: tuple[RedLineGuard, Store]) -> None:
    """The ``**/.env`` pattern puts a filesystem mark on /: every open there is
    judged. A burst of opens by another process completes, and so do ours."""
    script = ("import os\nfor i in range(3000):\n"
              "    os.close(os.open('/etc/hostname' if i % 2 else '/etc/passwd', os.O_RDONLY))\n"
              "print('done')")
    done = subprocess.run([*NOBODY, sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "done", done.stderr
    for _ in range(200):
        Path("/etc/hostname").read_bytes()
    assert guard[0].alive()


def test_drill_reports_enforced_and_records_it(setup: dict[str, Any],
                                               guard: tuple[RedLineGuard, Store]) -> None:
    policy = load_policy(setup["policy"])
    recorder = AuditRecorder(guard[1], "n1", str(policy.revision))
    results = drill(policy.policy, guard_alive=guard[0].alive, recorder=recorder,
                    homes=("/root",))
    assert {r.red_line_id: r.status for r in results} == {
        "scratch-only": DrillStatus.ENFORCED, "no-creds": DrillStatus.ENFORCED,
        "no-db": DrillStatus.ENFORCED, "no-wipe": DrillStatus.ENFORCED}, results
    drills = audit_rows(setup["db"], "drill")
    assert {r.subject for r in drills} == {"scratch-only", "no-creds", "no-db", "no-wipe"}
    assert all(r.payload["status"] == "ENFORCED" for r in drills)


def test_drill_detects_a_killed_guard(setup: dict[str, Any],
                                      guard: tuple[RedLineGuard, Store]) -> None:
    pid = guard[0].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not guard[0].alive())
    results = {r.red_line_id: r for r in drill(load_policy(setup["policy"]).policy,
                                                guard_alive=guard[0].alive, homes=("/root",))}
    assert results["no-creds"].status is DrillStatus.NOT_ENFORCED
    assert results["no-wipe"].status is DrillStatus.NOT_ENFORCED  # Landlock alone is not enough
    assert results["scratch-only"].status is DrillStatus.ENFORCED
    # fails open: the agent identity can now read the credential
    nobody = subprocess.run([*NOBODY, "cat", str(setup["creds"] / "credentials")],
                            capture_output=True, timeout=20)
    assert nobody.returncode == 0


def test_reload_keeps_guarding(setup: dict[str, Any],
                               guard: tuple[RedLineGuard, Store]) -> None:
    old = guard[0].pid
    guard[0].reload(load_policy(setup["policy"]).policy)
    assert guard[0].pid != old and guard[0].alive()
    nobody = subprocess.run([*NOBODY, "cat", str(setup["creds"] / "credentials")],
                            capture_output=True, timeout=20)
    assert nobody.returncode != 0


def test_cli_drill_on_the_shipped_example_policy(tmp_path: Path) -> None:
    """The shipped example with its audit-mode exec line switched to enforce
    (a copy): every red line ENFORCED here."""
    examples = Path(__file__).resolve().parents[2] / "policies" / "examples"
    pol = tmp_path / "policy"
    pol.mkdir()
    for f in examples.glob("*.yaml"):
        (pol / f.name).write_text(f.read_text().replace("mode: audit", "mode: enforce"))
    db = f"sqlite:///{tmp_path / 'inv.db'}"
    cmd = [sys.executable, "-m", "daemon", "redlines",
           "drill", "--policy", str(pol), "--with-guard", "--format", "json",
           "--inventory", db, "--node", "n1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    got = {r["red_line_id"]: r["status"] for r in json.loads(done.stdout)}
    assert got == {"no-delete-outside-scratch": "ENFORCED", "no-cloud-credentials": "ENFORCED",
                   "no-database-admin": "ENFORCED", "no-secure-erase-tools": "ENFORCED"}
    assert len(audit_rows(db, "drill")) == 4
