"""Compile red lines (policy) into kernel mechanisms. Pure: strings in, plans out.

Mapping (docs/redlines.md says why):

- ``deny: [remove|rename|truncate|write]`` + ``outside`` -> Landlock: the
  write-ish rights of the denied ops are *handled* and allowed only beneath
  the ``outside`` roots. Landlock models a rename as unlink + link, so
  denying ``rename`` also confines removing and creating.
- ``deny: [read]`` + ``paths`` -> a fanotify ``open`` protection (Landlock
  cannot deny one file inside a readable tree).
- ``deny: [exec]`` + ``paths`` -> a fanotify ``exec`` protection (inode
  based, the wall) plus Landlock exec carving (a speed bump that also holds
  when the guard is dead).
- ``deny: [connect|bind]`` -> Landlock TCP port rules (ABI >= 4). Landlock is
  allow-only: ``except_ports`` is an allow-list as is; ``ports`` (a deny-list)
  becomes an allow rule for every *other* port 0..65535.

A red line in ``audit`` mode is never blocked: it becomes an audit-only guard
protection where fanotify can see it, and nothing at all in Landlock (which
has no audit-only mode). When the kernel's ABI cannot express an ``enforce``
red line, the line is ``unenforceable`` (the launcher refuses) unless it says
``may_degrade``, and then it is ``degraded`` (launched, recorded as such).
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from daemon.redlines.confine import landlock as ll
from daemon.redlines.guard.protection import Protection
from policies.schema import Mode, Policy, RedLine
from scratchwarden.errors import PolicyError

ALL_PORTS = frozenset(range(0, 65536))
_GLOB = re.compile(r"[*?\[]")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# Landlock rights per denied op (rename = unlink from one dir + link into another).
_MAKE = (ll.ACCESS_FS_MAKE_REG | ll.ACCESS_FS_MAKE_DIR | ll.ACCESS_FS_MAKE_SYM
         | ll.ACCESS_FS_MAKE_SOCK | ll.ACCESS_FS_MAKE_FIFO | ll.ACCESS_FS_MAKE_CHAR
         | ll.ACCESS_FS_MAKE_BLOCK)
_REMOVE = ll.ACCESS_FS_REMOVE_FILE | ll.ACCESS_FS_REMOVE_DIR
OP_RIGHTS: dict[str, int] = {
    "write": ll.ACCESS_FS_WRITE_FILE | _MAKE,
    "remove": _REMOVE,
    "rename": ll.ACCESS_FS_REFER | _REMOVE | _MAKE,
    "truncate": ll.ACCESS_FS_TRUNCATE,
}


class Status(enum.StrEnum):
    ENFORCED = "enforced"
    AUDIT = "audit"  # mode audit: observed and recorded, never blocked
    DEGRADED = "degraded"  # may_degrade and this kernel cannot enforce (all of) it
    UNENFORCEABLE = "unenforceable"  # enforce, cannot be enforced, may not degrade


@dataclass(frozen=True)
class Target:
    """Where the red lines are compiled for.

    ``session_dir`` fills ``{session_dir}``; ``homes`` are what ``~`` and
    ``{home}`` stand for (the agent's home; the daemon's guard passes every
    home it protects); ``abi`` is the Landlock ABI (0 = none);
    ``resolve(glob)`` lists the existing files an exec glob matches (the
    caller's I/O; the default only passes literal paths through)."""

    session_dir: str | None = None
    homes: tuple[str, ...] = ("/root",)
    abi: int = 0
    resolve: Callable[[str], Sequence[str]] = field(
        default=lambda p: [] if _GLOB.search(p) else [p], compare=False)


@dataclass(frozen=True)
class LineStatus:
    """How one red line is enforced here."""

    id: str
    kind: str
    mode: str
    status: Status
    mechanisms: tuple[str, ...] = ()
    detail: str = ""
    needs_guard: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "mode": self.mode, "status": str(self.status),
                "mechanisms": list(self.mechanisms), "detail": self.detail,
                "needs_guard": self.needs_guard}


@dataclass(frozen=True)
class GuardProtection:
    """A fanotify protection and whether it only audits (allows, reports)."""

    protection: Protection
    audit: bool = False


