"""Pure policy evaluation: facts + policy + now in, decision out.

No I/O, no clock, no randomness: the same inputs always give the same
:class:`Decision`, and no input makes it raise (bad times are clamped, naive
times read as UTC). The enforcer in ``daemon`` applies decisions.

Semantics:

* a file belongs to the deepest root whose pattern matches its path
  (``match_root``); root ``exclude`` globs take it out of governance;
* rules are tried in order and the first whose ``match`` holds wins; no match
  means "record only";
* a rule schedules steps: quarantine (due since first seen), encrypt (due
  ``after_idle`` after the file went idle) and delete (due at the retention
  deadline). Steps already done (``encrypted``, ``quarantined``) are dropped.
  The decision's ``action`` is the strongest step that is due, else the
  earliest future step, else ``record``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from policies.decision import STRENGTH, Action, Decision, EntityStat, FileFacts, Step
from policies.globs import compile_glob, compile_root, glob_matches
from policies.loader import LoadedPolicy
from policies.schema import DataClass, Match, Policy, RetainFrom, Root, Rule
from policies.units import format_duration

_MAX = datetime.max.replace(tzinfo=UTC)
_MIN = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RootMatch:
    """A concrete path matched against a root: the root directory it lies in,
    the placeholder values (labels), and the path below that directory
    (``""`` for the directory itself)."""

    root: Root
    labels: Mapping[str, str]
    directory: str
    relative: str
    excluded: bool = False

    @property
    def session(self) -> str | None:
        """The session this path belongs to (the ``{session}`` placeholder)."""
        return self.labels.get("session")


def match_root(path: str, policy: Policy | LoadedPolicy) -> RootMatch | None:
    """The deepest root containing ``path`` (declaration order breaks ties),
    or None. Only normalised absolute paths match (no ``..``, ``.``, ``//`` or
    trailing ``/``): the returned ``directory`` is always a prefix of ``path``."""
    p = policy.policy if isinstance(policy, LoadedPolicy) else policy
    if not path.startswith("/") or "\x00" in path or posixpath.normpath(path) != path:
        return None
    best: RootMatch | None = None
    for root in p.roots:
        m = compile_root(root.path).fullmatch(path)
        if m is None:
            continue
        rest = m.group("__rest") or ""
        directory = (path[: len(path) - len(rest)].rstrip("/") or "/") if rest else path
        if best is None or len(directory) > len(best.directory):
            labels = {k: v for k, v in m.groupdict().items() if k != "__rest"}
            best = RootMatch(root, MappingProxyType(labels), directory, rest,
                             _excluded(root, path, rest))
    return best


def _excluded(root: Root, path: str, relative: str) -> bool:
    return bool(relative) and any(glob_matches(g, path, relative) for g in root.exclude)


def evaluate(facts: FileFacts, policy: LoadedPolicy, now: datetime) -> Decision:
    """Decide what to do with one file. Pure and total."""
    now = _utc(now)
    p = policy.policy
    root = p.root(facts.root) if facts.root is not None else None
    base = _Base(policy, facts.root if root else None)
    if root is None:
        return base.decide(None, Action.NONE, (), ("path is under no declared root",))
    relative = _relative(facts, root, p)
    if relative and _excluded(root, facts.path, relative):
        return base.decide(None, Action.NONE, (),
                           (f"excluded by an exclude pattern of root {root.name!r}",))
    classes = file_classes(facts.entities, p.classes)
    unscannable = ("the file could not be scanned; its classes are unknown",) \
        if facts.scan == "unscannable" else ()
    for rule in p.rules:
        why = _match(rule.match, facts, relative, p.classes, now)
        if why is not None:
            return _schedule(base, rule, facts, now, classes, unscannable + tuple(why))
    return base.decide(None, Action.RECORD, classes,
                       unscannable + ("no rule matched; the file is only recorded",))


@dataclass(frozen=True, slots=True)
class _Base:
    loaded: LoadedPolicy
    root: str | None

    def decide(self, rule: Rule | None, action: Action, classes: tuple[str, ...],
               reasons: Sequence[str], due: datetime | None = None,
               deadline: datetime | None = None, pending: tuple[Step, ...] = ()) -> Decision:
        p = self.loaded.policy
        mode = p.rule_mode(rule) if rule else p.mode
        return Decision(rule.name if rule else None, mode, action, due, deadline, classes,
                        tuple(reasons), self.loaded.revision, self.root, pending)


def _relative(facts: FileFacts, root: Root, policy: Policy) -> str | None:
    if facts.relative is not None:
        return facts.relative
    m = match_root(facts.path, policy)
    return m.relative if m is not None and m.root.name == root.name else None


def file_classes(entities: Mapping[str, EntityStat],
                 classes: Mapping[str, DataClass]) -> tuple[str, ...]:
    """The classes a file belongs to, in policy order."""
    return tuple(name for name, spec in classes.items()
                 if _present(entities, spec.entities, spec.min_score or 0.0))


def _present(entities: Mapping[str, EntityStat], types: Sequence[str], min_score: float) -> list[
        str]:
    return [t for t in types if (s := entities.get(t)) is not None and s.count > 0
            and s.max_score >= min_score]


def _match(m: Match, facts: FileFacts, relative: str | None,
           classes: Mapping[str, DataClass], now: datetime) -> list[str] | None:
    """Reasons the rule matches, or None if any condition fails."""
    reasons: list[str] = []
    checks = (_match_place(m, facts, relative), _match_content(m, facts, classes),
              _match_size_age(m, facts, now))
    for part in checks:
        if part is None:
            return None
        reasons.extend(part)
    return reasons or ["catch-all rule"]


def _match_place(m: Match, facts: FileFacts, relative: str | None) -> list[str] | None:
    out: list[str] = []
    if m.roots is not None:
        if facts.root not in m.roots:
            return None
        out.append(f"in root {facts.root!r}")
    if m.paths is not None:
        hit = next((g for g in m.paths if glob_matches(g, facts.path, relative)), None)
        if hit is None:
            return None
        out.append(f"path matches {hit!r}")
    for name, patterns in (m.labels or {}).items():
        value = facts.labels.get(name)
        if value is None or not any(compile_glob(g).fullmatch(value) for g in patterns):
            return None
        out.append(f"label {name!r} matches")
    if m.scan is not None:
        if facts.scan not in m.scan:
            return None
        out.append(f"scan status is {facts.scan}")
    return out


def _match_content(m: Match, facts: FileFacts,
                   classes: Mapping[str, DataClass]) -> list[str] | None:
    out: list[str] = []
    floor = m.min_score or 0.0
    found: set[str] = set()
    if m.classes is not None:
        hits = {c: _present(facts.entities, classes[c].entities,
                            max(floor, classes[c].min_score or 0.0))
                for c in m.classes if c in classes}
        hits = {c: t for c, t in hits.items() if t}
        if not hits:
            return None
        found.update(t for ts in hits.values() for t in ts)
        out.extend(f"class {c!r} ({', '.join(ts)})" for c, ts in hits.items())
    if m.entities is not None:
        types = _present(facts.entities, m.entities, floor)
        if not types:
            return None
        found.update(types)
        out.append(f"entities {', '.join(types)}")
    if m.min_score is not None and m.classes is None and m.entities is None:
        found.update(_present(facts.entities, sorted(facts.entities), floor))
        if not found:
            return None
        out.append(f"an entity scored at least {floor}")
    if m.min_count > 1:
        if m.classes is None and m.entities is None and m.min_score is None:
            found.update(t for t, s in facts.entities.items() if s.count > 0)
        total = sum(facts.entities[t].count for t in found)
        if total < m.min_count:
            return None
        out.append(f"at least {m.min_count} findings")
    return out


def _match_size_age(m: Match, facts: FileFacts, now: datetime) -> list[str] | None:
    out: list[str] = []
    if m.size is not None:
        if (m.size.min is not None and facts.size < m.size.min) or (
                m.size.max is not None and facts.size > m.size.max):
            return None
        out.append("size in range")
    if m.age is not None:
        since = _utc(facts.first_seen if m.age.since == "first_seen" else facts.modified)
        age = now - since
        if m.age.older_than is not None and age < m.age.older_than:
            return None
        if m.age.younger_than is not None and age >= m.age.younger_than:
            return None
        out.append(f"age since {m.age.since} in range")
    return out


def _schedule(base: _Base, rule: Rule, facts: FileFacts, now: datetime,
              classes: tuple[str, ...], reasons: tuple[str, ...]) -> Decision:
    steps: list[Step] = []
    notes = list(reasons)
    deadline = None
    if rule.quarantine and not facts.quarantined:
        steps.append(Step(Action.QUARANTINE, _utc(facts.first_seen)))
        notes.append("quarantine as soon as seen")
    if rule.encrypt and not facts.encrypted:
        steps.append(Step(Action.ENCRYPT, _add(_idle_since(facts), rule.encrypt.after_idle)))
        notes.append(f"encrypt {format_duration(rule.encrypt.after_idle)} after the file "
                     f"went idle")
    if rule.retain:
        deadline, note = _deadline(rule, facts)
        notes.append(note)
        if deadline is not None:
            steps.append(Step(Action.DELETE, deadline))
    if not steps:
        return base.decide(rule, Action.RECORD, classes, notes + ["nothing left to do"],
                           deadline=deadline)
    step = _next_step(steps, now)
    return base.decide(rule, step.action, classes, notes, step.due_at, deadline,
                       tuple(sorted(steps, key=lambda s: (s.due_at, -STRENGTH[s.action]))))


def _deadline(rule: Rule, facts: FileFacts) -> tuple[datetime | None, str]:
    assert rule.retain is not None
    origin = {RetainFrom.FIRST_SEEN: facts.first_seen, RetainFrom.MODIFIED: facts.modified,
              RetainFrom.SESSION_END: facts.session_ended_at}[rule.retain.from_]
    span = format_duration(rule.retain.for_)
    if origin is None:
        return None, (f"retain {span} from session end; the session has not ended, so no "
                      f"deadline yet")
    return _add(_utc(origin), rule.retain.for_), (
        f"retain {span} from {rule.retain.from_.value}, then delete")


def _next_step(steps: list[Step], now: datetime) -> Step:
    due = [s for s in steps if s.due_at <= now]
    if due:
        return max(due, key=lambda s: (STRENGTH[s.action], -_ts(s.due_at)))
    return min(steps, key=lambda s: (s.due_at, -STRENGTH[s.action]))


def _idle_since(facts: FileFacts) -> datetime:
    if facts.idle_since is not None:
        return _utc(facts.idle_since)
    times = [_utc(facts.modified)] + ([_utc(facts.last_access)] if facts.last_access else [])
    return max(times)


def _ts(dt: datetime) -> float:
    return (dt - _MIN).total_seconds()


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        return _MAX if dt.year > 1 else _MIN


def _add(dt: datetime, delta: timedelta) -> datetime:
    try:
        return dt + delta
    except OverflowError:
        return _MAX if delta >= timedelta(0) else _MIN
