"""Red-line enforcement overhead, side by side in one run (needs root).

1. An open()-heavy workload (open/read/close N files, in a child process so
   its opens are judged, not self-allowed) with the fanotify guard off, with
   a directory (inode + FAN_EVENT_ON_CHILD) mark, and with a filesystem mark
   (a ``**`` pattern) on a private tmpfs.
2. A file-heavy command (``cp -r`` of a tree) plain vs under the Landlock
   sandbox, plus the fixed cost of the launcher (``true``).

Usage: sudo .venv/bin/python benchmarks/redline_overhead.py [--files 20000] [--reps 5]
Prints medians of ``--reps`` repetitions and the ratio to the unguarded run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.guard import fanotify as fa
from daemon.guard import landlock as ll
from daemon.guard import sandbox

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


@contextmanager
def tmpfs() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sw-bench-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "sw-bench", str(d)],
                   check=True, timeout=30)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], timeout=30)
        shutil.rmtree(d, ignore_errors=True)


def opener_seconds(root: Path, n: int) -> float:
    out = subprocess.run([sys.executable, "-B", "-c", OPENER, str(root), str(n)],
                         capture_output=True, check=True, timeout=600)
    return float(out.stdout)


def median_of(reps: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(reps))


def wall(argv_fn: Callable[[], int]) -> float:
    t = time.perf_counter()
    rc = argv_fn()
    if rc != 0:
        raise RuntimeError(f"benchmark command failed with {rc}")
    return time.perf_counter() - t


def bench_guard(n: int, reps: int) -> list[tuple[str, float]]:
    rows = []
    with tmpfs() as mnt:
        data = mnt / "data"
        data.mkdir()
        for i in range(1000):
            (data / f"f{i}").write_bytes(b"x" * 64)
        (mnt / "home" / "agent" / ".aws").mkdir(parents=True)
        rows.append(("guard off", median_of(reps, lambda: opener_seconds(data, n))))
        dir_mark = [fa.Protection("creds", (str(data / "credentials"),))]
        with fa.Guard(dir_mark, fa.allow_uids(0)):
            rows.append(("guard on, dir mark", median_of(reps, lambda: opener_seconds(data, n))))
        fs_mark = [fa.Protection("creds", (str(mnt / "home" / "**" / ".aws" / "**"),))]
        with fa.Guard(fs_mark, fa.allow_uids(0)):
            rows.append(("guard on, fs mark", median_of(reps, lambda: opener_seconds(data, n))))
    return rows


def bench_landlock(reps: int) -> list[tuple[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="sw-bench-ll-"))
    try:
        tree = work / "tree"
        for d in range(40):
            (tree / f"d{d}").mkdir(parents=True)
            for f in range(100):
                (tree / f"d{d}" / f"f{f}").write_bytes(b"y" * 4096)
        session = work / "session"
        session.mkdir()
        rules = ll.LandlockRules.confine_writes([str(session)], executable=["/"])
        counter = iter(range(10**6))

        def cp(sandboxed: bool) -> float:
            dest = session / f"copy{next(counter)}"
            argv = ["cp", "-r", str(tree), str(dest)]
            if sandboxed:
                return wall(lambda: sandbox.launch(argv, rules, timeout=600))
            return wall(lambda: subprocess.run(argv, timeout=600).returncode)

        rows = [("cp -r 4000 files, plain", median_of(reps, lambda: cp(False))),
                ("cp -r 4000 files, Landlock", median_of(reps, lambda: cp(True))),
                ("true, plain", median_of(reps, lambda: wall(
                    lambda: subprocess.run(["true"], timeout=60).returncode))),
                ("true, Landlock launcher", median_of(reps, lambda: wall(
                    lambda: sandbox.launch(["true"], rules, timeout=60))))]
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def show(title: str, rows: list[tuple[str, float]], base: dict[str, str]) -> None:
    print(title)
    values = dict(rows)
    for name, secs in rows:
        ref = values[base.get(name, name)]
        print(f"  {name:<32} {secs * 1000:10.1f} ms   x{secs / ref:5.2f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"Landlock ABI {ll.abi_version()}; median of {args.reps} runs; ratio vs unguarded")
    show(f"open/read/close of {args.files} files (child process, tmpfs):",
         bench_guard(args.files, args.reps),
         {"guard on, dir mark": "guard off", "guard on, fs mark": "guard off"})
    show("file-heavy command:", bench_landlock(args.reps),
         {"cp -r 4000 files, Landlock": "cp -r 4000 files, plain",
          "true, Landlock launcher": "true, plain"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
