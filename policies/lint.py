"""Lint: legal policies that are probably not what the author meant.

Warnings never block loading; ``scratchwarden policy check`` prints them."""

from __future__ import annotations

from collections.abc import Mapping

from policies.loader import LoadedPolicy, Location, PolicyWarning
from policies.schema import RetainFrom
from policies.yaml_source import LineMap
from scratchwarden.entities import KNOWN_TYPES

# Entity types the scanner can emit (the shared catalogue). Others are legal
# (custom recognizers) but get a warning, because a typo such as US_SNN would
# silently never match.
KNOWN_ENTITIES = KNOWN_TYPES


def lint(loaded: LoadedPolicy, lines: Mapping[str, LineMap]) -> list[PolicyWarning]:
    """All warnings for a loaded policy, in a stable order."""
    return (_lint_roots(loaded) + _lint_rules(loaded) + _lint_classes(loaded)
            + _lint_mode(loaded, lines))


def _at(loaded: LoadedPolicy, key: str) -> Location | None:
    return loaded.origins.get(key)


def _warn(message: str, where: Location | None) -> PolicyWarning:
    return PolicyWarning(message, where.file if where else None, where.line if where else None)


def _lint_mode(loaded: LoadedPolicy, lines: Mapping[str, LineMap]) -> list[PolicyWarning]:
    if loaded.policy.mode_set:
        return []
    first = next(iter(lines), None)
    return [PolicyWarning("no global 'mode:' is set; rules and red lines without their own "
                          "mode only audit", first, 1 if first else None)]


def _lint_roots(loaded: LoadedPolicy) -> list[PolicyWarning]:
    if not loaded.policy.roots:
        return [PolicyWarning("no roots are declared; no file is governed by this policy")]
    return []


def _lint_rules(loaded: LoadedPolicy) -> list[PolicyWarning]:
    policy = loaded.policy
    out: list[PolicyWarning] = []
    if not policy.rules:
        return [PolicyWarning("no rules; every file is only recorded")]
    sessionless = [r.name for r in policy.roots if "session" not in r.placeholders]
    catch_all: str | None = None
    for rule in policy.rules:
        where = _at(loaded, f"rule:{rule.name}")
        if catch_all is not None:
            out.append(_warn(f"rule {rule.name!r} is unreachable: the catch-all rule "
                             f"{catch_all!r} comes before it", where))
        elif rule.match.is_catch_all:
            catch_all = rule.name
        if rule.retain and rule.retain.from_ is RetainFrom.SESSION_END and sessionless:
            out.append(_warn(f"rule {rule.name!r} retains from session_end, but root(s) "
                             f"{', '.join(sessionless)} have no {{session}} placeholder: their "
                             f"files have no session end and are never deleted", where))
        out.extend(_lint_entities(rule.match.entities or (), where, f"rule {rule.name!r}"))
        out.extend(_lint_labels(loaded, rule.name, rule.match.labels or {}, where))
    if catch_all is None:
        out.append(_warn("the last rule is not a catch-all (a rule without match:); files "
                         "that match no rule are only recorded",
                         _at(loaded, f"rule:{policy.rules[-1].name}")))
    return out


def _lint_labels(loaded: LoadedPolicy, rule: str, labels: Mapping[str, object],
                 where: Location | None) -> list[PolicyWarning]:
    known = {p for r in loaded.policy.roots for p in r.placeholders}
    return [_warn(f"rule {rule!r} matches label {name!r}, which no root path defines "
                  f"(known: {', '.join(sorted(known)) or 'none'}); it can never match", where)
            for name in labels if name not in known]


def _lint_entities(entities: object, where: Location | None, owner: str) -> list[PolicyWarning]:
    assert isinstance(entities, (list, tuple))
    return [_warn(f"{owner}: entity type {e!r} is not emitted by any built-in recognizer; "
                  f"check the spelling or make sure a custom recognizer emits it", where)
            for e in entities if e not in KNOWN_ENTITIES]


def _lint_classes(loaded: LoadedPolicy) -> list[PolicyWarning]:
    policy = loaded.policy
    used = {c for rule in policy.rules for c in (rule.match.classes or ())}
    out: list[PolicyWarning] = []
    for name, spec in policy.classes.items():
        where = _at(loaded, f"class:{name}")
        if name not in used:
            out.append(_warn(f"class {name!r} is not used by any rule", where))
        out.extend(_lint_entities(spec.entities, where, f"class {name!r}"))
    return out
