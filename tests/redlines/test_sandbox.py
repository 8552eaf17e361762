"""The Landlock sandbox on the real kernel: a confined child cannot write,
delete, rename or truncate outside its allowed dir, cannot connect to a denied
loopback port and cannot exec a denied binary; inside the rules it works."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.redlines.confine import landlock as ll
from daemon.redlines.confine import sandbox, truncate_supervisor
from scratchwarden.errors import SandboxError

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(ll.abi_version() < 4, reason="needs Landlock ABI >= 4"),
]

PROBE = r"""
import errno, json, os, sys
out, inside = sys.argv[1], sys.argv[2]
res = {}
def attempt(name, fn):
    try:
        fn()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
def write(p):
    with open(p, "a") as f:
        f.write("x")
for where, d in (("out", out), ("in", inside)):
    attempt(f"write_{where}", lambda: write(os.path.join(d, "victim")))
    attempt(f"create_{where}", lambda: write(os.path.join(d, "new")))
    attempt(f"truncate_{where}", lambda: os.truncate(os.path.join(d, "victim"), 0))
    attempt(f"rename_{where}", lambda: os.rename(os.path.join(d, "victim"),
                                                 os.path.join(d, "renamed")))
    attempt(f"delete_{where}", lambda: os.unlink(os.path.join(d, "doomed")))
attempt("move_out_to_in", lambda: os.rename(os.path.join(out, "movable"),
                                            os.path.join(inside, "moved")))
attempt("read_out", lambda: open(os.path.join(out, "movable")).read())
print(json.dumps(res))
"""


def _run(argv: list[str], rules: ll.LandlockRules, cwd: Path | None = None) -> tuple[int, str]:
    proc, report = sandbox.spawn(argv, rules, cwd=cwd, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise
    assert "write-confined" in report.enforced or rules.read_write is None
    return proc.returncode, out.decode() + err.decode()


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    out, inside = tmp_path / "outside", tmp_path / "session"
    for d in (out, inside):
        d.mkdir()
        (d / "victim").write_text("keep me")
        (d / "doomed").write_text("keep me")
    (out / "movable").write_text("keep me")
    yield out, inside


@pytest.mark.parametrize("supervised", [True, False],
                         ids=["truncate-supervisor", "landlock-truncate"])
def test_writes_confined_to_session_dir(dirs: tuple[Path, Path], supervised: bool) -> None:
    """Both ways truncation can be confined: Landlock's TRUNCATE right and
    the seccomp filter + supervisor (``truncate_check: supervisor``)."""
    if supervised and not truncate_supervisor.available():
        pytest.skip(f"truncate supervisor unavailable: {truncate_supervisor.unavailable_reason()}")
    out, inside = dirs
    rules = ll.LandlockRules.confine_writes([str(inside)], truncate_supervisor=supervised)
    rc, text = _run([sys.executable, "-B", "-c", PROBE, str(out), str(inside)], rules)
    assert rc == 0, text
    res = json.loads(text)
    for op in ("write", "create", "truncate", "rename", "delete"):
        assert res[f"{op}_out"] == "EACCES", (op, res)
        assert res[f"{op}_in"] == "ok", (op, res)
    assert res["move_out_to_in"] == "EACCES"
    assert res["read_out"] == "ok"
    assert (out / "victim").read_text() == "keep me"
    assert (out / "doomed").exists() and (out / "movable").exists()
    assert not (inside / "doomed").exists() and (inside / "renamed").exists()


@pytest.fixture
def listeners() -> Iterator[tuple[socket.socket, socket.socket]]:
    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        socks.append(s)
    yield socks[0], socks[1]
    for s in socks:
        s.close()


CONNECT = r"""
import errno, socket, sys
for port in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", int(port)))
        print(port, "ok")
    except OSError as e:
        print(port, errno.errorcode.get(e.errno, str(e)))
    finally:
        s.close()
"""


def test_tcp_connect_only_to_allowed_port(
        listeners: tuple[socket.socket, socket.socket]) -> None:
    allowed, denied = (s.getsockname()[1] for s in listeners)
    rules = ll.LandlockRules(tcp_connect_ports=frozenset({allowed}))
    rc, text = _run([sys.executable, "-B", "-c", CONNECT, str(allowed), str(denied)], rules)
    assert rc == 0, text
    assert f"{allowed} ok" in text
    assert f"{denied} EACCES" in text


def test_denied_exec_fails_other_exec_works(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    true = shutil.which("true")
    assert true
    shutil.copy(true, bindir / "forbidden")
    shutil.copy(true, bindir / "fine")
    rules = ll.LandlockRules(executable=("/",), exec_denied=(str(bindir / "forbidden"),))
    script = f"{bindir}/fine; echo fine=$?; {bindir}/forbidden; echo forbidden=$?"
    rc, text = _run(["/bin/sh", "-c", script], rules)
    assert "fine=0" in text
    assert "forbidden=126" in text and "Permission denied" in text


def test_exec_from_session_dir_denied_when_not_executable(tmp_path: Path) -> None:
    session = tmp_path / "session"
    session.mkdir()
    true = shutil.which("true")
    assert true
    shutil.copy(true, session / "dropped")
    rules = ll.LandlockRules(read_only=("/",), read_write=(str(session),),
                             executable=("/usr", "/bin", "/lib", "/lib64"))
    rc, text = _run(["/bin/sh", "-c", f"{session}/dropped; echo rc=$?"], rules)
    assert "rc=126" in text, text


def test_missing_command_exits_127_after_rules_applied(tmp_path: Path) -> None:
    rules = ll.LandlockRules(read_write=(str(tmp_path),))
    rc, text = _run(["/nonexistent/command"], rules)
    assert rc == sandbox.EXIT_NOT_FOUND
    assert "not found" in text


def test_launch_returns_exit_code(tmp_path: Path) -> None:
    rules = ll.LandlockRules.confine_writes([str(tmp_path)])
    assert sandbox.launch(["/bin/sh", "-c", "exit 7"], rules, timeout=30) == 7
    target = tmp_path / "made-by-child"
    assert sandbox.launch(["/bin/sh", "-c", f"echo hi > {target}"], rules, cwd=tmp_path,
                          timeout=30) == 0
    assert target.read_text() == "hi\n"


def test_child_setup_failure_raises_and_never_runs_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    bad = tmp_path / "bad-rules.json"
    bad.write_text("{not json")
    with pytest.raises(SandboxError, match="not started"):
        # a rule root the launcher cannot open (through a regular file: ENOTDIR)
        (tmp_path / "file").write_text("")
        sandbox.spawn(["/bin/sh", "-c", f"touch {marker}"],
                      ll.LandlockRules(read_write=(str(tmp_path / "file" / "x"),)))
    assert not marker.exists()
    proc = subprocess.run([sys.executable, "-m", "daemon.redlines.confine.sandbox", "--rules-file",
                           str(bad), "--", "/bin/sh", "-c", f"touch {marker}"],
                          capture_output=True, timeout=30, cwd=os.getcwd())
    assert proc.returncode == sandbox.EXIT_SANDBOX_FAILED
    assert not marker.exists()
