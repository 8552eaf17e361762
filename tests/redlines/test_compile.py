"""Red lines -> Landlock rules, guard protections, systemd directives: pure
compilation, table-driven; plus the systemd drop-in through the real
``systemd-analyze verify``."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from daemon.redlines import compile as rc
from daemon.redlines.confine import landlock as ll
from daemon.redlines.drill import concrete_path
from daemon.redlines.guard import fanotify as fa
from daemon.redlines.guard.fanotify import Identity
from daemon.redlines.guard.identity import AgentIdentity
from daemon.redlines.guard.process import make_decide
from daemon.redlines.run import prepare
from daemon.redlines.systemd_dropin import exec_start_of, render_dropin
from policies.loader import load_policy
from policies.schema import Policy
from scratchwarden.errors import KernelFeatureError, PolicyError

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def policy(tmp_path: Path, red_lines: str, mode: str = "enforce") -> Policy:
    (tmp_path / "p.yaml").write_text(f"version: 1\nmode: {mode}\nred_lines:\n{red_lines}")
    return load_policy(tmp_path).policy


NET = """  - id: no-db
    reason: r
    deny: [connect]
    ports: [5432]
"""
NET_DEGRADE = NET + "    may_degrade: true\n"
FILES = """  - id: scratch-only
    reason: r
    deny: [remove, truncate]
    outside: ["{session_dir}", /tmp/**]
"""


def test_example_policy_compiles_to_every_mechanism() -> None:
    loaded = load_policy(EXAMPLES)
    c = rc.compile_policy(loaded.policy, rc.Target(session_dir="/srv/s1",
                                                   homes=("/root", "/home/a"), abi=7))
    status = {x.id: x.status for x in c.lines}
    assert status == {"no-delete-outside-scratch": rc.Status.ENFORCED,
                      "no-cloud-credentials": rc.Status.ENFORCED,
                      "no-database-admin": rc.Status.ENFORCED,
                      "no-secure-erase-tools": rc.Status.ENFORCED}
    rules = c.landlock
    assert rules.read_write is not None and rules.read_write[:2] == ("/srv/s1", "/tmp")  # noqa: S108
    assert rules.write_rights is not None
    for right in (ll.ACCESS_FS_REMOVE_FILE, ll.ACCESS_FS_TRUNCATE, ll.ACCESS_FS_WRITE_FILE,
                  ll.ACCESS_FS_REFER):
        assert rules.write_rights & right
    assert rules.tcp_connect_ports is not None
    assert 5432 not in rules.tcp_connect_ports and 443 in rules.tcp_connect_ports
    assert len(rules.tcp_connect_ports) == 65536 - 4
    assert rules.tcp_bind_ports is None
    assert {"/usr/bin/shred", "/usr/bin/wipefs", "/usr/bin/dd"} <= set(rules.exec_denied)
    creds, tools = c.guard
    assert not creds.audit and not tools.audit
    assert creds.protection.actions == {"open"} and tools.protection.actions == {"exec"}
    assert {"/root/.aws/**", "/home/a/.aws/**", "/**/.env", "/etc/kubernetes/*.conf"} <= set(
        creds.protection.patterns)


@pytest.mark.parametrize(("red_lines", "abi", "want"), [
    (NET, 3, rc.Status.UNENFORCEABLE),
    (NET_DEGRADE, 3, rc.Status.DEGRADED),
    (NET, 4, rc.Status.ENFORCED),
    (FILES, 0, rc.Status.UNENFORCEABLE),
    (FILES, 2, rc.Status.UNENFORCEABLE),  # truncate needs ABI 3
    (FILES, 3, rc.Status.ENFORCED),
])
def test_abi_decides_enforced_degraded_or_refused(tmp_path: Path, red_lines: str, abi: int,
                                                  want: rc.Status) -> None:
    c = rc.compile_policy(policy(tmp_path, red_lines), rc.Target(session_dir="/s", abi=abi))
    assert c.lines[0].status is want


def test_degraded_line_never_asks_the_kernel_for_what_it_lacks(tmp_path: Path) -> None:
    c = rc.compile_policy(policy(tmp_path, NET_DEGRADE), rc.Target(abi=3))
    assert c.landlock.tcp_connect_ports is None


def test_refusal_names_the_red_line(tmp_path: Path) -> None:
    with pytest.raises(KernelFeatureError, match="no-db.*ABI 4"):
        prepare(policy(tmp_path, NET), session_dir=None, abi=3)


def test_only_denied_ops_are_confined(tmp_path: Path) -> None:
    c = rc.compile_policy(policy(tmp_path, FILES), rc.Target(session_dir="/s", abi=7))
    mask = c.landlock.write_rights or 0
    assert mask & ll.ACCESS_FS_REMOVE_FILE and mask & ll.ACCESS_FS_TRUNCATE
    assert not mask & ll.ACCESS_FS_WRITE_FILE  # writes stay allowed everywhere


@pytest.mark.parametrize(("checks", "supervised"), [
    (["supervisor", "supervisor"], True),
    (["supervisor", None], False),  # a line that did not ask keeps the kernel's check
    (["landlock", "supervisor"], False),
    ([None, None], False),
])
def test_truncate_check_supervisor_only_when_every_truncate_line_asks(
        tmp_path: Path, checks: list[str | None], supervised: bool) -> None:
    lines = ""
    for i, check in enumerate(checks):
        lines += (f"  - id: l{i}\n    reason: r\n    deny: [truncate]\n"
                  f"    outside: [\"{{session_dir}}\"]\n")
        if check:
            lines += f"    truncate_check: {check}\n"
    c = rc.compile_policy(policy(tmp_path, lines), rc.Target(session_dir="/srv/s1", abi=7))
    assert c.landlock.truncate_supervisor is supervised
    mech = {x.id: x.mechanisms for x in c.lines}
    assert ("seccomp-truncate-supervisor" in mech["l0"]) is (checks[0] == "supervisor")


def test_truncate_check_needs_a_truncate_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="truncate_check applies to deny: \\[truncate\\]"):
        policy(tmp_path, """  - id: x
    reason: r
    deny: [remove]
    outside: ["{session_dir}"]
    truncate_check: supervisor
""")


def test_session_dir_is_required_when_used(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="--session"):
        rc.compile_policy(policy(tmp_path, FILES), rc.Target(abi=7))


def test_glob_outside_cannot_be_a_landlock_root(tmp_path: Path) -> None:
    lines = """  - id: odd
    reason: r
    deny: [write]
    outside: [/srv/*/x]