@dataclass(frozen=True)
class Compiled:
    landlock: ll.LandlockRules
    guard: tuple[GuardProtection, ...]
    lines: tuple[LineStatus, ...]

    def refused(self) -> list[LineStatus]:
        return [x for x in self.lines if x.status is Status.UNENFORCEABLE]

    def degraded(self) -> list[LineStatus]:
        return [x for x in self.lines if x.status is Status.DEGRADED]


# --- patterns ---------------------------------------------------------------
def expand(pattern: str, target: Target) -> list[str]:
    """A red-line glob as absolute globs: ``~``/``{home}`` -> each home,
    ``{session_dir}`` -> the session dir, a relative pattern -> anywhere.

    Raises:
        PolicyError: the pattern needs the session directory and none was given.
    """
    names = set(_PLACEHOLDER.findall(pattern))
    if "session_dir" in names and target.session_dir is None:
        raise PolicyError(f"red-line pattern {pattern!r} needs the session directory; "
                          "expected --session or --session-dir, found neither")
    pat = pattern.replace("{session_dir}", (target.session_dir or "").rstrip("/") or "/")
    if pat == "~" or pat.startswith("~/"):
        pat = "{home}" + pat[1:]
    if "{home}" in pat:
        return [_norm(pat.replace("{home}", h.rstrip("/") or "/")) for h in target.homes]
    if not pat.startswith("/"):
        pat = "/" + pat if pat.startswith("**/") else "/**/" + pat.removeprefix("./")
    return [_norm(pat)]


def _norm(pat: str) -> str:
    keep_tail = pat.endswith("/**")
    out = os.path.normpath(pat)
    return out if not keep_tail or out.endswith("/**") else out + "/**"


def landlock_root(pattern: str) -> str | None:
    """The directory tree Landlock can grant for an ``outside`` pattern:
    a literal path, or ``DIR/**``. None when a wildcard sits elsewhere."""
    base = pattern[:-3] if pattern.endswith("/**") else pattern
    if _GLOB.search(base):
        return None
    return base or "/"


