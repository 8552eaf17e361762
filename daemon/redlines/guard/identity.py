"""Who the red lines apply to ("the agent identity"), decided per process.

The schema has no ``applies_to`` yet, so the node decides. Default:

1. the guard's own process (always, by pid) and ``trusted_pids`` (the
   daemon) may open anything; so may ``trusted_cgroups`` (the daemon's own
   service cgroup under systemd, so its scan workers can read ``.env`` files
   they must scan);
2. an *agent* is a process whose effective uid is not in ``trusted_uids``
   (default: every uid but root), or whose cgroup lies beneath one of
   ``cgroups``, or which runs with no_new_privs when ``sandboxed`` is set:
   every process started by ``scratchwarden run`` has it and can never drop
   it, so a root agent is caught too;
3. anything else (root services, an operator's shell) is allowed.

A process the guard cannot identify (gone, other pid namespace) is denied by
the guard itself before this runs (fail closed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from daemon.redlines.guard.fanotify import Identity


def _beneath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class AgentIdentity:
    trusted_uids: frozenset[int] = frozenset({0})
    agent_uids: frozenset[int] | None = None  # None: every uid not trusted
    sandboxed: bool = True
    cgroups: tuple[str, ...] = ()
    trusted_pids: frozenset[int] = frozenset()
    trusted_cgroups: tuple[str, ...] = field(default=())

    def is_agent(self, ident: Identity) -> bool:
        """True when the red lines apply to this process (see the module doc)."""
        if ident.pid in self.trusted_pids:
            return False
        if any(_beneath(ident.cgroup, c) for c in self.trusted_cgroups):
            return False
        if self.agent_uids is not None and ident.uid in self.agent_uids:
            return True
        if self.agent_uids is None and ident.uid not in self.trusted_uids:
            return True
        if any(_beneath(ident.cgroup, c) for c in self.cgroups):
            return True
        return self.sandboxed and ident.no_new_privs

    def to_dict(self) -> dict[str, Any]:
        return {"trusted_uids": sorted(self.trusted_uids),
                "agent_uids": None if self.agent_uids is None else sorted(self.agent_uids),
                "sandboxed": self.sandboxed, "cgroups": list(self.cgroups),
                "trusted_pids": sorted(self.trusted_pids),
                "trusted_cgroups": list(self.trusted_cgroups)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgentIdentity:
        agents = d.get("agent_uids")
        return cls(trusted_uids=frozenset(int(u) for u in d.get("trusted_uids", [0])),
                   agent_uids=None if agents is None else frozenset(int(u) for u in agents),
                   sandboxed=bool(d.get("sandboxed", True)),
                   cgroups=tuple(str(c) for c in d.get("cgroups", ())),
                   trusted_pids=frozenset(int(p) for p in d.get("trusted_pids", ())),
                   trusted_cgroups=tuple(str(c) for c in d.get("trusted_cgroups", ())))


def own_cgroup(pid: int | None = None) -> str:
    """This process's cgroup v2 path ('' if unknown)."""
    try:
        with open(f"/proc/{pid or os.getpid()}/cgroup", encoding="utf-8") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        return ""
    return ""


def for_daemon(daemon_pid: int | None = None, *, extra_trusted_pids: Iterable[int] = (),
               **overrides: Any) -> AgentIdentity:
    """The default identity for a daemon: trust its pid, and its service cgroup
    when it runs as a systemd service (``*.service``), never the root cgroup."""
    pid = daemon_pid or os.getpid()
    cg = own_cgroup(pid)
    trusted_cg = (cg,) if cg.endswith(".service") else ()
    base = AgentIdentity(trusted_pids=frozenset({pid, *extra_trusted_pids}),
                         trusted_cgroups=trusted_cg)
    return replace(base, **overrides)
