#!/usr/bin/env python3
"""Event-to-inventory latency of the real daemon, and a 100,000-file burst.

Runs ``scratchwarden daemon`` in the foreground on a temporary root with a
real SQLite inventory. A separate writer process creates realistic small agent
files (tool-call JSON, notes, transcripts, logs) at a sustained rate; each
file's latency is the inventory's ``last_scanned`` minus the moment the writer
closed it (both wall clock, one machine). Then one writer creates N files as
fast as it can (default 100,000, many sessions, a realistic share of
duplicate contents) and we time until every one is recorded, checking none is
missing. Peak RSS (daemon + its workers) and CPU seconds come from /proc.

    python benchmarks/daemon_latency.py [--rates 50,200] [--seconds 20]
                                        [--burst 100000] [--workers 0] [--patterns-only]

Prints a table; exits 0. Figures are medians/percentiles of one run: the
machine is noisy, rerun and compare side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIRST = ["Maria", "Peter", "Aisha", "Chen", "Olga", "Samuel", "Lucia", "Tom", "Ingrid", "Ravi"]
LAST = ["Gonzalez", "Novak", "Khan", "Wei", "Petrova", "Okafor", "Rossi", "Baker", "Larsen", "Iyer"]


def make_content(rng: random.Random, i: int) -> tuple[str, str]:
    """(suffix, text) of one realistic small agent scratch file."""
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    email = name.lower().replace(" ", ".") + "@example.com"
    phone = f"212-555-{rng.randint(100, 999):04d}"
    kind = i % 4
    if kind == 0:
        return ".json", json.dumps({"tool": "crm.lookup", "call_id": f"c{i}",
                                    "result": {"name": name, "email": email, "phone": phone,
                                               "tier": rng.choice(["gold", "silver"])}})
    if kind == 1:
        return ".txt", (f"Customer {name} wrote in about order {rng.randint(1000, 9999)}. "
                        f"Reply to {email} or call {phone}. The package was delayed "
                        "twice and they asked for a refund to the original card.\n")
    if kind == 2:
        return ".md", ("## Transcript\nAGENT: How can I help?\n"
                       f"USER: Hi, this is {name}. My account email is {email}.\n"
                       "AGENT: Thanks, I found your account.\n")
    return ".log", "".join(
        f"2026-11-21T10:{m:02d}:00Z INFO step={m} tool=search status=ok ms={rng.randint(5, 90)}\n"
        for m in range(12))


WRITER = r"""
import json, os, sys, time, random
sys.path.insert(0, sys.argv[1])
from benchmarks.daemon_latency import make_content
root, rate, n, dup = sys.argv[2], float(sys.argv[3]), int(sys.argv[5]), float(sys.argv[6])
rng = random.Random(7)
times = {}
t0 = time.monotonic()
pool = []
for i in range(n):
    if rate > 0:
        target = t0 + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    session = f"s{i // 500:04d}" if rate == 0 else f"s{i % 8}"
    d = os.path.join(root, session)
    os.makedirs(d, exist_ok=True)
    if pool and rng.random() < dup:
        suffix, text = rng.choice(pool)
    else:
        suffix, text = make_content(rng, i)
        if len(pool) < 200:
            pool.append((suffix, text))
    p = os.path.join(d, f"f{i:06d}{suffix}")
    with open(p, "w") as f:
        f.write(text)
    times[p] = time.time()
json.dump(times, open(sys.argv[7], "w"))
"""


class Daemon:
    def __init__(self, tmp: Path, root: Path, workers: int, patterns_only: bool) -> None:
        self.state = tmp / "state"
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "version": 1, "node_id": "bench", "roots": [str(root) + "/{session}"],
            "workers": workers, "quiet_period": "2s", "reconcile_interval": "1h",
            "metrics_address": None, "patterns_only": patterns_only,
            "limits": {"max_queue": 20000}, "log_level": "warning"}))
        self.log = open(tmp / "daemon.log", "wb")  # noqa: SIM115
        sock = tmp / "notify.sock"
        import socket
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(sock))
        self.notify.settimeout(300)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--state-dir", str(self.state), "daemon",
             "--config", str(cfg)], cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, NOTIFY_SOCKET=str(sock)))
        while b"READY=1" not in self.notify.recv(4096):
            pass
        self.db = sqlite3.connect(f"file:{self.state / 'inventory.db'}?mode=ro", uri=True)
        self.peak_rss = 0

    def pids(self) -> list[int]:
        """The daemon and every descendant (forkserver, workers): children of
        every thread, not only the main one's."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo += [int(x) for x in (task / "children").read_text().split()]
                except OSError:
                    pass
        return out

    def sample(self) -> None:
        rss = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
            except OSError:
                pass
        self.peak_rss = max(self.peak_rss, rss)

    def cpu_seconds(self) -> float:
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.pids():
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick
            except (OSError, IndexError):
                pass
        return total

    def scanned(self) -> dict[str, float]:
        rows = self.db.execute(
            "SELECT path, last_scanned FROM assets WHERE node='bench' AND deleted_at IS NULL "
            "AND last_scanned IS NOT NULL").fetchall()
        return {p: _ts(t) for p, t in rows}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.db.close()
        self.notify.close()
        self.log.close()


