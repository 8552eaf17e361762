"""The fanotify guard in its own process: ``python -m daemon.redlines.guard.process``.

Why a process of its own: the answering thread must never wait on the GIL
held by a daemon thread that is itself blocked in an open() of a marked file
(see ``daemon.redlines.guard.fanotify``); a small process only answers.

Protocol: one JSON config on stdin (protections, audit ids, identity), then
stdin stays open; EOF on stdin (the daemon died) or SIGTERM stops the guard.
stdout carries JSON lines: ``{"event": "ready"}`` once the marks are placed,
``{"event": "heartbeat", "alive": bool}`` every second, and one
``{"event": "block"|"audit", ...}`` per blocked or audited access. Nothing
read from a protected file ever passes here: paths and process facts only.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from daemon.redlines.guard import fanotify as fa
from daemon.redlines.guard.identity import AgentIdentity

_out_lock = threading.Lock()


def emit(obj: dict[str, Any]) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def session_of(pid: int) -> str | None:
    """The session a ``scratchwarden run`` child claims (its environment;
    informational only). Read from /proc only (never a marked file system),
    so it may run while answering: for a denial it is read then, while the
    opener is still blocked in open() and certainly alive."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"SCRATCHWARDEN_SESSION="):
            return item.split(b"=", 1)[1].decode(errors="replace")[:200]
    return None


def load_config(text: str) -> tuple[list[fa.Protection], frozenset[str], AgentIdentity]:
    cfg = json.loads(text)
    prots = [fa.Protection(p["id"], tuple(p["patterns"]), frozenset(p["actions"]))
             for p in cfg["protections"]]
    return prots, frozenset(cfg.get("audit_ids", ())), AgentIdentity.from_dict(cfg["identity"])


Audited = tuple[fa.AccessRequest, str | None]
MAX_PENDING_SESSIONS = 10_000


def make_decide(identity: AgentIdentity, audit_ids: frozenset[str],
                audits: queue.SimpleQueue[Audited],
                sessions: dict[int, str | None] | None = None) -> fa.Decide:
    """Allow non-agents; deny agents, except on audit-only red lines, where the
    access is allowed and queued for reporting. Runs while answering: its only
    I/O is the opener's /proc environ (``session_of``), read for the report
    now, because the opener may be gone by the time the reporter runs."""

    def decide(request: fa.AccessRequest) -> bool:
        if not identity.is_agent(request.identity):
            return True
        session = session_of(request.identity.pid)
        if request.red_line_id in audit_ids:
            audits.put((request, session))
            return True
        if sessions is not None:
            if len(sessions) >= MAX_PENDING_SESSIONS:  # reports were dropped: start over
                sessions.clear()
            sessions[request.identity.pid] = session
        return False

    return decide


def _report_audits(audits: queue.SimpleQueue[Audited | None]) -> None:
    while (item := audits.get()) is not None:
        req, session = item
        i = req.identity
        emit({"event": "audit", "red_line_id": req.red_line_id, "action": req.action,
              "path": req.path, "pid": i.pid, "exe": i.exe, "uid": i.uid, "cgroup": i.cgroup,
              "time": time.time(), "reason": "audit-mode", "session": session})


def main() -> int:
    protections, audit_ids, identity = load_config(sys.stdin.readline())
    audits: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sessions: dict[int, str | None] = {}
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def on_denial(d: fa.Denial) -> None:
        session = sessions.pop(d.pid) if d.pid in sessions else session_of(d.pid)
        emit({"event": "block", **asdict(d), "session": session})

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent is gone
        done.set()

    guard = fa.Guard(protections, make_decide(identity, audit_ids, audits, sessions),
                     on_denial=on_denial)
    reporter = threading.Thread(target=_report_audits, args=(audits,), daemon=True)
    reporter.start()
    threading.Thread(target=watch_stdin, daemon=True).start()
    with guard:
        emit({"event": "ready", "pid": os.getpid(),
              "marks": [asdict(m) for m in guard.marks]})
        while not done.wait(1.0):
            emit({"event": "heartbeat", "alive": guard.alive(), "denied": guard.stats.denied})
            if not guard.alive():
                return 1
    audits.put(None)
    reporter.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
