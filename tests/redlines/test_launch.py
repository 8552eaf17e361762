"""``scratchwarden run`` on the real kernel (root): it builds the Landlock
ruleset, records the launch, enters the ruleset and execs the command in its
own process (no supervisor left behind, the recorded pid is the command's);
a ruleset the kernel refuses to enter is recorded as a failed launch and the
command never runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.redlines.confine import landlock as ll
from inventory.models import AuditEntry
from inventory.store import Store
from policies.loader import load_policy

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or ll.abi_version() < 4,
                       reason="needs root and Landlock ABI >= 4"),
]

RUN = [sys.executable, "-m", "daemon", "run"]
SIGPIPE_BIT = 1 << (13 - 1)
LANDLOCK_MAX_LAYERS = 16


def _policy(tmp_path: Path, ports: bool) -> Path:
    pol = tmp_path / "policy"
    pol.mkdir()
    net = """
  - id: no-db
    reason: no databases
    deny: [connect]
    ports: [5432]
""" if ports else ""
    (pol / "red.yaml").write_text(f"""version: 1
mode: enforce
red_lines:
  - id: scratch-only
    reason: only the session dir
    deny: [remove]
    outside: ["{{session_dir}}", /tmp/**]
{net}""")
    return pol


def _run_args(tmp_path: Path, pol: Path, db: str) -> list[str]:
    session = tmp_path / "session"
    session.mkdir(exist_ok=True)
    return [*RUN, "--policy", str(pol), "--session-dir", str(session), "--inventory", db,
            "--node", "n1", "--"]


def _audit(db: str, kind: str) -> list[AuditEntry]:
    with Store.open(db) as store, Session(store.engine) as s:
        return [r for r in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))
                if r.kind == kind]


def test_run_execs_in_place_and_records_the_commands_pid(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inv.db'}"
    script = "echo $$ $PPID; grep -E '^(SigIgn|NoNewPrivs):' /proc/self/status"
    done = subprocess.run([*_run_args(tmp_path, _policy(tmp_path, True), db),
                           "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    pid, ppid = (int(x) for x in lines[0].split())
    fields = dict(line.split(":\t") for line in lines[1:] if line)
    assert ppid == os.getpid()  # no launcher process between the caller and the command
    assert fields["NoNewPrivs"] == "1"
    assert not int(fields["SigIgn"], 16) & SIGPIPE_BIT  # SIGPIPE is not left ignored
    [launch] = _audit(db, "redline-launch")
    assert launch.payload["pid"] == pid and launch.payload["program"] == "sh"
    assert "tcp-connect-confined" in launch.payload["landlock_enforced"]


def test_missing_command_exits_127_after_the_launch_is_recorded(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inv.db'}"
    done = subprocess.run([*_run_args(tmp_path, _policy(tmp_path, False), db),
                           "/nonexistent/agent"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 127 and "command not found" in done.stderr
    assert len(_audit(db, "redline-launch")) == 1


def test_ruleset_the_kernel_refuses_is_recorded_and_never_runs(tmp_path: Path) -> None:
    """Landlock stacks at most 16 domains: the 17th nested launch cannot enter
    its ruleset. It must not run the command, and must say so in the chain."""
    db = f"sqlite:///{tmp_path / 'inv.db'}"
    marker = tmp_path / "ran"
    launcher = _run_args(tmp_path, _policy(tmp_path, False), db)
    nested = launcher * (LANDLOCK_MAX_LAYERS + 1)
    done = subprocess.run([*nested, "sh", "-c", f"touch {marker}"], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 2, done.stderr
    assert "landlock_restrict_self" in done.stderr
    assert not marker.exists()
    assert len(_audit(db, "redline-launch")) == LANDLOCK_MAX_LAYERS + 1
    [failed] = _audit(db, "redline-launch-failed")
    assert "landlock_restrict_self" in failed.payload["reason"]


def test_launch_without_inventory_needs_no_git_revision(tmp_path: Path) -> None:
    pol = _policy(tmp_path, False)
    light = load_policy(pol, with_revision=False)
    full = load_policy(pol)
    assert light.policy == full.policy
    assert light.revision.commit is None and light.revision.dirty is None
    assert light.revision.content_hash == full.revision.content_hash


def test_port_deny_list_is_one_rule_per_other_port(tmp_path: Path) -> None:
    rules = ll.LandlockRules(tcp_connect_ports=frozenset(range(65536)) - {5432},
                             tcp_bind_ports=frozenset({8080}))
    p = ll.plan(rules, 4)
    assert p.port_rule_count == 65535
    both = ll.ACCESS_NET_CONNECT_TCP | ll.ACCESS_NET_BIND_TCP
    assert dict(p.port_rules)[8080] == both and 5432 not in dict(p.port_rules)
    assert dict(p.port_rules)[443] == ll.ACCESS_NET_CONNECT_TCP



TRUNCATE_BOTH = r"""
import errno, os, sys
for path in sys.argv[1:]:
    try:
        os.truncate(path, 0)
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
print(open("/proc/self/status").read().split("Seccomp:")[1].split()[0])
"""


def test_run_confines_truncate_with_the_supervisor_in_place(tmp_path: Path) -> None:
    """``truncate_check: supervisor`` through the CLI path (enter in place,
    exec): truncate(2) works in the session dir, is refused outside, and the
    process carries the seccomp filter (mode 2) that hands it to the
    supervisor."""
    from daemon.redlines.confine import truncate_supervisor

    if not truncate_supervisor.available():
        pytest.skip(str(truncate_supervisor.unavailable_reason()))
    pol = tmp_path / "policy"
    pol.mkdir()
    (pol / "red.yaml").write_text("""version: 1
mode: enforce
red_lines:
  - id: scratch-only
    reason: only the session dir
    deny: [truncate, write]
    outside: ["{session_dir}"]
    truncate_check: supervisor
""")
    session = tmp_path / "session"
    session.mkdir()
    inside, outside = session / "in", tmp_path / "out"
    for f in (inside, outside):
        f.write_text("keep")
    done = subprocess.run([*RUN, "--policy", str(pol), "--session-dir", str(session), "--",
                           sys.executable, "-c", TRUNCATE_BOTH, str(inside), str(outside)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "EACCES", "2"]
    assert inside.read_text() == "" and outside.read_text() == "keep"
