"""The truncate supervisor on the real kernel: with Landlock's TRUNCATE right
left unhandled, truncation outside the write roots is still refused, every
way a sandboxed command could truncate, while inside it works; the supervisor
answers from what it read once, never holds the agent's fds, leaves no
process behind, and fails closed when it is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.redlines.confine import landlock as ll
from daemon.redlines.confine import sandbox, truncate_supervisor

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(ll.abi_version() < 3, reason="needs Landlock ABI >= 3"),
    pytest.mark.skipif(not truncate_supervisor.available(),
                       reason=str(truncate_supervisor.unavailable_reason())),
]

PROBE = r"""
import ctypes, errno, json, os, sys
sess, out = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
res = {}
def attempt(name, fn):
    try:
        fn()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
def raw(name, nr, *args):
    r = libc.syscall(nr, *args)
    res[name] = "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
attempt("abs_inside", lambda: os.truncate(os.path.join(sess, "inside"), 3))
os.chdir(sess)
attempt("rel_inside", lambda: os.truncate("rel", 1))
attempt("abs_outside", lambda: os.truncate(out, 0))
attempt("symlink_to_outside", lambda: os.truncate("link", 0))
attempt("dotdot_outside", lambda: os.truncate("../outside", 0))
attempt("missing", lambda: os.truncate("nope", 0))
attempt("directory", lambda: os.truncate(sess, 0))
attempt("negative", lambda: os.truncate("rel", -1))
raw("null_path", 76, None, ctypes.c_long(0))
attempt("rdonly_trunc_outside", lambda: os.close(os.open(out, os.O_RDONLY | os.O_TRUNC)))
attempt("wronly_trunc_outside", lambda: os.close(os.open(out, os.O_WRONLY | os.O_TRUNC)))
attempt("wronly_trunc_inside", lambda: os.close(os.open("wr", os.O_WRONLY | os.O_TRUNC)))
attempt("read_outside", lambda: open(out).read())
raw("openat2", 437, -100, b"/", None, 0)
raw("open_by_handle_at", 304, -100, None, 0)
raw("io_uring_setup", 425, 1, None)
fds = []
for f in os.listdir("/proc/self/fd"):
    try:
        fds.append(os.readlink(f"/proc/self/fd/{f}"))
    except OSError:
        pass  # the listing's own fd, closed by now
res["seccomp_fds"] = [f for f in fds if "seccomp" in f]
print(json.dumps(res))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    sess, out = tmp_path / "session", tmp_path / "outside"
    sess.mkdir()
    out.write_text("x" * 100)
    for name in ("inside", "rel", "wr"):
        (sess / name).write_text("y" * 100)
    (sess / "link").symlink_to(out)
    yield sess, out


def _spawn(argv: list[str], sess: Path, **kw: object) -> subprocess.Popen[bytes]:
    rules = ll.LandlockRules.confine_writes([str(sess)], truncate_supervisor=True)
    proc, report = sandbox.spawn(argv, rules, stdout=subprocess.PIPE, **kw)  # type: ignore[arg-type]
    assert "truncate-confined" in report.enforced
    assert not report.handled_fs & ll.ACCESS_FS_TRUNCATE  # the supervisor's job now
    return proc


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="raw syscall numbers are x86_64")
def test_every_way_to_truncate_outside_is_refused(tree: tuple[Path, Path]) -> None:
    sess, out = tree
    proc = _spawn([sys.executable, "-B", "-c", PROBE, str(sess), str(out)], sess)
    res = json.loads(proc.communicate(timeout=60)[0])
    assert res == {
        "abs_inside": "ok", "rel_inside": "ok",
        "abs_outside": "EACCES", "symlink_to_outside": "EACCES", "dotdot_outside": "EACCES",
        "missing": "ENOENT", "directory": "EISDIR", "negative": "EINVAL", "null_path": "EFAULT",
        "rdonly_trunc_outside": "EACCES", "wronly_trunc_outside": "EACCES",
        "wronly_trunc_inside": "ok", "read_outside": "ok",
        "openat2": "ENOSYS", "open_by_handle_at": "EPERM", "io_uring_setup": "EPERM",
        "seccomp_fds": [],  # the listener never reaches the agent
    }
    assert out.read_text() == "x" * 100
    assert (sess / "inside").read_text() == "yyy"
    assert (sess / "rel").read_text() == "y"
    assert (sess / "wr").read_text() == ""


