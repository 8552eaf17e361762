"""Drills: attempt every declared red line from inside the sandbox a real agent
gets, and report ENFORCED / NOT ENFORCED / DEGRADED (or AUDITED for an
``audit``-mode line that was let through while a guard watched).

How each kind is attempted (canaries only; a real credential is never opened):

- files-outside: write / create / remove / rename / truncate canaries in a
  directory outside every allowed root, and the same inside a drill session
  dir (must succeed: a sandbox that blocks everything proves nothing);
- read: a canary file created where a protected glob matches, only where no
  file exists yet (parents created are removed afterwards);
- exec: an existing protected binary run with ``--version``, or a copy of
  ``true`` named to match the glob; attempted twice: under the full sandbox
  (Landlock carving + guard) and under no_new_privs only (the guard alone),
  so a dead guard is caught even though Landlock still blocks;
- connect / bind: 127.0.0.1 on a denied port with a listener we start (or the
  service already there: connect-and-close), plus an allowed port as control.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.redlines.compile import Compiled, Status, Target, compile_policy, expand
from daemon.redlines.confine import landlock as ll
from daemon.redlines.confine import sandbox
from daemon.redlines.guard.fanotify import glob_regex
from daemon.redlines.record import AuditRecorder
from daemon.redlines.run import SESSION_ENV, resolve_exec
from policies.schema import Mode, Policy, RedLine

DENIED = frozenset({"EACCES", "EPERM"})
PROBE_TIMEOUT_S = 60
_GLOB = re.compile(r"[*?\[]")
_TAG = "sw-drill"


class DrillStatus(enum.StrEnum):
    ENFORCED = "ENFORCED"
    NOT_ENFORCED = "NOT ENFORCED"
    DEGRADED = "DEGRADED"
    AUDITED = "AUDITED"


@dataclass(frozen=True)
class DrillResult:
    red_line_id: str
    kind: str
    status: DrillStatus
    detail: str = ""
    attempts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"red_line_id": self.red_line_id, "kind": self.kind, "status": str(self.status),
                "detail": self.detail, "attempts": list(self.attempts)}


# --- canaries ---------------------------------------------------------------
def concrete_path(pattern: str, scratch: str) -> str | None:
    """A path matching ``pattern`` to put a canary at: ``/**/x`` goes below
    ``scratch``; wildcards become the drill tag. None if none can be made."""
    if pattern.startswith("/**/"):
        pattern = scratch.rstrip("/") + "/" + pattern[4:]
    if pattern.endswith("/**"):
        pattern = pattern[:-3] + f"/{_TAG}-canary"
    parts = [p for p in pattern.split("/") if p != "**"]
    path = "/".join(re.sub(r"\*+", _TAG, p).replace("?", "x") for p in parts)
    if "[" in path or not glob_regex(pattern).match(path):
        return None
    return path


@dataclass
class _Canaries:
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)

    def make(self, path: str, data: bytes, mode: int) -> None:
        parent = os.path.dirname(path)
        missing = []
        while not os.path.exists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(missing):
            os.mkdir(d, 0o700)
            self.dirs.append(d)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode)
        self.files.append(path)
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def cleanup(self) -> None:
        for f in reversed(self.files):
            with contextlib.suppress(OSError):
                os.unlink(f)
        for d in reversed(self.dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)


# --- one drill run ----------------------------------------------------------
@dataclass
class _Plan:
    """Attempts per red line, run in two probes: ``full`` (the agent sandbox)
    and ``nnp`` (no_new_privs only: what the guard alone enforces)."""

    full: list[dict[str, Any]] = field(default_factory=list)
    nnp: list[dict[str, Any]] = field(default_factory=list)
    owner: list[tuple[str, str, bool]] = field(default_factory=list)  # (id, what, want denied)
    nnp_owner: list[tuple[str, str, bool]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, line_id: str, attempt: dict[str, Any], *, denied: bool,
            nnp: bool = False) -> None:
        if nnp:
            self.nnp.append(attempt)
            self.nnp_owner.append((line_id, _describe(attempt), denied))
        else:
            self.full.append(attempt)
            self.owner.append((line_id, _describe(attempt), denied))

    def note(self, line_id: str, text: str) -> None:
        self.notes.setdefault(line_id, []).append(text)


def _describe(a: dict[str, Any]) -> str:
    return f"{a['op']} {a.get('path') or a.get('port')}"


def pick_outside_base(allowed: Sequence[str]) -> str:
    """A writable directory for the drill that no red line allows writing in."""
    # mkdtemp below makes a private dir, so a shared base is safe here
    for cand in ("/var/tmp", "/var/lib/scratchwarden", "/root", os.getcwd(), "/srv"):  # noqa: S108
        real = os.path.realpath(cand)
        if os.path.isdir(real) and os.access(real, os.W_OK) and not any(
                real == a or real.startswith(a.rstrip("/") + "/") or a == "/" for a in allowed):
            return real
    raise RuntimeError(f"no writable directory outside the allowed roots {list(allowed)}")


def drill(policy: Policy, *, guard_alive: Callable[[], bool] | None = None,
          recorder: AuditRecorder | None = None, homes: Sequence[str] | None = None,
          abi: int | None = None) -> list[DrillResult]:
    """Drill every red line of ``policy`` on this node (as root). The daemon
    calls this at start and daily with its guard's ``alive``."""
    abi = ll.abi_version() if abi is None else abi
    homes = tuple(homes or ("/root",))
    probe_compiled = compile_policy(policy, Target(session_dir="/nonexistent-session",
                                                   homes=homes, abi=abi))
    allowed = [p for p in (probe_compiled.landlock.read_write or ()) if p not in ll.DEV_WRITABLE]
    base = tempfile.mkdtemp(prefix=f"{_TAG}-", dir=pick_outside_base(
        [a for a in allowed if a != "/nonexistent-session"]))
    canaries = _Canaries()
    try:
        with _listeners() as listen:
            session = os.path.join(base, "session")
            os.mkdir(session, 0o700)
            plan = _Plan()
            for line in policy.red_lines:
                _plan_line(line, plan, base, session, canaries, homes, listen)
            target = Target(session_dir=session, homes=homes, abi=abi, resolve=resolve_exec)
            compiled = compile_policy(policy, target)  # after canaries: exec carving sees them
            full = _probe(plan.full, compiled.landlock, session)
            nnp = _probe(plan.nnp, ll.LandlockRules(), session)
        results = _judge(policy, compiled, plan, full, nnp, guard_alive)
    finally:
        canaries.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    if recorder is not None:
        for r in results:
            recorder.append("drill", r.red_line_id, {k: v for k, v in r.as_dict().items()
                                                     if k != "red_line_id"})
    return results


