"""Presidio's ``PatternRecognizer.analyze``, without its per-match overhead.

Why: on the pattern path (docs/adr/0006-pattern-path.md) the regexes now run
only on trigger windows, and what is left per match is Presidio's
bookkeeping: a ``datetime.now()`` and a debug log per pattern, an
``AnalysisExplanation`` per match (nothing of ours reads it: findings keep
type, offsets, score and recognizer name), and one ``validate_result`` /
``invalidate_result`` call per match even when the same address or number
occurs a hundred times in a chunk (a contacts CSV repeats its domains).

:func:`lean_analyze` is a line-by-line re-implementation of
``PatternRecognizer.__analyze_patterns`` (presidio-analyzer 2.2.x) for
recognizers whose ``analyze`` is Presidio's own: the same compiled ``regex``
patterns with the same flags and timeout, matches skipped when empty, the
same score rule (validation True -> 1.0, False -> 0.0, invalidation -> 0.0,
kept when above 0.0), the same recognizer metadata, then Presidio's
``remove_duplicates`` rule on ``(start, end, score)`` tuples, so only the
surviving results become ``RecognizerResult`` objects. Two differences,
neither visible in a finding:

* ``analysis_explanation`` is ``None`` (our context step accepts that);
* validation results are cached per distinct matched string for the length
  of one call (one chunk). Validators look only at the matched text
  (Presidio's contract: "Only the part in text that was detected"), so a
  repeated string gets the same answer; emails are cached by the host part
  tldextract reads (:func:`verdict_key`). The cache is a local dict, dropped
  on return: never stored, never logged.

``tests/scan/test_lean.py`` compares it with Presidio's ``analyze`` on every
windowable recognizer over generated texts.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.pattern_recognizer import REGEX_TIMEOUT_SECONDS
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IbanRecognizer, IpRecognizer

from daemon.scan.foreign import lenient_netloc

_lenient_netloc: Callable[[str], str] | None = lenient_netloc()
"""tldextract's host-part reader (``foreign``); ``None``: verdicts per matched string."""

_log = logging.getLogger(__name__)
_MIN_SCORE = EntityRecognizer.MIN_SCORE
_NAME_KEY = RecognizerResult.RECOGNIZER_NAME_KEY
_ID_KEY = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY


def is_lean(recognizer: EntityRecognizer) -> bool:
    """True when ``recognizer`` analyzes exactly as Presidio's ``PatternRecognizer``
    or ``IbanRecognizer`` (its class does not override ``analyze``), so
    :func:`lean_analyze` may stand in."""
    return (isinstance(recognizer, PatternRecognizer)
            and type(recognizer).analyze in (PatternRecognizer.analyze, IbanRecognizer.analyze))


def _compiled(pattern: Any, flags: int) -> Any:
    """The pattern compiled with ``flags``, cached on the pattern as Presidio does."""
    if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
        pattern.compiled_with_flags = flags
        pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)
    return pattern.compiled_regex


def precompile(recognizer: EntityRecognizer) -> None:
    """Compile now every regex :func:`lean_analyze` would compile on first use
    for ``recognizer`` (none unless :func:`is_lean`).
    Presidio compiles a pattern the first time its recognizer runs, ~3 ms
    each with ``regex``: a fresh worker paid ~0.3 s of it on its first files."""
    if not is_lean(recognizer):
        return
    rec: Any = recognizer
    flags: int = rec.global_regex_flags
    iban = type(recognizer).analyze is IbanRecognizer.analyze
    for pattern in rec.patterns or ():
        if iban:
            _iban_compiled(pattern.regex, flags)
        else:
            _compiled(pattern, flags)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}(?:/(?:3[0-2]|[12]?[0-9]))?")
"""A dotted quad without leading zeros, with an optional prefix length of at
most 32 written without a leading zero: ``ipaddress.ip_interface`` accepts
every such string (``tests/scan/test_lean.py`` checks it on generated ones)."""