RACER = r"""
import ctypes, os, sys, threading
sess, out, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
inside = os.path.join(sess, "inside").encode()
outside = out.encode().ljust(len(inside), b"/")  # same length: a pure swap of bytes
buf = ctypes.create_string_buffer(inside, max(len(inside), len(outside)) + 1)
stop = False
def flip():
    while not stop:
        ctypes.memmove(buf, outside, len(outside) + 1)
        ctypes.memmove(buf, inside, len(inside) + 1)
t = threading.Thread(target=flip)
t.start()
outcomes = set()
for _ in range(rounds):
    ctypes.memmove(buf, inside, len(inside) + 1)
    r = libc.truncate(buf, ctypes.c_long(0))
    outcomes.add(0 if r == 0 else ctypes.get_errno())
stop = True
t.join()
print(sorted(outcomes))
"""


def test_a_path_rewritten_while_checked_never_truncates_outside(
        tree: tuple[Path, Path]) -> None:
    """The supervisor reads the path once and acts on its copy: a thread
    flipping the buffer between an inside and an outside name can only get
    one or the other judged as what it is."""
    sess, out = tree
    proc = _spawn([sys.executable, "-B", "-c", RACER, str(sess), str(out), "400"], sess)
    outcomes = json.loads(proc.communicate(timeout=120)[0])
    assert proc.returncode == 0
    assert out.read_text() == "x" * 100
    assert set(outcomes) <= {0, 13, 2, 20}, outcomes  # ok, EACCES, or a half-written name


def _supervisors(marker: str) -> list[int]:
    """Pids of processes whose command line carries ``marker`` (the roots)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd and b"daemon.redlines.confine.sandbox" in cmd:
            out.append(int(pid))
    return out


def _wait_until(pred: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_supervisor_outlives_the_launcher_and_exits_with_the_command(
        tree: tuple[Path, Path]) -> None:
    sess, _out = tree
    proc = _spawn([sys.executable, "-B", "-c", "import sys; sys.stdin.read()"], sess,
                  stdin=subprocess.PIPE)
    try:
        assert _wait_until(lambda: len(_supervisors(str(sess))) == 1)
        (sup,) = _supervisors(str(sess))
        assert sup != proc.pid
        stat = Path(f"/proc/{sup}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[1]) != proc.pid  # not the agent's child: nothing for it to reap
        assert int(stat[3]) == sup  # its own session: no terminal signals
        # it holds nothing of the agent's: stdio on /dev/null, no pipes
        targets = {os.readlink(f"/proc/{sup}/fd/{f}") for f in os.listdir(f"/proc/{sup}/fd")}
        assert not any(t.startswith("pipe:") for t in targets), targets
    finally:
        proc.communicate(b"", timeout=30)
    assert _wait_until(lambda: not _supervisors(str(sess)))


TRUNCATE_AFTER_SIGNAL = r"""
import errno, os, sys
sys.stdin.readline()
try:
    os.truncate(sys.argv[1], 0)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def test_without_its_supervisor_truncate_fails_closed(tree: tuple[Path, Path]) -> None:
    sess, _out = tree
    target = sess / "inside"
    proc = _spawn([sys.executable, "-B", "-c", TRUNCATE_AFTER_SIGNAL, str(target)], sess,
                  stdin=subprocess.PIPE)
    assert _wait_until(lambda: len(_supervisors(str(sess))) == 1)
    (sup,) = _supervisors(str(sess))
    os.kill(sup, signal.SIGKILL)
    assert _wait_until(lambda: not _supervisors(str(sess)))
    out, _ = proc.communicate(b"go\n", timeout=30)
    assert out.decode().strip() == "ENOSYS"
    assert target.read_text() == "y" * 100