def _beneath(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def intersect_trees(sets: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Roots allowed by every red line: a root survives if it lies beneath
    some root of each set (two lines allowing /a and /a/b leave /a/b)."""
    if not sets:
        return ()
    candidates = {r for s in sets for r in s}
    keep = [r for r in candidates if all(any(_beneath(r, o) for o in s) for s in sets)]
    return tuple(sorted(keep))


# --- the compiler -----------------------------------------------------------
@dataclass
class _Acc:
    write_mask: int = 0
    write_roots: list[list[str]] = field(default_factory=list)
    connect: frozenset[int] | None = None
    bind: frozenset[int] | None = None
    exec_denied: list[str] = field(default_factory=list)
    truncate_checks: set[str] = field(default_factory=set)
    guard: list[GuardProtection] = field(default_factory=list)
    lines: list[LineStatus] = field(default_factory=list)


def compile_policy(policy: Policy, target: Target) -> Compiled:
    """Every red line of ``policy`` for ``target`` (see the module docstring)."""
    acc = _Acc()
    for line in policy.red_lines:
        mode = policy.red_line_mode(line)
        handler = {"files-outside": _files_outside, "paths": _paths,
                   "network": _network}[line.kind]
        acc.lines.append(handler(line, mode, target, acc))
    return Compiled(_landlock_rules(acc, target.abi), tuple(acc.guard), tuple(acc.lines))


def compile_guard(policy: Policy, homes: Sequence[str]) -> tuple[GuardProtection, ...]:
    """Only the fanotify half (read/exec red lines): what the daemon's guard
    needs, with no session directory in sight."""
    acc = _Acc()
    target = Target(homes=tuple(homes))
    for line in policy.red_lines:
        if line.kind == "paths":
            _paths(line, policy.red_line_mode(line), target, acc)
    return tuple(acc.guard)


def _status(line: RedLine, mode: Mode, mechanisms: Iterable[str], missing: list[str],
            *, needs_guard: bool = False, note: str = "") -> LineStatus:
    mech = tuple(mechanisms)
    if mode is Mode.AUDIT:
        return LineStatus(line.id, line.kind, str(mode), Status.AUDIT, mech,
                          note or "audit mode: recorded, not blocked", needs_guard)
    if missing:
        status = Status.DEGRADED if line.may_degrade else Status.UNENFORCEABLE
        return LineStatus(line.id, line.kind, str(mode), status, mech, "; ".join(missing),
                          needs_guard)
    return LineStatus(line.id, line.kind, str(mode), Status.ENFORCED, mech, note, needs_guard)


def _files_outside(line: RedLine, mode: Mode, target: Target, acc: _Acc) -> LineStatus:
    patterns = [p for pat in line.outside or () for p in expand(pat, target)]
    roots = [landlock_root(p) for p in patterns]
    missing: list[str] = []
    bad = [p for p, r in zip(patterns, roots, strict=True) if r is None]
    if bad:
        missing.append(f"Landlock grants whole trees: expected a path or DIR/**, found {bad}")
    if target.abi < 1:
        missing.append("Landlock is not available on this kernel (ABI 0)")
    if "truncate" in line.deny and 1 <= target.abi < 3:
        missing.append(f"truncate needs Landlock ABI 3, found {target.abi}")
    if mode is Mode.ENFORCE and target.abi >= 1 and not bad:
        for op in line.deny:
            acc.write_mask |= OP_RIGHTS[op]
        if target.abi < 3:  # degraded above: never ask the kernel for what it lacks
            acc.write_mask &= ~ll.ACCESS_FS_TRUNCATE
        acc.write_roots.append([r for r in roots if r is not None])
        if "truncate" in line.deny:
            acc.truncate_checks.add(line.truncate_check or "landlock")
    mechanisms = ["landlock-fs"]
    if line.truncate_check == "supervisor":
        mechanisms.append("seccomp-truncate-supervisor")
    return _status(line, mode, mechanisms, missing,
                   note=f"writable only beneath {', '.join(r or '?' for r in roots)}")


def _paths(line: RedLine, mode: Mode, target: Target, acc: _Acc) -> LineStatus:
    patterns = tuple(dict.fromkeys(p for pat in line.paths or () for p in expand(pat, target)))
    actions = frozenset({"open"} if "read" in line.deny else set()) | frozenset(
        {"exec"} if "exec" in line.deny else set())
    acc.guard.append(GuardProtection(Protection(line.id, patterns, actions),
                                     audit=mode is Mode.AUDIT))
    mechanisms = [f"fanotify-{a}" for a in sorted(actions)]
    if "exec" in line.deny and target.abi >= 1 and mode is Mode.ENFORCE:
        mechanisms.append("landlock-exec-carving")
        acc.exec_denied += [f for p in patterns for f in target.resolve(p)]
    return _status(line, mode, mechanisms, [], needs_guard=True)


def _network(line: RedLine, mode: Mode, target: Target, acc: _Acc) -> LineStatus:
    if line.ports is not None:
        allowed = ALL_PORTS - frozenset(line.ports)
        note = f"TCP {'/'.join(line.deny)} denied to ports {sorted(line.ports)}"
    else:
        allowed = frozenset(line.except_ports or ())
        note = f"TCP {'/'.join(line.deny)} only to ports {sorted(allowed)}"
    missing = [] if target.abi >= 4 else [f"TCP port rules need Landlock ABI 4, "
                                          f"found {target.abi}"]
    if mode is Mode.ENFORCE and not missing:
        if "connect" in line.deny:
            acc.connect = allowed if acc.connect is None else acc.connect & allowed
        if "bind" in line.deny:
            acc.bind = allowed if acc.bind is None else acc.bind & allowed
    return _status(line, mode, ["landlock-net"], missing, note=note)


def _landlock_rules(acc: _Acc, abi: int) -> ll.LandlockRules:
    """Always a ruleset, even an empty one: the launcher then still sets
    no_new_privs, which is how the guard recognises a sandboxed agent."""
    writes = bool(acc.write_roots)
    return ll.LandlockRules(
        read_write=(intersect_trees(acc.write_roots) + ll.DEV_WRITABLE) if writes else None,
        write_rights=acc.write_mask if writes else None,
        executable=("/",) if acc.exec_denied else None,
        exec_denied=tuple(dict.fromkeys(acc.exec_denied)),
        tcp_connect_ports=acc.connect,
        tcp_bind_ports=acc.bind,
        scope_signals=abi >= 6,
        # every truncate-denying line must ask for it: a line that did not
        # keeps the kernel's own check
        truncate_supervisor=acc.truncate_checks == {"supervisor"},
    )
