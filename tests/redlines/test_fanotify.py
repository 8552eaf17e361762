"""The fanotify guard on the real kernel: an unprivileged process gets EPERM on
a protected canary credential while root and the guard's own process read it;
the guard never deadlocks on its own opens; a burst of unrelated opens under a
filesystem mark completes; a killed guard lets opens through (fails open)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.redlines.guard import fanotify as fa

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="fanotify permission events need root"),
]

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*NOBODY, *argv], capture_output=True, timeout=20)


def cached(g: fa.Guard, at_least: int = 1, timeout: float = 5.0) -> bool:
    """Wait until the guard has placed ``at_least`` ignore marks: it answers an
    open first and caches after, so the opener may finish before the mark is
    there (a race that made this file's cache tests fail about once in 200)."""
    deadline = time.monotonic() + timeout
    while g.stats.cached < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    return g.stats.cached >= at_least


def eperm(r: subprocess.CompletedProcess[bytes]) -> bool:
    """Denied by the guard (EPERM), not by file permissions (EACCES)."""
    return r.returncode != 0 and b"Operation not permitted" in r.stderr


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A world-readable dir (pytest's tmp_path is 0700, which nobody cannot enter)."""
    d = Path(tempfile.mkdtemp(prefix="sw-guard-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def canary(world_dir: Path) -> Path:
    cred = world_dir / "aws" / "credentials"
    cred.parent.mkdir()
    cred.parent.chmod(0o755)
    cred.write_text("[default]\naws_access_key_id = CANARY\n")
    cred.chmod(0o644)
    (world_dir / "aws" / "config").write_text("[default]\n")
    (world_dir / "aws" / "config").chmod(0o644)
    return cred


@pytest.fixture
def start_guard() -> Iterator[Callable[..., fa.Guard]]:
    guards: list[fa.Guard] = []

    def start(*args: object, **kwargs: object) -> fa.Guard:
        g = fa.Guard(*args, **kwargs).start()  # type: ignore[arg-type]
        guards.append(g)
        return g

    yield start
    for g in guards:
        assert g.stop(), "guard threads did not stop"


def test_unprivileged_reader_denied_root_allowed(canary: Path,
                                                 start_guard: Callable[..., fa.Guard]) -> None:
    seen: list[fa.Denial] = []
    got = threading.Event()

    def on_denial(d: fa.Denial) -> None:
        seen.append(d)
        got.set()

    g = start_guard([fa.Protection("no-cloud-credentials", (str(canary),))],
                    fa.allow_uids(0), on_denial=on_denial)
    denied = as_nobody("cat", str(canary))
    assert denied.returncode != 0
    assert b"Operation not permitted" in denied.stderr
    assert b"CANARY" not in denied.stdout
    root = subprocess.run(["cat", str(canary)], capture_output=True, timeout=20)
    assert root.returncode == 0 and b"CANARY" in root.stdout
    assert "CANARY" in canary.read_text()  # the guard's own process
    sibling = as_nobody("cat", str(canary.parent / "config"))
    assert sibling.returncode == 0
    assert got.wait(10)
    d = seen[0]
    assert (d.red_line_id, d.action, d.path, d.uid) == (
        "no-cloud-credentials", "open", str(canary), 65534)
    assert d.exe == shutil.which("cat") and d.reason == "decided" and d.pid > 0
    assert g.stats.denied == 1 and g.alive()


def test_replaced_and_hardlinked_credentials_stay_protected(
        canary: Path, world_dir: Path, start_guard: Callable[..., fa.Guard]) -> None:
    start_guard([fa.Protection("creds", (str(canary),))], fa.allow_uids(0))
    link = world_dir / "innocent-name"
    os.link(canary, link)
    assert eperm(as_nobody("cat", str(link)))  # same inode, other path
    new = canary.parent / ".credentials.tmp"
    new.write_text("[default]\nrotated = CANARY2\n")
    new.chmod(0o644)
    os.replace(new, canary)  # atomic rotation: a new inode at the protected path
    assert eperm(as_nobody("cat", str(canary)))


def test_glob_in_last_component_uses_directory_mark(
        canary: Path, start_guard: Callable[..., fa.Guard]) -> None:
    g = start_guard([fa.Protection("kube", (str(canary.parent / "*.conf"),))])
    conf = canary.parent / "admin.conf"
    conf.write_text("token")
    conf.chmod(0o644)
    assert [m.kind for m in g.marks] == ["inode"]
    assert eperm(as_nobody("cat", str(conf)))
    assert as_nobody("cat", str(canary)).returncode == 0  # not *.conf


def test_broken_decide_fails_closed(
        canary: Path, start_guard: Callable[..., fa.Guard]) -> None:
    def broken(_req: fa.AccessRequest) -> bool:
        raise RuntimeError("policy bug")

    g = start_guard([fa.Protection("creds", (str(canary),))], broken)
    assert eperm(as_nobody("cat", str(canary)))
    assert g.stats.errors == 1 and g.stats.denied == 1
    deadline = time.monotonic() + 10  # recorded just after the answer is written
    while not g.recent_denials() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [d.uid for d in g.recent_denials()] == [65534]


def test_own_opens_never_deadlock(canary: Path, start_guard: Callable[..., fa.Guard]) -> None:
    """Other threads of the guard's process open the protected file while the
    answering thread is busy judging a foreign open (decide reads only /proc)."""
    asked: list[str] = []

    def decide(req: fa.AccessRequest) -> bool:
        asked.append(Path(f"/proc/{req.identity.pid}/comm").read_text().strip())
        return False

    g = start_guard([fa.Protection("creds", (str(canary),))], decide)
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.extend(
        canary.read_text() for _ in range(50))) for _ in range(4)]
    for t in workers:
        t.start()
    foreign = as_nobody("cat", str(canary))
    for t in workers:
        t.join(15)
    if any(t.is_alive() for t in workers):
        g._close_fds()  # emergency: the kernel then allows, so the test fails, not hangs
        for t in workers:
            t.join(10)
        pytest.fail("the guard deadlocked on its own process's opens")
    assert len(results) == 200 and all("CANARY" in r for r in results)
    assert eperm(foreign) and asked == ["cat"]
    assert g.stats.self_allowed >= 200


@pytest.fixture
def tmpfs(world_dir: Path) -> Iterator[Path]:
    mnt = world_dir / "tmpfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=755", "sw-guard", str(mnt)],
                       capture_output=True, timeout=20)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


