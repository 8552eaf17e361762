"""Decide, per chunk, which pattern recognizers can possibly find something.

Why: most text holds nothing most recognizers look for (a log chunk has no
``-----BEGIN``, a paragraph of prose no ``AKIA``), yet each recognizer costs
one or more regex passes over the chunk. A cheap search (``_TriggerSearch``:
one ``re2.Set`` over the plain-string triggers, an early-exit RE2 search per
shape) tells which *triggers* occur in the chunk; a recognizer runs only when
all of its trigger groups occurred.

A trigger is a NECESSARY condition, never a heuristic: every match the
recognizer can produce contains a match of its shape trigger (derived by hand
from the recognizer's patterns, see ``SHAPES``; a recognizer not listed has no
shape trigger and always runs). Two kinds of trigger:

* shape: e.g. a credit-card pattern needs 4 digits then 3 more, so
  ``\\d{4}[- ]?\\d{3}`` must occur;
* context: a recognizer whose every pattern scores below the threshold, and
  which cannot raise a score by validation, reports nothing unless a context
  word boosts it; the context enhancer (``fastcontext``) matches a context
  word as a substring of a lower-cased word of the text or of the caller's
  context words, so one of its context words must occur in one of them.

Tests check the necessary-condition property with generated texts (tests/scan/
test_fast_paths.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult

from daemon.scan.windows import Runner, analyzer_of, windowed
from scratchwarden.errors import ConfigError

_D = r"\p{Nd}"
_W = r"[\p{L}\p{N}_]"

# Shape triggers by recognizer class name. Each regex must match inside every
# match the recognizer can report (RE2 syntax; Presidio's patterns run with
# IGNORECASE, so letter classes here are case-insensitive where theirs are).
SHAPES: dict[str, str] = {
    # --- Presidio's predefined recognizers (patterns printed in the ADR)
    # IPv4 needs d.ddd.ddd.d; every IPv6 alternative holds "::" or 6-7 "hex:" groups.
    "IpRecognizer": rf"{_D}\.{_D}{{1,3}}\.{_D}{{1,3}}\.{_D}|::"
                    r"|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",
    "UsSsnRecognizer": rf"{_D}{{3}}[- .]?{_D}{{2}}[- .]?{_D}{{4}}",
    "UsBankRecognizer": rf"{_D}{{8}}",
    "UuidRecognizer": r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-",
    "DateRecognizer": rf"{_D}[/.\-]{_D}|{_D}-[A-Za-z]{{3}}|(?i:jan|feb|mar|apr|may|jun|jul|aug|"
                      rf"sep|oct|nov|dec)-{_D}",
    "MedicalLicenseRecognizer": rf"[A-Za-z]{_D}{{7}}",
    # groups of 4, 3-4, 3-4 and 3-5 digits, each but the first after an optional separator;
    # the first group opens with 1, 3, 4, 5 or 6 (Presidio's alternatives: not 20xx years).
    # All four groups (the last cut to 3 digits): a shape of the first three alone hit
    # ~9x more often than the pattern matched (ids and timestamps in logs).
    "CreditCardRecognizer": rf"[13-6]{_D}{{3}}[- ]?{_D}{{3,4}}[- ]?{_D}{{3,4}}[- ]?{_D}{{3}}",
    "UrlRecognizer": r"(?i)[a-z0-9.\-]\.[a-z]{2}",
    "UsItinRecognizer": rf"9{_D}{{2}}[- ]?{_D}{{2}}[- ]?{_D}{{4}}",
    "UsPassportRecognizer": rf"{_D}{{8}}",
    "CryptoRecognizer": r"(?i)[13][a-z0-9]{25}",
    "EmailRecognizer": r"@",
    "NhsRecognizer": rf"{_D}{{3}}[- ]?{_D}{{3}}[- ]?{_D}{{4}}",
    # Presidio's IBAN pattern is case-sensitive (flags M|S): see CASE_SENSITIVE
    "IbanRecognizer": rf"[A-Z]{{2}}{_D}{{2}}[ \-]?[A-Z0-9]{{4}}[ \-]?[A-Z0-9]{{4}}",
    "UsLicenseRecognizer": rf"(?i)[a-z]{_D}|{_D}{{6}}",
    "MacAddressRecognizer": r"[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}[:\-]"
                            r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
    "PhoneRecognizer": rf"{_D}",
    "CandidatePhoneRecognizer": rf"{_D}",
    # --- ours (daemon/scan/recognizers/pii.py)
    "InternationalPhoneRecognizer": rf"{_D}{{2}}",
    # \d{12,19}, or 4-digit groups with one separator repeated (\1: no backreference in RE2)
    "CardNumberContextRecognizer": rf"{_D}{{12}}|{_D}{{4}}[ \-]{_D}{{4}}[ \-]{_D}{{4}}[ \-]{_D}",
    "UsDriverLicenseContextRecognizer": r"(?i)driv",
    "StreetAddressRecognizer": _D,
    "TitledPersonRecognizer": r"\p{Lu}",
    # --- secrets (daemon/scan/recognizers/secrets.py)
    "AwsAccessKeyIdRecognizer": r"AKIA|ASIA|ABIA|ACCA|A3T",
    "AwsSecretAccessKeyRecognizer": r"(?i)aws|(?i)secret|AKIA|ASIA",
    "GcpServiceAccountKeyRecognizer": r'"private_key',
    "AzureStorageKeyRecognizer": r"(?i)key",
    "PrivateKeyRecognizer": r"-----BEGIN ",
    "GitHubTokenRecognizer": r"gh[pousr]_|github_pat_",
    "GitLabTokenRecognizer": r"gl[a-z]{2,5}-|GR1348941",
    "SlackTokenRecognizer": r"xox|xapp-|hooks\.slack\.com",
    "StripeKeyRecognizer": r"[sr]k_live_|[sr]k_test_|whsec_",
    "JwtRecognizer": r"eyJ",
    "PasswordAssignmentRecognizer": r"(?i)pass|(?i)pwd|://",
    "ApiKeyAssignmentRecognizer": r"(?i)key|(?i)secret|(?i)token|(?i)authorization|(?i)pat"
                                  r"|(?i)licen|(?i)credential|(?i)passcode|(?i)sig"
                                  r"|(?i)auth|(?i)password",
    # --- secrets (daemon/scan/recognizers/credentials.py)
    "PasswordHashRecognizer": r"\$(?:1|apr1|2|5|6|7|8|9|y|gy|argon2|pbkdf2|krb5)",
    "CommandPasswordRecognizer": r"(?i)pass|(?i)pwd|(?i)-u[ \t]|(?i)-user[ \t]|NetworkCredential"
                                 r"|DirectoryEntry",
    "UrlSecretRecognizer": r"(?i)hook|[0-9]{8}:",
    # a prefix's last character, a separator, then the 20+ characters of the random part
    "PrefixedTokenRecognizer": r"[A-Za-z0-9][_\-.][A-Za-z0-9_\-]{20}",
}


# Shapes derived from case-sensitive patterns: a recognizer of such a class built
# with IGNORECASE gets the shape case-insensitively, so it stays necessary.
CASE_SENSITIVE = frozenset({"IbanRecognizer"})


def shape_of(recognizer: EntityRecognizer) -> str | None:
    """The shape trigger of ``recognizer`` (``None``: it has none and always runs)."""
    name = type(recognizer).__name__
    shape = SHAPES.get(name)
    if shape is None or name not in CASE_SENSITIVE:
        return shape
    flags = int(getattr(recognizer, "global_regex_flags", 0) or 0)
    return f"(?i){shape}" if flags & re.IGNORECASE else shape


def context_gated(recognizer: EntityRecognizer, threshold: float) -> bool:
    """True when ``recognizer`` can only reach ``threshold`` through a context boost:
    a plain pattern recognizer (Presidio's ``analyze`` and no score-raising
    ``validate_result``) whose every pattern scores below the threshold."""
    if not isinstance(recognizer, PatternRecognizer) or not recognizer.context:
        return False
    cls = type(recognizer)
    if cls.analyze is not PatternRecognizer.analyze:
        return False
    if cls.validate_result is not PatternRecognizer.validate_result:
        return False
    patterns: list[Any] = list(getattr(recognizer, "patterns", []) or [])
    return bool(patterns) and max(float(p.score) for p in patterns) < threshold


@dataclass(frozen=True, slots=True)
class _Need:
    """What a recognizer needs: a shape trigger id and/or one of its context words."""

    shape: int | None
    context_words: tuple[str, ...] | None   # lower-cased; None: no context needed
    context_ids: frozenset[int]


class Prefilter:
    """One RE2 set over all triggers of ``recognizers``; :meth:`select` returns
    the recognizers that can find something in a given chunk."""

    def __init__(self, recognizers: Sequence[EntityRecognizer], threshold: float) -> None:
        self.recognizers = list(recognizers)
        self._triggers: list[str] = []
        ids: dict[str, int] = {}
        self._needs: list[_Need] = []
        for r in self.recognizers:
            shape = shape_of(r)
            shape_id = self._add(ids, shape) if shape else None
            words: tuple[str, ...] | None = None
            context_ids: set[int] = set()
            if context_gated(r, threshold):
                words = tuple(sorted({w.lower() for w in r.context}))
                context_ids = {self._add(ids, "(?i)" + re2.escape(w)) for w in words}
            self._needs.append(_Need(shape_id, words, frozenset(context_ids)))
        self._search = _TriggerSearch(self._triggers)
        self._runners: list[Runner] = [
            windowed(r, shape_of(r)) or _WholeText(r) for r in self.recognizers]

    def _add(self, ids: dict[str, int], pattern: str) -> int:
        if pattern not in ids:
            ids[pattern] = len(self._triggers)
            self._triggers.append(pattern)
        return ids[pattern]

    def present(self, text: str) -> frozenset[int]:
        """Ids of the triggers occurring in ``text``."""
        if not text:
            return frozenset()
        return self._search.present(text)

    def select(self, text: str, context: Sequence[str] = ()) -> list[EntityRecognizer]:
        """The recognizers whose triggers all occur in ``text`` (context words
        may also come from the caller's ``context``)."""
        found = self.present(text)
        lowered = [c.lower() for c in context]
        return [r for r, need in zip(self.recognizers, self._needs, strict=True)
                if self._satisfied(need, found, lowered)]

    def select_runners(self, text: str, context: Sequence[str] = ()) -> list[Runner]:
        """Like :meth:`select`, but each recognizer wrapped to run only on the
        windows around its trigger hits when that is provably exact
        (``windows.py``), else on the whole text."""
        found = self.present(text)
        lowered = [c.lower() for c in context]
        return [run for run, need in zip(self._runners, self._needs, strict=True)
                if self._satisfied(need, found, lowered)]

    @staticmethod
    def _satisfied(need: _Need, found: frozenset[int], context: list[str]) -> bool:
        if need.shape is not None and need.shape not in found:
            return False
        if need.context_words is None:
            return True
        return bool(need.context_ids & found) or any(
            w in c for w in need.context_words for c in context)


_LITERAL = re.compile(r"(?:\(\?i\))?(?:[A-Za-z0-9_@:/\"' -]|\\[^A-Za-z0-9]"
                      r"|\[(?:[a-z]|a-z)+\](?:\{\d,\d\})?)+")
"""A trigger that is a plain string (optionally case-insensitive, punctuation
escaped): ``AKIA``, ``(?i)secret``, ``-----BEGIN ``, ``hooks\\.slack\\.com``;
or one with a few lower-case letter classes (``gh[pousr]_``, ``[sr]k_live_``,
``gl[a-z]{2,5}-``): mostly absent too, and still a small DFA in the set (each
searched alone, the three token prefixes of the secrets scanned every chunk
whole: ~0.03 s CPU on the realistic corpus)."""


def _literal(trigger: str) -> bool:
    return all(_LITERAL.fullmatch(part) for part in trigger.split("|"))


class _TriggerSearch:
    """Which of ``triggers`` occur in a text, at the lowest cost measured here.

    One ``re2.Set`` over all triggers ran at ~2 MB/s on the full recognizer
    set: a many-match DFA over dozens of digit shapes, ``\\p{Lu}`` and counted
    classes cannot stop early and its state set explodes. Measured on the
    realistic corpus's chunks, two kinds of trigger behave differently:

    * plain strings (``AKIA``, ``eyJ``, ``(?i)secret``, the context words),
      mostly absent, whose set is a small DFA: one ``re2.Set`` over them runs
      at hundreds of MB/s;
    * shapes (a digit pattern, a capital letter, a hex group), mostly present
      somewhere early in a chunk: one RE2 search each, stopping at the first
      occurrence.

    Shapes are searched in the UTF-8 bytes when the text is ASCII
    (``\\p{Nd}`` is then ``[0-9]``; the str wrapper converts offsets and
    costs ~2x), else in the str. The answer is the same as one set over all
    triggers: a trigger occurs iff an unanchored search finds it
    (tests/scan/test_fast_paths.py)."""

    def __init__(self, triggers: Sequence[str]) -> None:
        literal = [i for i, t in enumerate(triggers) if _literal(t)]
        plain = frozenset(literal)
        self._literal_ids = literal
        self._literal_set = self._set([triggers[i] for i in literal]) if literal else None
        self._shapes = [(i, _compile(t), _compile(_ascii(t)))
                        for i, t in enumerate(triggers) if i not in plain]

    @staticmethod
    def _set(patterns: Sequence[str]) -> Any:
        options = re2.Options()
        options.max_mem = 64 << 20
        compiled = re2.Set.SearchSet(options)
        for pattern in patterns:
            if compiled.Add(pattern) < 0:
                raise ConfigError(f"expected an RE2-compatible trigger; found {pattern!r}")
        compiled.Compile()
        return compiled

    def present(self, text: str) -> frozenset[int]:
        ascii_ = text.isascii()
        data: str | bytes = text.encode("ascii") if ascii_ else text
        found = [i for i, on_str, on_ascii in self._shapes
                 if (on_ascii if ascii_ else on_str).search(data)]
        if self._literal_set is not None:
            found += [self._literal_ids[h] for h in self._literal_set.Match(data) or ()]
        return frozenset(found)


def _compile(trigger: str) -> Any:
    try:
        return re2.compile(trigger)
    except re2.error as e:
        raise ConfigError(f"expected an RE2-compatible trigger; found {trigger!r}: {e}"
                          ) from None


def _ascii(trigger: str) -> str:
    """``trigger`` for ASCII input: ``\\p{Nd}`` is exactly ``[0-9]`` there."""
    return trigger.replace(r"\p{Nd}", "[0-9]")


class _WholeText:
    """A recognizer run on the whole text (no provable windows)."""

    def __init__(self, recognizer: EntityRecognizer) -> None:
        self.recognizer = recognizer
        self._analyze = analyzer_of(recognizer)

    def analyze(self, text: str, entities: list[str]) -> list[RecognizerResult]:
        return self._analyze(text, entities)