def _ts(text: str) -> float:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        from datetime import UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def write(root: Path, rate: float, n: int, out: Path, dup: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(REPO), str(root), str(rate),
                             "0", str(n), str(dup), str(out)])


def wait_all(d: Daemon, times: dict[str, float], timeout: float) -> tuple[dict[str, float], float]:
    t0 = time.monotonic()
    while True:
        d.sample()
        got = d.scanned()
        done = sum(1 for p in times if p in got)
        if done == len(times) or time.monotonic() - t0 > timeout:
            return got, time.monotonic() - t0
        print(f"  ... {done}/{len(times)} recorded", file=sys.stderr, end="\r")
        time.sleep(1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="50,200")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--burst", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--dup", type=float, default=0.3, help="share of duplicate contents")
    ap.add_argument("--patterns-only", action="store_true")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--idle", type=float, default=30, help="seconds of idle CPU measurement")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sw-latency-") as tmp_s:
        tmp = Path(tmp_s)
        if args.idle:
            root = tmp / "idle"
            root.mkdir()
            (root / "s1").mkdir()
            (tmp / "didle").mkdir()
            d = Daemon(tmp / "didle", root, args.workers, args.patterns_only)
            time.sleep(3)  # let the start-up reconcile finish
            cpu0 = d.cpu_seconds()
            time.sleep(args.idle)
            d.sample()
            idle_cpu = d.cpu_seconds() - cpu0
            rows.append((f"idle {args.idle:.0f}s ({100 * idle_cpu / args.idle:.2f}% of a core)",
                         0, 0, float("nan"), float("nan"), d.peak_rss, idle_cpu))
            d.stop()
        for rate in [float(r) for r in args.rates.split(",") if r]:
            root = tmp / f"rate{int(rate)}"
            root.mkdir()
            (tmp / f"d{int(rate)}").mkdir()
            d = Daemon(tmp / f"d{int(rate)}", root, args.workers, args.patterns_only)
            n = int(rate * args.seconds)
            out = tmp / f"times{int(rate)}.json"
            cpu0 = d.cpu_seconds()
            w = write(root, rate, n, out, args.dup)
            while w.poll() is None:
                d.sample()
                time.sleep(0.2)
            times = json.loads(out.read_text())
            got, _ = wait_all(d, times, args.timeout)
            lat = [got[p] - t for p, t in times.items() if p in got]
            rows.append((f"{rate:.0f} files/s x {args.seconds:.0f}s", len(times),
                         len(times) - len(lat), pct(lat, 0.5), pct(lat, 0.99),
                         d.peak_rss, d.cpu_seconds() - cpu0))
            d.stop()
        if args.burst:
            root = tmp / "burst"
            root.mkdir()
            (tmp / "dburst").mkdir()
            d = Daemon(tmp / "dburst", root, args.workers, args.patterns_only)
            out = tmp / "times-burst.json"
            cpu0 = d.cpu_seconds()
            t0 = time.monotonic()
            w = write(root, 0, args.burst, out, args.dup)
            while w.poll() is None:
                d.sample()
                time.sleep(0.5)
            write_s = time.monotonic() - t0
            times = json.loads(out.read_text())
            got, _ = wait_all(d, times, args.timeout)
            total = time.monotonic() - t0
            missing = sum(1 for p in times if p not in got)
            rows.append((f"burst {args.burst} (written in {write_s:.1f}s)", len(times), missing,
                         float("nan"), total, d.peak_rss, d.cpu_seconds() - cpu0))
            d.stop()
    mode = "patterns-only" if args.patterns_only else "NER + patterns"
    print(f"\nscratchwarden daemon latency ({mode}, workers={args.workers or os.cpu_count()}, "
          f"{os.cpu_count()} cores)")
    print(f"{'load':38} {'files':>7} {'missing':>7} {'p50 s':>7} {'p99 s':>8} "
          f"{'peak RSS MB':>11} {'CPU s':>7} {'CPU s/1k':>8}")
    for name, n, missing, p50, p99, rss, cpu in rows:
        last = "all recorded after" if name.startswith("burst") else ""
        per_k = f"{1000 * cpu / n:8.2f}" if n else f"{'':8}"
        print(f"{name:38} {n:7d} {missing:7d} {p50:7.3f} {p99:8.3f} {rss / 2**20:11.0f} "
              f"{cpu:7.1f} {per_k} {last}")
    print("(burst row: the p99 column is the seconds from the first write until every "
          "file was recorded; CPU s/1k: CPU seconds of the daemon, its forkserver and "
          "workers per 1000 files)")


if __name__ == "__main__":
    main()
