"""Red-line enforcement overhead, side by side in one run (needs root).

1. An open()-heavy workload on *unrelated* files on the root filesystem
   (open/read/close N files in a child process of uid 65534, so its opens are
   judged by the guard), with:
   - the guard off;
   - the daemon's guard (``RedLineGuard``, own process) protecting credential
     paths that take inode/dir marks only (existing dirs, literal files);
   - the same guard with the shipped example policy as is: its ``**/.env``
     patterns (and missing ``~/.aws`` dirs) need FAN_MARK_FILESYSTEM, so every
     open on the filesystem goes through the guard.
2. A file-heavy command (``cp -r`` of 4000 files) plain vs under
   ``scratchwarden run`` with the example policy (Landlock fs rules + ~65k TCP
   port rules for the deny-list), and ``true`` both ways: the fixed launcher
   start-up, and the per-operation cost with the start-up subtracted.

Usage: sudo .venv/bin/python benchmarks/redline_overhead.py [--files 20000] [--reps 5]
Prints medians of ``--reps`` runs and the ratio to the unguarded run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemon.guard import landlock as ll
from daemon.redlines.identity import AgentIdentity
from daemon.redlines.runtime import RedLineGuard
from policies.loader import load_policy
from policies.schema import Mode, Policy, RedLine

EXAMPLES = Path(__file__).resolve().parent.parent / "policies" / "examples"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
FILE_OPS = r"""
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
t = time.perf_counter()
for i in range(n):
    p = os.path.join(d, f"f{i}")
    with open(p, "w") as f:
        f.write("z" * 512)
    os.rename(p, p + ".r")
    os.truncate(p + ".r", 0)
    os.stat(p + ".r")
for i in range(n):
    os.unlink(os.path.join(d, f"f{i}.r"))
print(time.perf_counter() - t)
"""
OPENER = r"""
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
names = [os.path.join(root, f"f{i % 1000}") for i in range(n)]
t = time.perf_counter()
for p in names:
    fd = os.open(p, os.O_RDONLY)
    os.read(fd, 16)
    os.close(fd)
print(time.perf_counter() - t)
"""


def opener_seconds(root: Path, n: int) -> float:
    out = subprocess.run([*NOBODY, sys.executable, "-B", "-c", OPENER, str(root), str(n)],
                         capture_output=True, check=True, timeout=600)
    return float(out.stdout)


def median_of(reps: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(reps))


def paired(reps: int, base: Callable[[], float], other: Callable[[], float]
           ) -> tuple[float, float]:
    """Medians of ``base`` and ``other`` run alternately (ABAB...), so drift in
    the machine's load or the disk's state hits both sides alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(reps):
        first, second = (base, other) if i % 2 == 0 else (other, base)
        x, y = first(), second()
        if i % 2:
            x, y = y, x
        a.append(x)
        b.append(y)
    return statistics.median(a), statistics.median(b)


def wall(fn: Callable[[], int]) -> float:
    t = time.perf_counter()
    rc = fn()
    if rc != 0:
        raise RuntimeError(f"benchmark command failed with {rc}")
    return time.perf_counter() - t


def dir_mark_policy(creds: Path) -> Policy:
    """Credential red lines that take inode/dir marks only."""
    line = RedLine(id="no-cloud-credentials", reason="bench", deny=["read"],
                   paths=[f"{creds}/.aws/*", f"{creds}/.kube/config", f"{creds}/.ssh/*"])
    return Policy(mode=Mode.ENFORCE, red_lines=(line,))


def bench_guard(n: int, reps: int, work: Path) -> list[tuple[str, float]]:
    data = work / "data"
    data.mkdir()
    for i in range(1000):
        (data / f"f{i}").write_bytes(b"x" * 64)
    creds = work / "home"
    for d in (".aws", ".kube", ".ssh"):
        (creds / d).mkdir(parents=True)
    for p in (work, data):
        p.chmod(0o755)
    identity = AgentIdentity(trusted_pids=frozenset({os.getpid()}))
    rows = [("guard off", median_of(reps, lambda: opener_seconds(data, n)))]
    for name, policy in (("guard on, dir/inode marks", dir_mark_policy(creds)),
                         ("guard on, example policy (fs mark)",
                          load_policy(EXAMPLES).policy)):
        guard = RedLineGuard(identity=identity, homes=(str(creds),))
        guard.start(policy)
        try:
            kinds = sorted({m["kind"] for m in guard.marks})
            rows.append((f"{name} {kinds}", median_of(reps, lambda: opener_seconds(data, n))))
        finally:
            guard.stop()
    return rows


def bench_run(reps: int, work: Path) -> list[tuple[str, float]]:
    tree = work / "tree"
    for d in range(40):
        (tree / f"d{d}").mkdir(parents=True)
        for f in range(100):
            (tree / f"d{d}" / f"f{f}").write_bytes(b"y" * 4096)
    session = work / "session"
    session.mkdir()
    counter = iter(range(10**6))
    run = [sys.executable, "-c", "from daemon.cli_redlines import run_cmd; run_cmd()",
           "--policy", str(EXAMPLES), "--session-dir", str(session), "--"]

    def cmd(argv: list[str], sandboxed: bool) -> float:
        full = [*run, *argv] if sandboxed else argv
        return wall(lambda: subprocess.run(full, timeout=600).returncode)

    def cp(sandboxed: bool) -> float:
        return cmd(["cp", "-r", str(tree), str(session / f"copy{next(counter)}")], sandboxed)

    def ops(sandboxed: bool) -> float:
        argv = [sys.executable, "-B", "-c", FILE_OPS, str(session / f"ops{next(counter)}"),
                "4000"]
        full = [*run, *argv] if sandboxed else argv
        return float(subprocess.run(full, capture_output=True, check=True, timeout=600).stdout)

    ops_plain, ops_run = paired(reps, lambda: ops(False), lambda: ops(True))
    cp_plain, cp_run = paired(reps, lambda: cp(False), lambda: cp(True))
    true_plain, true_run = paired(reps, lambda: cmd(["true"], False),
                                  lambda: cmd(["true"], True))
    return [("file ops x4000, plain", ops_plain),
            ("file ops x4000, under scratchwarden run", ops_run),
            ("cp -r 4000 files, plain", cp_plain),
            ("cp -r 4000 files, scratchwarden run", cp_run),
            ("true, plain", true_plain),
            ("true, scratchwarden run", true_run)]


def show(title: str, rows: list[tuple[str, float]], base: str) -> None:
    print(title)
    ref = dict(rows)[base]
    for name, secs in rows:
        print(f"  {name:<58} {secs * 1000:9.1f} ms   x{secs / ref:5.2f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"Landlock ABI {ll.abi_version()}; median of {args.reps} runs; "
          f"load average {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="sw-bench-", dir="/var/tmp"))  # root fs, not tmpfs
    try:
        show(f"open/read/close of {args.files} unrelated files (uid 65534, root fs):",
             bench_guard(args.files, args.reps, work), "guard off")
        rows = bench_run(args.reps, work)
        show("steady state (timed inside the command, no start-up):", rows[:2],
             rows[0][0])
        show("file-heavy command, wall clock:", rows[2:4], "cp -r 4000 files, plain")
        show("launcher start-up:", rows[4:], "true, plain")
        v = dict(rows)
        startup = v["true, scratchwarden run"] - v["true, plain"]
        steady = (v["cp -r 4000 files, scratchwarden run"] - startup) / v[
            "cp -r 4000 files, plain"]
        print(f"  fixed start-up of scratchwarden run: {startup * 1000:.0f} ms; "
              f"cp under Landlock with start-up subtracted: x{steady:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
