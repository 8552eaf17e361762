"""End-to-end: the real daemon in the foreground on temporary roots with a real
SQLite inventory and a real sd_notify socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.daemon_harness import running_daemon, write_from_other_process

pytestmark = pytest.mark.slow

EMAIL_TEXT = "contact: jane.roe@example.org\n"


def test_lifecycle_events_reload_and_clean_stop(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    (agents / "acme" / "sessions" / "s1").mkdir(parents=True)
    (agents / "acme" / "sessions" / "s1" / "before.txt").write_text(EMAIL_TEXT)
    pattern = str(agents) + "/{tenant}/sessions/{session}"
    with running_daemon(tmp_path, [pattern], metrics_address="127.0.0.1:0") as d:
        # a file present before start is found by the start-up reconcile
        pre = agents / "acme" / "sessions" / "s1" / "before.txt"
        a = d.wait(lambda: d.asset(pre), desc="start-up reconcile")
        assert a.labels == {"tenant": "acme", "session": "s1"} and a.session == "s1"

        # a file written by another process appears, with its findings
        f1 = agents / "acme" / "sessions" / "s1" / "notes.txt"
        write_from_other_process(f1, EMAIL_TEXT)
        a = d.wait(lambda: d.asset(f1), desc="close-write event")
        assert a.status == "scanned" and a.entity_counts.get("EMAIL_ADDRESS") == 1

        # a session directory created later is discovered
        f2 = agents / "globex" / "sessions" / "s9" / "deep" / "out.json"
        write_from_other_process(f2, json.dumps({"email": "x.y@example.com"}))
        a = d.wait(lambda: d.asset(f2), desc="new session dir")
        assert a.labels == {"tenant": "globex", "session": "s9"}

        # files outside the pattern are ignored
        stray = agents / "acme" / "stray.txt"
        write_from_other_process(stray, EMAIL_TEXT)

        # a deleted file is marked deleted, its row kept
        subprocess.run(["rm", str(f1)], check=True, timeout=10)
        a = d.wait(lambda: (x := d.asset(f1)) and x.status == "deleted" and x,
                   desc="deletion")
        assert a.deleted_at is not None and a.findings  # history kept

        # a rename is reflected: old path deleted, new path recorded
        f3 = f2.with_name("renamed.json")
        subprocess.run(["mv", str(f2), str(f3)], check=True, timeout=10)
        d.wait(lambda: d.asset(f3), desc="renamed file")
        assert d.asset(stray) is None

        # SIGHUP reloads: a new root added to the config is watched
        other = tmp_path / "other"
        (other / "sA").mkdir(parents=True)
        d.config["roots"] = [pattern, str(other) + "/{session}"]
        d.write_config()
        mark = len(d.notify.messages)
        d.signal(signal.SIGHUP)
        i = d.notify.wait_for("RELOADING=1", 30, after=mark)
        d.notify.wait_for("READY=1", 30, after=i)
        f4 = other / "sA" / "x.txt"
        write_from_other_process(f4, EMAIL_TEXT)
        d.wait(lambda: d.asset(f4), desc="file under reloaded root")

        # a broken config on SIGHUP is refused; the daemon keeps running
        d.config_path.write_text("version: 1\nbogus: [\n")
        d.signal(signal.SIGHUP)
        f5 = other / "sA" / "y.txt"
        write_from_other_process(f5, EMAIL_TEXT)
        d.wait(lambda: "reload refused" in d.log_text(), desc="refused reload logged")
        d.wait(lambda: d.asset(f5), desc="file after a refused reload")

        # status and sd_notify
        d.notify.pump()
        assert any(m.startswith("STATUS=queue") for m in d.notify.messages)
        assert "WATCHDOG=1" in d.notify.messages
        status = json.loads((d.state / "status.json").read_text())
        assert status["files_scanned"] >= 4 and status["reconciles"] >= 1

        # Prometheus metrics on the configured local address
        import urllib.request

        with urllib.request.urlopen(status["metrics"], timeout=10) as resp:  # noqa: S310
            text = resp.read().decode()
        scanned = [ln for ln in text.splitlines()
                   if ln.startswith("scratchwarden_files_scanned_total ")]
        assert scanned and float(scanned[0].split()[1]) >= 4
        assert 'scratchwarden_findings_total{entity_type="EMAIL_ADDRESS"}' in text
        assert "scratchwarden_event_to_inventory_seconds_count" in text

        # `scratchwarden status` reads the running daemon's state
        st = subprocess.run([sys.executable, "-m", "daemon", "--state-dir", str(d.state),
                             "status", "--config", str(d.config_path)], capture_output=True,
                            text=True, timeout=60)
        assert st.returncode == 0 and "running" in st.stdout and "queue_depth" in st.stdout

        # SIGTERM: drains and exits cleanly
        assert d.stop(timeout=60) == 0
        d.notify.messages.clear()


def test_stop_notifies_stopping(tmp_path: Path) -> None:
    (tmp_path / "r" / "s").mkdir(parents=True)
    with running_daemon(tmp_path, [str(tmp_path / "r") + "/{session}"]) as d:
        d.signal(signal.SIGTERM)
        assert d.proc.wait(timeout=60) == 0
        d.notify.wait_for("STOPPING=1", 5)


def test_never_reads_a_value_into_logs_or_status(tmp_path: Path) -> None:
    canary = "canary.value.7391@example.net"
    (tmp_path / "r" / "s").mkdir(parents=True)
    f = tmp_path / "r" / "s" / "mail.txt"
    with running_daemon(tmp_path, [str(tmp_path / "r") + "/{session}"], log_level="debug") as d:
        write_from_other_process(f, f"reach me at {canary}\n")
        d.wait(lambda: d.asset(f), desc="canary file")
        d.stop()
    blobs = [d.log_text(), (d.state / "status.json").read_text()]
    blobs += [p.read_bytes().decode("latin-1") for p in d.state.glob("inventory.db*")]
    assert all(canary not in b for b in blobs)


MAX_QUEUED = Path("/proc/sys/fs/inotify/max_queued_events")


@pytest.mark.root
def test_inotify_overflow_is_recovered_by_reconcile(tmp_path: Path) -> None:
    """Force an overflow with a tiny kernel queue and a burst from another
    process; the reconcile it triggers must record every file. (16 events:
    with only the events the daemon asks for, three per file, it kept up with
    this burst in a queue of 64.)"""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root to shrink fs.inotify.max_queued_events")
    root = tmp_path / "r"
    (root / "s").mkdir(parents=True)
    old = MAX_QUEUED.read_text()
    MAX_QUEUED.write_text("16\n")
    try:
        with running_daemon(tmp_path, [str(root) + "/{session}"], workers=2) as d:
            MAX_QUEUED.write_text(old)  # only the daemon's inotify instance is small
            n = 1500
            subprocess.run(
                [sys.executable, "-c",
                 "import os,sys\n"
                 "base=sys.argv[1]\n"
                 "for i in range(int(sys.argv[2])):\n"
                 "    d=os.path.join(base, f'burst{i % 7}')\n"
                 "    os.makedirs(d, exist_ok=True)\n"
                 "    open(os.path.join(d, f'f{i}.txt'), 'w').write('ok\\n')\n",
                 str(root / "s"), str(n)], check=True, timeout=120)
            assert d.store is not None
            d.wait(lambda: d.store.count_assets("test-node") >= n, timeout=600,  # type: ignore[union-attr]
                   desc=f"all {n} burst files recorded")
            # status.json is rewritten once per main-loop tick: wait for it, bounded
            d.wait(lambda: json.loads((d.state / "status.json").read_text())["overflows"] >= 1,
                   timeout=30, desc="the overflow detected (status.json overflows >= 1)")
            missing = [i for i in range(n)
                       if d.asset(root / "s" / f"burst{i % 7}" / f"f{i}.txt") is None]
            assert missing == []
            d.signal(signal.SIGTERM)
            try:
                rc = d.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                d.signal(signal.SIGUSR1)  # faulthandler: thread stacks into the log
                raise AssertionError("SIGTERM did not stop the daemon; stacks:\n"
                                     + d.log_text()[-8000:]) from None
            assert rc == 0
    finally:
        MAX_QUEUED.write_text(old)