"""
    c = rc.compile_policy(policy(tmp_path, lines), rc.Target(abi=7))
    assert c.lines[0].status is rc.Status.UNENFORCEABLE and "DIR/**" in c.lines[0].detail


@pytest.mark.parametrize(("pattern", "want"), [
    ("~/.aws/**", ["/h1/.aws/**", "/h2/.aws/**"]),
    ("**/.env", ["/**/.env"]),
    ("*.pem", ["/**/*.pem"]),
    ("/etc/kubernetes/*.conf", ["/etc/kubernetes/*.conf"]),
    ("{session_dir}", ["/s/x"]),
])
def test_expand(pattern: str, want: list[str]) -> None:
    assert rc.expand(pattern, rc.Target(session_dir="/s/x/", homes=("/h1", "/h2"))) == want


def test_intersect_trees() -> None:
    assert rc.intersect_trees([["/a", "/var"], ["/a/b"]]) == ("/a/b",)
    assert rc.intersect_trees([["/a"], ["/c"]]) == ()
    assert rc.intersect_trees([["/"], ["/x"]]) == ("/x",)


@pytest.mark.parametrize(("pattern", "want"), [
    ("/**/.env", "/scratch/.env"),
    ("/**/.env.*", "/scratch/.env.sw-drill"),
    ("/root/.aws/**", "/root/.aws/sw-drill-canary"),
    ("/etc/kubernetes/*.conf", "/etc/kubernetes/sw-drill.conf"),
    ("/etc/[!a]x", None),
])
def test_drill_canary_paths_match_their_globs(pattern: str, want: str | None) -> None:
    assert concrete_path(pattern, "/scratch") == want


def _ident(uid: int, nnp: bool = False, pid: int = 10, cgroup: str = "/") -> Identity:
    return Identity(pid=pid, uid=uid, ruid=uid, exe="/x", cgroup=cgroup, no_new_privs=nnp)


def test_agent_identity() -> None:
    ident = AgentIdentity(trusted_pids=frozenset({1}), trusted_cgroups=("/sw.service",))
    assert ident.is_agent(_ident(65534))
    assert not ident.is_agent(_ident(0))
    assert ident.is_agent(_ident(0, nnp=True))  # a root agent under scratchwarden run
    assert not ident.is_agent(_ident(65534, pid=1))
    assert not ident.is_agent(_ident(0, nnp=True, cgroup="/sw.service"))
    only = AgentIdentity(agent_uids=frozenset({1001}), sandboxed=False)
    assert only.is_agent(_ident(1001)) and not only.is_agent(_ident(65534))
    assert AgentIdentity.from_dict(ident.to_dict()) == ident


def test_guard_reads_the_session_of_a_denied_process_while_it_waits() -> None:
    """The session a blocked agent claims is read when the guard decides (the
    opener is blocked in open() then), not later by the reporter, by which
    time a short-lived agent may be gone."""
    env = {**os.environ, "SCRATCHWARDEN_SESSION": "s-42"}
    agent = subprocess.Popen(["sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{agent.pid}/environ").read_bytes():  # exec still finishing
            assert time.monotonic() < deadline, "the agent's environment never appeared"
            time.sleep(0.01)
        sessions: dict[int, str | None] = {}
        audits: queue.SimpleQueue[object] = queue.SimpleQueue()
        decide = make_decide(AgentIdentity(), frozenset({"audited"}), audits,  # type: ignore[arg-type]
                             sessions)
        ident = _ident(65534, pid=agent.pid)
        assert decide(fa.AccessRequest("creds", "open", "/x/.env", ident)) is False
        assert decide(fa.AccessRequest("audited", "open", "/x/.env", ident)) is True
    finally:
        agent.kill()
        agent.wait(10)
    assert sessions == {agent.pid: "s-42"}
    assert audits.get_nowait() == (fa.AccessRequest("audited", "open", "/x/.env", ident),
                                   "s-42")


def test_systemd_dropin_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / "agent-worker.service"
    unit.write_text("[Unit]\nDescription=agent\n[Service]\nExecStart=/bin/sleep 60\n")
    loaded = load_policy(EXAMPLES)
    text = render_dropin(loaded.policy, unit=unit.name, exec_start=exec_start_of(
        unit.read_text()), scratchwarden=shutil.which("true") or "/bin/true",
        policy_dir=str(EXAMPLES), session_dir="/srv/agents/acme/sessions/s1")
    assert "NoNewPrivileges=yes" in text
    assert "ReadWritePaths=-/srv/agents/acme/sessions/s1" in text
    assert "InaccessiblePaths=-%h/.aws" in text and "ExecStart=\n" in text
    assert text.rstrip().endswith("--session-dir /srv/agents/acme/sessions/s1 -- /bin/sleep 60")
    (tmp_path / "agent-worker.service.d").mkdir()
    (tmp_path / "agent-worker.service.d" / "50-redlines.conf").write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "50-redlines.conf" not in done.stderr, done.stderr  # no ignored/invalid lines


def test_systemd_bind_lines(tmp_path: Path) -> None:
    lines = """  - id: no-listen
    reason: r
    deny: [bind]
    except_ports: [8080]
"""
    text = render_dropin(policy(tmp_path, lines), unit="a.service", exec_start=["/bin/x"],
                         scratchwarden="/bin/sw", policy_dir="/p")
    assert "SocketBindAllow=tcp:8080\nSocketBindDeny=any" in text
