"""When did an agent session end? Retention ``from: session_end`` needs it.

A session is the concrete directory a policy root matched (for
``/srv/agents/{tenant}/sessions/{session}`` that is one session directory);
its id for humans is the ``{session}`` label. It ends, once and for good, at
the first of:

* its directory disappears (observed by a tick);
* the root's ``session.end_marker`` file appears in it (ended at the marker's
  ctime, which the agent cannot backdate, or now if later seen);
* nothing in it changed for the root's ``session.idle_end`` (newest file
  mtime known to the inventory, or the directory's own mtime). Idle ends are
  only decided after a full pass over the inventory since start, so a
  restart never ends a busy session because its newest file was not seen yet;
* ``scratchwarden session end ID`` (an operator).

Why files and not a table: the inventory has no sessions table yet. Each end
is one small write-once JSON file ``<state>/sessions/<sha256(dir)[:32]>.json``
(atomic write, 0600): the CLI and the daemon never read-modify-write a shared
file, so neither can lose the other's record. Each end is also an audit entry
(kind ``session-end``). :class:`SessionTracker` itself does no I/O: it is
given observations and ``now`` and says which sessions ended.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.platform.files import atomic_write, ensure_private_dir

WHY_GONE, WHY_MARKER, WHY_IDLE, WHY_MANUAL = "directory-gone", "marker", "idle", "manual"


@dataclass(frozen=True)
class SessionEnd:
    directory: str
    session: str | None
    ended_at: datetime
    why: str

    def to_json(self) -> bytes:
        return json.dumps({"directory": self.directory, "session": self.session,
                           "ended_at": self.ended_at.isoformat(), "why": self.why},
                          sort_keys=True).encode()


@dataclass(frozen=True)
class SessionSpec:
    """The root's session settings (``policies.schema.SessionEnd``)."""

    end_marker: str | None = None
    idle_end: timedelta | None = None


@dataclass(frozen=True)
class Observation:
    """What a tick saw of one session directory. ``marker_ctime`` is set when
    the marker file exists; ``last_activity`` is the newest change known."""

    directory: str
    session: str | None
    exists: bool
    marker_ctime: datetime | None = None
    last_activity: datetime | None = None


class SessionTracker:
    """Pure session-end logic; persisted ends are fed in with :meth:`load`."""

    def __init__(self, ended: Iterable[SessionEnd] = ()) -> None:
        self._ended: dict[str, SessionEnd] = {}
        self._activity: dict[str, datetime] = {}
        self._known: dict[str, str | None] = {}
        self.load(ended)

    def load(self, ended: Iterable[SessionEnd]) -> None:
        for end in ended:
            self._ended.setdefault(end.directory, end)

    def ended_at(self, directory: str) -> datetime | None:
        end = self._ended.get(directory)
        return end.ended_at if end else None

    def ended(self) -> Mapping[str, SessionEnd]:
        return dict(self._ended)

    def known_open(self) -> dict[str, str | None]:
        """Session directories seen and not ended: re-observed every tick so a
        vanished one is noticed even when no inventory row points at it."""
        return {d: s for d, s in self._known.items() if d not in self._ended}

    def note_activity(self, directory: str, session: str | None, when: datetime) -> None:
        self._known.setdefault(directory, session)
        if directory not in self._activity or when > self._activity[directory]:
            self._activity[directory] = when

    def observe(self, obs: Observation, spec: SessionSpec | None, now: datetime, *,
                idle_decidable: bool) -> SessionEnd | None:
        """The session's end if this observation ends it (and it had not ended)."""
        self._known.setdefault(obs.directory, obs.session)
        if obs.directory in self._ended:
            return None
        if obs.last_activity is not None:
            self.note_activity(obs.directory, obs.session, obs.last_activity)
        end = self._decide(obs, spec, now, idle_decidable)
        if end is not None:
            self._ended[obs.directory] = end
        return end

    def end_manually(self, directory: str, session: str | None, now: datetime) -> SessionEnd:
        end = self._ended.get(directory) or SessionEnd(directory, session, now, WHY_MANUAL)
        self._ended[directory] = end
        return end

    def _decide(self, obs: Observation, spec: SessionSpec | None, now: datetime,
                idle_decidable: bool) -> SessionEnd | None:
        if not obs.exists:
            return SessionEnd(obs.directory, obs.session, now, WHY_GONE)
        if spec is None:
            return None
        if spec.end_marker and obs.marker_ctime is not None:
            return SessionEnd(obs.directory, obs.session, min(now, obs.marker_ctime), WHY_MARKER)
        last = self._activity.get(obs.directory)
        if spec.idle_end is not None and idle_decidable and last is not None \
                and now - last >= spec.idle_end:
            return SessionEnd(obs.directory, obs.session, last + spec.idle_end, WHY_IDLE)
        return None


def observe_directory(directory: str, session: str | None,
                      spec: SessionSpec | None) -> Observation:
    """Look at a session directory (lstat only; nothing is opened or followed)."""
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return Observation(directory, session, False)
    if not os.path.isdir(directory) or os.path.islink(directory):
        return Observation(directory, session, False)
    marker = None
    if spec is not None and spec.end_marker:
        try:
            marker = _utc_ns(os.lstat(os.path.join(directory, spec.end_marker)).st_ctime_ns)
        except FileNotFoundError:
            marker = None
    return Observation(directory, session, True, marker, _utc_ns(st.st_mtime_ns))


def _utc_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


class SessionLog:
    """Write-once session ends under ``<state>/sessions``."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.directory = ensure_private_dir(Path(state_dir) / "sessions", 0o700)
        self._read: set[str] = set()

    @staticmethod
    def file_name(directory: str) -> str:
        return hashlib.sha256(os.fsencode(directory)).hexdigest()[:32] + ".json"

    def record(self, end: SessionEnd) -> bool:
        """Persist ``end`` unless one is already recorded; True if written."""
        path = self.directory / self.file_name(end.directory)
        if path.exists():
            return False
        atomic_write(path, end.to_json(), 0o600)
        self._read.add(path.name)
        return True

    def load_new(self) -> list[SessionEnd]:
        """Ends recorded since the last call (by this process or another)."""
        out: list[SessionEnd] = []
        for p in sorted(self.directory.glob("*.json")):
            if p.name in self._read:
                continue
            self._read.add(p.name)
            try:
                doc = json.loads(p.read_bytes())
                out.append(SessionEnd(str(doc["directory"]), doc.get("session"),
                                      datetime.fromisoformat(doc["ended_at"]), str(doc["why"])))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged record: ignored, the session ends by another signal
        return out