def invalidator(recognizer: PatternRecognizer) -> Callable[[str], bool | None]:
    """``recognizer.invalidate_result``, or for Presidio's IP recognizer the same
    answer without ``ipaddress`` when the match is a plain IPv4 address: most
    IP matches are, and ``ip_interface`` costs ~10 us each (a log holds
    thousands of distinct addresses). Anything else still goes to Presidio."""
    slow = recognizer.invalidate_result
    if type(recognizer).invalidate_result is not IpRecognizer.invalidate_result:
        return slow
    plain = _PLAIN_IPV4.fullmatch

    def invalid(text: str) -> bool | None:
        return None if plain(text) else slow(text)  # what Presidio returns for a valid one

    return invalid


def _same(text: str) -> str:
    return text


def verdict_key(recognizer: PatternRecognizer) -> Callable[[str], str]:
    """What a recognizer's verdicts depend on: the matched string, or for
    Presidio's own email validation only the host part that tldextract reads.
    ``EmailRecognizer.validate_result`` is ``tldextract.extract(text).fqdn != ""``
    and ``extract`` is ``_extract_netloc(lenient_netloc(text))``: a contacts
    CSV repeats a few domains thousands of times, so the suffix lookup runs
    once per host (``tests/scan/test_lean.py`` checks the equality)."""
    cls = type(recognizer)
    if (_lenient_netloc is not None
            and cls.validate_result is EmailRecognizer.validate_result
            and cls.invalidate_result is PatternRecognizer.invalidate_result):
        return _lenient_netloc
    return _same


def _score(base: float, validation: bool | None, invalidation: bool | None) -> float:
    """Presidio's score rule for one match."""
    score = base
    if validation is not None:
        score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
    if invalidation is not None and invalidation:
        score = EntityRecognizer.MIN_SCORE
    return score


def lean_analyze(recognizer: PatternRecognizer, text: str) -> list[RecognizerResult]:
    """``recognizer.analyze(text, entities, None)`` for a recognizer of :func:`is_lean`:
    the same results (types, offsets, scores, metadata), without explanations."""
    if type(recognizer).analyze is IbanRecognizer.analyze:
        return _lean_iban(recognizer, text)
    rec: Any = recognizer  # Presidio's attributes are untyped
    if not rec.patterns:
        return []
    flags: int = rec.global_regex_flags
    entity: str = rec.supported_entities[0]
    name: str = rec.name
    ident: str = rec.id
    cache: dict[str, tuple[bool | None, bool | None]] = {}
    key = verdict_key(recognizer)
    invalid = invalidator(recognizer)
    validate = recognizer.validate_result
    found: set[tuple[int, int, float]] = set()
    for pattern in rec.patterns:
        base: float = pattern.score
        try:
            for match in _compiled(pattern, flags).finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
                start, end = match.span()
                if start == end:
                    continue
                # (validate_result, invalidate_result) once per distinct key(matched):
                # the verdicts are a function of that key (verdict_key)
                matched = text[start:end]
                k = key(matched)
                got = cache.get(k)
                if got is None:
                    got = cache[k] = (validate(matched), invalid(matched))
                score = _score(base, *got)
                if score > _MIN_SCORE:
                    found.add((start, end, score))
        except TimeoutError:
            # Presidio logs and keeps the results found so far; so do we (no text logged).
            _log.warning("regex pattern %r of %s timed out after %s s, skipped",
                         pattern.name, name, REGEX_TIMEOUT_SECONDS)
    return [RecognizerResult(entity, start, end, score, None,  # type: ignore[arg-type]
                             {_NAME_KEY: name, _ID_KEY: ident})
            for start, end, score in remove_duplicates(found)]


@functools.lru_cache(maxsize=64)
def _iban_compiled(pattern: str, flags: int) -> Any:
    """``IbanRecognizer`` compiles through ``regex``'s cache on every call: same
    pattern and flags, compiled once here."""
    return regex.compile(pattern, flags=flags)