BURST = r"""
import os, sys
root = sys.argv[1]
for i in range(int(sys.argv[2])):
    with open(os.path.join(root, f"f{i % 500}"), "rb") as f:
        f.read(1)
print("done")
"""


def test_filesystem_mark_burst_of_unrelated_opens_completes(
        tmpfs: Path, start_guard: Callable[..., fa.Guard]) -> None:
    secret = tmpfs / "home" / "agent" / ".aws"
    secret.mkdir(parents=True)
    (secret / "credentials").write_text("CANARY")
    data = tmpfs / "data"
    data.mkdir()
    for i in range(500):
        (data / f"f{i}").write_text("x")
    g = start_guard([fa.Protection("creds", (str(tmpfs / "home" / "**" / ".aws" / "**"),))],
                    fa.allow_uids(0), cache_allowed=0)  # every open must reach the guard
    assert [m.kind for m in g.marks] == ["filesystem"]
    r = subprocess.run([sys.executable, "-B", "-c", BURST, str(data), "10000"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == b"done"
    assert g.stats.unprotected >= 10000
    assert eperm(as_nobody("cat", str(secret / "credentials")))
    deeper = tmpfs / "home" / "x" / "y" / ".aws"
    deeper.mkdir(parents=True)
    (deeper / "late").write_text("CANARY")
    (deeper / "late").chmod(0o644)
    for p in (tmpfs / "home", tmpfs / "home" / "x", tmpfs / "home" / "x" / "y", deeper):
        p.chmod(0o755)
    assert eperm(as_nobody("cat", str(deeper / "late")))  # created after start


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else b""


def test_killed_guard_fails_open_and_stop_reports_dead(canary: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "daemon.redlines.guard.fanotify",
                             "--protect", f"creds={canary}", "--allow-uid", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _read_line(proc, 20).strip() == b"ready"
        assert eperm(as_nobody("cat", str(canary)))
        assert b'"red_line_id": "creds"' in _read_line(proc, 10)
        proc.kill()
        proc.wait(timeout=20)
        opened = as_nobody("cat", str(canary))
        assert opened.returncode == 0 and b"CANARY" in opened.stdout  # fails open
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=20)


def test_alive_turns_false_after_stop(canary: Path) -> None:
    g = fa.Guard([fa.Protection("creds", (str(canary),))]).start()
    assert g.alive()
    assert g.stop()
    assert not g.alive()
    assert as_nobody("cat", str(canary)).returncode == 0


def test_glob_regex_semantics() -> None:
    r = fa.glob_regex("/etc/kubernetes/*.conf")
    assert r.match("/etc/kubernetes/admin.conf")
    assert not r.match("/etc/kubernetes/sub/admin.conf")
    t = fa.glob_regex("/root/.aws/**")
    assert t.match("/root/.aws/credentials") and t.match("/root/.aws/sso/cache/x.json")
    assert not t.match("/root/.aws")
    h = fa.glob_regex("/home/**/.ssh/id_*")
    assert h.match("/home/a/.ssh/id_rsa") and h.match("/home/.ssh/id_ed25519")
    assert not h.match("/home/a/.ssh/known_hosts")
    with pytest.raises(ValueError, match="absolute"):
        fa.Protection("x", ("relative/path",))


def test_allowed_inodes_are_cached_in_the_kernel_protected_never(
        tmpfs: Path, start_guard: Callable[..., fa.Guard]) -> None:
    """Under a filesystem mark, an unprotected file is judged once: the kernel
    ignore mark keeps later opens away from the guard until the file is
    modified. A protected file is asked about (and denied) every time."""
    secret = tmpfs / "app" / ".env"
    secret.parent.mkdir(parents=True)
    secret.parent.chmod(0o755)
    secret.write_text("TOKEN=canary\n")
    secret.chmod(0o644)
    plain = tmpfs / "app" / "notes.txt"
    plain.write_text("hello\n")
    plain.chmod(0o644)
    g = start_guard([fa.Protection("env-files", (str(tmpfs / "**" / ".env"),))],
                    fa.allow_uids(0))
    assert as_nobody("cat", str(plain)).returncode == 0
    events = g.stats.events
    assert cached(g)
    for _ in range(5):
        assert as_nobody("cat", str(plain)).returncode == 0
    opened_plain_again = g.stats.events - events
    assert opened_plain_again < 5 * 1, "cached inode still reached the guard"  # cat, libs...
    for _ in range(3):
        assert eperm(as_nobody("cat", str(secret)))
    assert g.stats.denied == 3
    # a modification clears the ignore mark: the file is judged again
    before = g.stats.unprotected
    plain.write_text("changed\n")
    assert as_nobody("cat", str(plain)).returncode == 0
    assert g.stats.unprotected > before


def test_cached_file_renamed_onto_a_literal_protected_path_is_denied(
        tmpfs: Path, start_guard: Callable[..., fa.Guard]) -> None:
    """The kernel cache (ignore marks) lives in the filesystem-mark group
    only: a file judged and cached under an unprotected name, then atomically
    renamed onto a literal protected path, is still asked about (by the
    inode/dir-mark group) and denied."""
    app, stage = tmpfs / "app", tmpfs / "stage"
    for d in (app, stage):
        d.mkdir()
        d.chmod(0o755)
    cred = app / "credentials"
    cred.write_text("old\n")
    staged = stage / "credentials.new"
    staged.write_text("rotated = CANARY\n")
    staged.chmod(0o644)
    g = start_guard([fa.Protection("creds", (str(cred),)),
                     fa.Protection("env-files", (str(tmpfs / "**" / ".env"),))],
                    fa.allow_uids(0))
    assert sorted(m.kind for m in g.marks) == ["filesystem", "inode", "inode"]
    assert as_nobody("cat", str(staged)).returncode == 0  # judged unprotected: cached
    assert cached(g)
    os.replace(staged, cred)
    denied = as_nobody("cat", str(cred))
    assert eperm(denied) and b"CANARY" not in denied.stdout


def test_without_the_cache_a_file_renamed_to_a_glob_protected_name_is_denied(
        tmpfs: Path, start_guard: Callable[..., fa.Guard]) -> None:
    """``cache_allowed=0``: every open under the filesystem mark is judged, so
    even a file read under another name and then renamed to ``.env`` is
    denied (the window the cache leaves open, docs/redlines.md)."""
    app = tmpfs / "app"
    app.mkdir()
    app.chmod(0o755)
    plain = app / "settings"
    plain.write_text("TOKEN=canary\n")
    plain.chmod(0o644)
    g = start_guard([fa.Protection("env-files", (str(tmpfs / "**" / ".env"),))],
                    fa.allow_uids(0), cache_allowed=0)
    assert as_nobody("cat", str(plain)).returncode == 0
    os.rename(plain, app / ".env")
    assert eperm(as_nobody("cat", str(app / ".env")))
    assert g.stats.cached == 0