# --- planning attempts ------------------------------------------------------
class _Listen:
    def __init__(self) -> None:
        self.socks: list[socket.socket] = []

    def port(self, port: int = 0) -> int | None:
        """Listen on 127.0.0.1:port (0: any); the port, or ``port`` if it is
        already taken by someone else's listener, or None."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(16)
        except OSError:
            s.close()
            return port if port and _listening(port) else None
        self.socks.append(s)
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _listeners() -> Iterator[_Listen]:
    listen = _Listen()
    try:
        yield listen
    finally:
        for s in listen.socks:
            s.close()


def _plan_line(line: RedLine, plan: _Plan, base: str, session: str, canaries: _Canaries,
               homes: tuple[str, ...], listen: _Listen) -> None:
    if line.kind == "files-outside":
        _plan_files(line, plan, base, session)
    elif line.kind == "network":
        _plan_net(line, plan, listen)
    else:
        _plan_paths(line, plan, base, canaries, homes)


def _plan_files(line: RedLine, plan: _Plan, base: str, session: str) -> None:
    outside = os.path.join(base, "outside")
    os.makedirs(outside, exist_ok=True)
    for where, d, denied in (("outside", outside, True), ("inside", session, False)):
        names = {n: os.path.join(d, f"{line.id}-{n}") for n in ("victim", "trunc", "doomed",
                                                                  "movable")}
        for p in names.values():
            with open(p, "w") as f:
                f.write("canary\n")
        ops = {"write": [{"op": "write", "path": names["victim"]},
                         {"op": "create", "path": os.path.join(d, f"{line.id}-new")}],
               "truncate": [{"op": "truncate", "path": names["trunc"]}],
               "remove": [{"op": "remove", "path": names["doomed"]}],
               "rename": [{"op": "rename", "path": names["movable"],
                           "to": names["movable"] + ".moved"}]}
        for op in line.deny:
            for a in ops[op]:
                plan.add(line.id, {**a, "where": where}, denied=denied)


def _plan_net(line: RedLine, plan: _Plan, listen: _Listen) -> None:
    if line.ports is not None:
        denied = list(line.ports)[:8]
        control = listen.port(0)
    else:
        allowed = frozenset(line.except_ports or ())
        control = next((p for p in (listen.port(q) for q in sorted(allowed)) if p), None)
        free = listen.port(0)
        denied = [free] if free is not None and free not in allowed else []
    for op in line.deny:
        for port in denied:
            if op == "connect" and listen.port(port) is None:
                plan.note(line.id, f"no listener on denied port {port}; connect not drilled")
                continue
            plan.add(line.id, {"op": op, "port": port}, denied=True)
        if op == "connect" and control is not None:
            plan.add(line.id, {"op": "connect", "port": control}, denied=False)


def _plan_paths(line: RedLine, plan: _Plan, base: str, canaries: _Canaries,
                homes: tuple[str, ...]) -> None:
    scratch = os.path.join(base, "anywhere")
    patterns = [p for pat in line.paths or () for p in expand(pat, Target(homes=homes))]
    for pattern in dict.fromkeys(patterns):
        if "read" in line.deny:
            path = _read_canary(pattern, scratch, canaries)
            if path is None:
                plan.note(line.id, f"{pattern}: no canary possible (exists or no concrete "
                                   "path); not drilled")
                continue
            plan.add(line.id, {"op": "read", "path": path}, denied=True)
        if "exec" in line.deny:
            path = _exec_canary(pattern, canaries)
            if path is None:
                plan.note(line.id, f"{pattern}: nothing to execute; not drilled")
                continue
            plan.add(line.id, {"op": "exec", "path": path}, denied=True)
            plan.add(line.id, {"op": "exec", "path": path}, denied=True, nnp=True)


def _read_canary(pattern: str, scratch: str, canaries: _Canaries) -> str | None:
    path = concrete_path(pattern, scratch)
    if path is None or os.path.lexists(path):
        return None
    canaries.make(path, b"scratchwarden drill canary\n", 0o600)
    return path


def _exec_canary(pattern: str, canaries: _Canaries) -> str | None:
    if not _GLOB.search(pattern) and os.path.isfile(pattern):
        return pattern  # a real binary, run with --version
    existing = resolve_exec(pattern)
    path = concrete_path(pattern, "/nonexistent")
    if path is None or os.path.lexists(path) or not os.path.isdir(os.path.dirname(path)):
        return existing[0] if existing else None
    true = shutil.which("true") or "/bin/true"
    with open(true, "rb") as f:
        canaries.make(path, f.read(), 0o755)
    return path


# --- probing and judging ----------------------------------------------------
def _probe(attempts: list[dict[str, Any]], rules: ll.LandlockRules, cwd: str) -> dict[str, str]:
    if not attempts:
        return {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), SESSION_ENV: "drill"}
    argv = [sys.executable, "-I", "-m", "daemon.redlines.probe"]
    proc, _report = sandbox.spawn(argv, rules, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(json.dumps(attempts).encode(), timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise
    try:
        result: dict[str, str] = json.loads(out)
    except ValueError as e:
        raise RuntimeError(f"drill probe failed (exit {proc.returncode}): "
                           f"{err.decode(errors='replace')[-500:]}") from e
    return result


def _judge(policy: Policy, compiled: Compiled, plan: _Plan, full: dict[str, str],
           nnp: dict[str, str], guard_alive: Callable[[], bool] | None) -> list[DrillResult]:
    outcomes: dict[str, list[tuple[str, bool, str]]] = {}
    for i, (lid, what, denied) in enumerate(plan.owner):
        outcomes.setdefault(lid, []).append((what, denied, full.get(str(i), "missing")))
    for i, (lid, what, denied) in enumerate(plan.nnp_owner):
        outcomes.setdefault(lid, []).append((f"{what} (guard alone)", denied,
                                             nnp.get(str(i), "missing")))
    statuses = {x.id: x for x in compiled.lines}
    results = []
    for line in policy.red_lines:
        st = statuses[line.id]
        results.append(_judge_line(line, policy.red_line_mode(line), st.status,
                                   outcomes.get(line.id, []), plan.notes.get(line.id, []),
                                   st.detail, guard_alive))
    return results


def _judge_line(line: RedLine, mode: Mode, status: Status, got: list[tuple[str, bool, str]],
                notes: list[str], detail: str,
                guard_alive: Callable[[], bool] | None) -> DrillResult:
    attempts = tuple(f"{w}: {r} (want {'denied' if d else 'ok'})" for w, d, r in got)
    kind = line.kind
    if status in (Status.DEGRADED, Status.UNENFORCEABLE):
        s = DrillStatus.DEGRADED if status is Status.DEGRADED else DrillStatus.NOT_ENFORCED
        return DrillResult(line.id, kind, s, detail, attempts)
    if not any(d for _w, d, _r in got):
        return DrillResult(line.id, kind, DrillStatus.NOT_ENFORCED,
                           "nothing could be attempted: " + "; ".join(notes), attempts)
    wrong = [f"{w} -> {r}" for w, d, r in got if (r in DENIED) != d]
    if mode is Mode.AUDIT:
        watched = guard_alive() if guard_alive is not None else False
        blocked = [w for w, d, r in got if d and r in DENIED]
        if watched and not blocked:
            return DrillResult(line.id, kind, DrillStatus.AUDITED,
                               "audit mode: attempts allowed and reported by the guard",
                               attempts)
        why = "no live guard observes it" if not watched else f"blocked in audit mode: {blocked}"
        return DrillResult(line.id, kind, DrillStatus.NOT_ENFORCED, why, attempts)
    if wrong:
        return DrillResult(line.id, kind, DrillStatus.NOT_ENFORCED,
                           "unexpected: " + "; ".join(wrong), attempts)
    extra = ("; " + "; ".join(notes)) if notes else ""
    return DrillResult(line.id, kind, DrillStatus.ENFORCED,
                       f"{sum(d for _w, d, _r in got)} attempt(s) denied{extra}", attempts)