def _lean_iban(recognizer: PatternRecognizer, text: str) -> list[RecognizerResult]:
    """``IbanRecognizer.__analyze_patterns``: per match, the candidates ending at each
    group's end (last group first, the whole match for an unset group); the first
    candidate scoring above 0.0 is the result. No deduplication, as in Presidio."""
    rec: Any = recognizer
    flags: int = rec.global_regex_flags
    entity: str = rec.supported_entities[0]
    name: str = rec.name
    ident: str = rec.id
    cache: dict[str, bool | None] = {}
    results: list[RecognizerResult] = []
    for pattern in rec.patterns:
        try:
            compiled = _iban_compiled(pattern.regex, flags)
            for match in compiled.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
                start, whole_end = match.span(0)
                for group in range(len(match.groups()), 0, -1):
                    group_end = match.span(group)[1]
                    end = group_end if group_end > 0 else whole_end
                    candidate = text[start:end]
                    if candidate == "":
                        continue
                    if candidate not in cache:
                        cache[candidate] = recognizer.validate_result(candidate)
                    score = _score(pattern.score, cache[candidate], None)
                    if score > EntityRecognizer.MIN_SCORE:
                        results.append(RecognizerResult(
                            entity, start, end, score, None,  # type: ignore[arg-type]
                            {_NAME_KEY: name, _ID_KEY: ident}))
                        break
        except TimeoutError:
            _log.warning("regex pattern %r of %s timed out after %s s, skipped",
                         pattern.name, name, REGEX_TIMEOUT_SECONDS)
    return results


def remove_duplicates(found: set[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Presidio's ``EntityRecognizer.remove_duplicates`` for results of one entity
    type as ``(start, end, score)`` tuples (a set: Presidio's equality is type,
    offsets and score): drop zero scores and a result contained in an earlier
    kept one (by start, then longest, then highest score) with an equal or
    higher score; return by descending score, then start, then longest."""
    ordered = sorted(found, key=lambda r: (r[0], r[0] - r[1], -r[2]))
    top = -1
    for start, end, _ in ordered:
        if start <= top:
            break
        top = end
    else:
        # Each span starts after every earlier one ends (one pattern's
        # finditer matches, the common case): none can contain another.
        return sorted((r for r in ordered if r[2] != 0), key=lambda r: (-r[2], r[0], r[0] - r[1]))
    kept: list[tuple[int, int, float]] = []
    active: list[tuple[int, int, float]] = []
    for start, end, score in ordered:
        if score == 0:
            continue
        active = [a for a in active if a[1] >= start]
        if any(start >= a[0] and end <= a[1] and score <= a[2] for a in active):
            continue
        kept.append((start, end, score))
        active.append((start, end, score))
    return sorted(kept, key=lambda r: (-r[2], r[0], r[0] - r[1]))


def remove_duplicate_results(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """``EntityRecognizer.remove_duplicates`` for results of any types: the same
    result objects in the same order. Presidio's puts every result through a
    set hashed by an f-string and sorts by lambdas; here each result is one
    ``(type, start, end, score)`` key (Presidio's equality), the first of equal
    results kept as the set keeps it, then the same containment rule per type
    and the same final order (``tests/scan/test_lean.py``). It does not call
    :func:`remove_duplicates` per type: that sorts twice more and rebuilds
    every key, ~1.9x slower on 6,500 results (measured)."""
    first: dict[tuple[str, int, int, float], RecognizerResult] = {}
    for r in results:
        first.setdefault((r.entity_type, r.start, r.end, r.score), r)
    ordered = sorted(first, key=lambda k: (k[0], k[1], k[1] - k[2], -k[3]))
    top, last = -1, None
    for entity, start, end, _ in ordered:
        if entity == last and start <= top:
            break
        top, last = end, entity
    else:
        # Within each type every span starts after the earlier ones end (the
        # common case: one recognizer per type): none contains another.
        disjoint = sorted((k for k in ordered if k[3] != 0),
                          key=lambda k: (-k[3], k[1], k[1] - k[2]))
        return [first[k] for k in disjoint]
    kept: list[tuple[str, int, int, float]] = []
    active: list[tuple[str, int, int, float]] = []
    for key in ordered:
        entity, start, end, score = key
        if score == 0:
            continue
        active = [a for a in active if a[0] == entity and a[2] >= start]
        if any(start >= a[1] and end <= a[2] and score <= a[3] for a in active):
            continue
        kept.append(key)
        active.append(key)
    kept.sort(key=lambda k: (-k[3], k[1], k[1] - k[2]))
    return [first[k] for k in kept]