def test_build_leaves_truncate_to_landlock_unless_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = ll.build(ll.LandlockRules.confine_writes([str(tmp_path)]))
    supervised = ll.build(ll.LandlockRules.confine_writes([str(tmp_path)],
                                                          truncate_supervisor=True))
    no_truncate = ll.build(ll.LandlockRules(
        read_write=(str(tmp_path),), write_rights=ll.ACCESS_FS_REMOVE_FILE,
        truncate_supervisor=True))
    monkeypatch.setattr(truncate_supervisor, "unavailable_reason", lambda: "not here")
    fallback = ll.build(ll.LandlockRules.confine_writes([str(tmp_path)],
                                                        truncate_supervisor=True))
    try:
        assert plain.truncate_roots is None and plain.report.handled_fs & ll.ACCESS_FS_TRUNCATE
        assert supervised.truncate_roots == (os.path.realpath(tmp_path), *ll.DEV_WRITABLE)
        assert not supervised.report.handled_fs & ll.ACCESS_FS_TRUNCATE
        assert "truncate-confined" in supervised.report.enforced
        assert no_truncate.truncate_roots is None  # nothing to confine: no supervisor
        assert fallback.truncate_roots is None  # unavailable: Landlock keeps TRUNCATE
        assert fallback.report.handled_fs & ll.ACCESS_FS_TRUNCATE
        assert any("truncate supervisor unavailable (not here)" in n
                   for n in fallback.report.not_enforced)
    finally:
        for r in (plain, supervised, no_truncate, fallback):
            r.close()


@pytest.mark.parametrize(("path", "roots", "inside"), [
    ("/srv/s", ["/srv/s"], True), ("/srv/s/a/b", ["/srv/s"], True),
    ("/srv/sx", ["/srv/s"], False), ("/srv", ["/srv/s"], False),
    ("/var/x", ["/srv/s", "/var"], True), ("/", ["/srv/s"], False),
])
def test_beneath(path: str, roots: list[str], inside: bool) -> None:
    assert truncate_supervisor.beneath(path, roots) is inside


def test_apply_keeps_truncate_with_landlock(tmp_path: Path) -> None:
    """``landlock.apply`` enters in place and starts no supervisor, so it must
    not leave TRUNCATE unhandled even when the rules ask for the supervisor."""
    rules = ll.LandlockRules.confine_writes([str(tmp_path / "s")], truncate_supervisor=True)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    code = ("import errno, sys; from daemon.redlines.confine import landlock as ll;"
            " from daemon.redlines.confine.landlock import LandlockRules as R;"
            " r = ll.apply(R.from_json(sys.argv[1]), log=False)\n"
            "try:\n import os; os.truncate(sys.argv[2], 0); print('ok')\n"
            "except OSError as e:\n print(errno.errorcode[e.errno], r.handled_fs)")
    out = subprocess.run([sys.executable, "-c", code, rules.to_json(), str(victim)],
                         capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split()[0] == "EACCES", out.stderr
    assert int(out.stdout.split()[1]) & ll.ACCESS_FS_TRUNCATE
    assert victim.read_text() == "keep"


def test_a_supervisor_that_cannot_start_is_a_guard_setup_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from scratchwarden.errors import GuardSetupError

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(GuardSetupError, match="could not be started.*temporarily"):
        truncate_supervisor.Supervisor.start(["/nowhere"])


ORPHAN = r"""
import errno, os, sys, time
target, report = sys.argv[1], sys.argv[2]
if os.fork() == 0:  # outlives the command: still under the filter, still served
    time.sleep(0.5)
    try:
        os.truncate(target, 0)
        out = "ok"
    except OSError as e:
        out = errno.errorcode[e.errno]
    with open(report, "w") as f:
        f.write(out)
    os._exit(0)
"""


def test_supervisor_serves_children_that_outlive_the_command(tree: tuple[Path, Path]) -> None:
    sess, _out = tree
    target, report = sess / "inside", sess / "report"
    proc = _spawn([sys.executable, "-B", "-c", ORPHAN, str(target), str(report)], sess)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert _wait_until(report.exists)
    assert _wait_until(lambda: report.read_text() != "")
    assert report.read_text() == "ok" and target.read_text() == ""
    assert _wait_until(lambda: not _supervisors(str(sess)))
