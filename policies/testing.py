"""Policy unit tests kept next to the policy (like ``opa test``, ``kyverno test``).

A test file (``*_test.yaml`` or ``tests/*.yaml`` in the policy directory)::

    version: 1
    now: 2026-01-10T12:00:00Z          # required here or per case: no wall clock
    cases:
      - name: SSN in a CSV is encrypted after 10 minutes idle
        given:
          path: /srv/agents/acme/sessions/s-1/out.csv   # root and labels follow
          entities: {US_SSN: 3, PERSON: {count: 2, score: 0.85}}
          first_seen: 2h ago            # "3d ago", "in 1h", "now" or a timestamp
          modified: 5m ago              # default: first_seen
          session_ended: 1h ago         # default: the session is running
          # size, last_access, idle_since, encrypted, quarantined, scan
        expect:                         # only the keys given are compared
          rule: restricted-data         # or none
          action: encrypt               # none|record|encrypt|quarantine|delete
          due: in 5m                    # or none
          deadline: in 22h
          # mode, classes, root, labels
        expect_fail: false              # true: the expectation must NOT hold

A case with ``expect_fail: true`` whose expectation holds fails: a test that
cannot fail proves nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError

from policies.decision import Action, Decision, EntityStat, FileFacts
from policies.evaluate import evaluate, match_root
from policies.loader import LoadedPolicy, load_policy, split_files
from policies.schema import Mode, Name, StrictModel
from policies.units import format_duration, parse_duration
from policies.yaml_source import LineMap, errors_from_validation, load_yaml_with_lines
from scratchwarden.errors import PolicyError, PolicyErrors

_RELATIVE = re.compile(r"(?:in\s+(?P<ahead>\S+)|(?P<ago>\S+)\s+ago|(?P<now>now))")
NONE_WORDS = ("none", None)


def parse_when(value: object) -> object:
    """Check a time expression: ``3d ago``, ``in 1h``, ``now`` or a timestamp."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not (m := _RELATIVE.fullmatch(value.strip())):
        raise ValueError(f"expected a time like '3d ago', 'in 1h', 'now' or a timestamp, "
                         f"found {value!r}")
    if not m.group("now"):
        parse_duration(m.group("ahead") or m.group("ago"))
    return value


def resolve_when(value: str | datetime, now: datetime) -> datetime:
    """The absolute time of a checked time expression."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    m = _RELATIVE.fullmatch(value.strip())
    assert m is not None
    if m.group("now"):
        return now
    if m.group("ahead"):
        return now + parse_duration(m.group("ahead"))
    return now - parse_duration(m.group("ago"))


def describe_when(when: datetime | None, now: datetime) -> str:
    """``in 5m`` / ``1h ago`` / ``now`` / ``none``: how results are shown."""
    if when is None:
        return "none"
    delta = when - now
    if delta == timedelta(0):
        return "now"
    return f"in {format_duration(delta)}" if delta > timedelta(0) else \
        f"{format_duration(-delta)} ago"


When = Annotated[str | datetime, AfterValidator(parse_when)]
OptWhen = Annotated[str | datetime | None, AfterValidator(
    lambda v: v if v in NONE_WORDS else parse_when(v))]


class EntityGiven(StrictModel):
    count: Annotated[int, Field(ge=0)]
    score: Annotated[float, BeforeValidator(lambda v: float(v) if type(v) is int else v),
                     Field(ge=0.0, le=1.0)] = 1.0


def _entity_short_form(value: Any) -> Any:
    return {"count": value} if type(value) is int else value


class Given(StrictModel):
    path: str
    root: Name | None = None
    labels: dict[str, str] | None = None
    entities: dict[str, Annotated[EntityGiven, BeforeValidator(_entity_short_form)]] = Field(
        default_factory=dict)
    size: Annotated[int, Field(ge=0)] = 0
    first_seen: When = "now"
    modified: When | None = None
    last_access: When | None = None
    idle_since: When | None = None
    session_ended: When | None = None
    encrypted: bool = False
    quarantined: bool = False
    scan: Literal["scanned", "unscannable"] = "scanned"


class Expect(StrictModel):
    root: str | None = None
    labels: dict[str, str] | None = None
    rule: str | None = None
    mode: Literal["audit", "enforce"] | None = None
    action: Literal["none", "record", "encrypt", "quarantine", "delete"] | None = None
    due: OptWhen = None
    deadline: OptWhen = None
    classes: list[str] | None = None


class Case(StrictModel):
    name: Annotated[str, Field(min_length=1)]
    now: datetime | None = None
    given: Given
    expect: Expect
    expect_fail: bool = False


class TestFile(StrictModel):
    version: Literal[1]
    now: datetime | None = None
    cases: Annotated[list[Case], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case's outcome. ``passed`` already accounts for ``expect_fail``;
    ``diffs`` are the mismatches (``action: expected encrypt, found delete``)."""

    file: str
    line: int
    name: str
    passed: bool
    expect_fail: bool
    diffs: tuple[str, ...]
    decision: Decision | None

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        note = " (expected to fail, but every expectation held)" if (
            self.expect_fail and not self.passed) else ""
        lines = [f"{status} {self.file}:{self.line}: {self.name}{note}"]
        if not self.passed and not self.expect_fail:
            lines += [f"    {d}" for d in self.diffs]
        return "\n".join(lines)


def run_policy_tests(directory: str | Path) -> list[CaseResult]:
    """Load the policy in ``directory`` and run every test file next to it.
    Raises ``PolicyErrors`` if the policy or a test file is invalid.

    Raises:
        PolicyErrors: the policy or a test file is invalid (file:line).
    """
    loaded = load_policy(directory)
    _, test_files = split_files(directory)
    parsed: list[tuple[str, TestFile, LineMap]] = []
    errors: list[PolicyError] = []
    for path in test_files:
        try:
            parsed.append(_load_test_file(path))
        except PolicyErrors as e:
            errors.extend(e.errors)
        except PolicyError as e:
            errors.append(e)
    if errors:
        raise PolicyErrors(errors)
    return [run_case(case, loaded, now=_case_now(case, tf), file=name,
                     line=lines.line(("cases", i)))
            for name, tf, lines in parsed for i, case in enumerate(tf.cases)]


def _case_now(case: Case, tf: TestFile) -> datetime:
    now = case.now or tf.now
    assert now is not None  # checked when loading
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _load_test_file(path: Path) -> tuple[str, TestFile, LineMap]:
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise PolicyError("expected a mapping with 'version: 1' and 'cases:'", file=str(path),
                          line=lines.line(()))
    try:
        tf = TestFile.model_validate(data)
    except ValidationError as e:
        raise PolicyErrors(errors_from_validation(e, lines, model=TestFile)) from e
    missing = [PolicyError(f"cases[{i}]: 'now' is required in the case or at the top of the "
                           f"file (tests never read the clock)", file=str(path),
                           line=lines.line(("cases", i)))
               for i, c in enumerate(tf.cases) if c.now is None and tf.now is None]
    if missing:
        raise PolicyErrors(missing)
    return str(path), tf, lines


def facts_from_given(given: Given, loaded: LoadedPolicy, now: datetime) -> FileFacts:
    """Build the facts the daemon would build for ``given``, at ``now``."""
    match = match_root(given.path, loaded)
    first_seen = resolve_when(given.first_seen, now)

    def opt(v: str | datetime | None) -> datetime | None:
        return None if v is None else resolve_when(v, now)

    labels = dict(match.labels) if match else {}
    labels.update(given.labels or {})
    return FileFacts(
        path=given.path, root=given.root or (match.root.name if match else None),
        first_seen=first_seen, modified=opt(given.modified) or first_seen, size=given.size,
        labels=labels,
        entities={t: EntityStat(e.count, e.score) for t, e in given.entities.items()},
        scan=given.scan, last_access=opt(given.last_access),
        session_ended_at=opt(given.session_ended), idle_since=opt(given.idle_since),
        encrypted=given.encrypted, quarantined=given.quarantined,
        relative=match.relative if match and not given.root else None,
    )


def run_case(case: Case, loaded: LoadedPolicy, *, now: datetime, file: str = "",
             line: int = 0) -> CaseResult:
    """Evaluate one case and compare the decision with its expectation."""
    facts = facts_from_given(case.given, loaded, now)
    decision = evaluate(facts, loaded, now)
    diffs = tuple(_diffs(case.expect, decision, facts, now))
    passed = bool(diffs) if case.expect_fail else not diffs
    return CaseResult(file, line, case.name, passed, case.expect_fail, diffs, decision)


def _diffs(expect: Expect, decision: Decision, facts: FileFacts, now: datetime) -> list[str]:
    """One line per expected key whose actual value differs."""
    found: dict[str, object] = {
        "root": decision.root or "none", "labels": dict(facts.labels),
        "rule": decision.rule or "none", "mode": decision.mode.value,
        "action": decision.action.value, "due": describe_when(decision.due_at, now),
        "deadline": describe_when(decision.deadline, now), "classes": list(decision.classes),
    }
    out = []
    for key in Expect.model_fields:
        want = getattr(expect, key)
        if want is None:
            continue
        if key in ("due", "deadline"):
            shown = "none" if want == "none" else describe_when(resolve_when(want, now), now)
            if shown != found[key]:
                out.append(f"{key}: expected {_text(want)}, found {found[key]}")
        elif want != found[key]:
            out.append(f"{key}: expected {want}, found {found[key]}")
    return out


def _text(value: str | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


__all__ = ["Action", "CaseResult", "Mode", "facts_from_given", "run_case", "run_policy_tests"]
