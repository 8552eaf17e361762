"""Windowed pattern recognizers (daemon/scan/windows.py): running a recognizer
only on the windows around its trigger hits must give exactly what running it
on the whole text gives: same types, offsets and scores.

Values are synthetic; assertions print counts and offsets, never values."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IpRecognizer

from daemon.scan.detect import Detector
from daemon.scan.prefilter import SHAPES, shape_of
from daemon.scan.windows import (
    Reach,
    WindowedRecognizer,
    reach_of,
    separator_safe,
    windowed,
    windows,
)

PLANTS = [
    "jane.roe@example.org", "a@b.co", "536-22-1490", "53622-1490", "536221490",
    "4111 1111 1111 1111", "4111111111111111", "5019 7170 1010 3742", "4111-1111-1111-1111",
    "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000",
    "192.168.14.20", "10.0.0.1/24", "fe80::1ff:fe23:4567:890a", "::1", "::ffff:10.1.2.3",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "1:2:3:4:5:6:1.2.3.4", "fe80::7%eth0",
    "2024-01-31", "12/03/2019", "https://www.example.com/x?q=1", "A12345678", "912-70-1234",
    "123e4567-e89b-12d3-a456-426614174000", "3FZbgi29cpjq2GjdwV8eyHuJJnkLtktZc5",
    "card 5019717010103742", "bank account 12345678", "401 123 4567", "12:34:56",
    "22:13:20.123Z", "x@@y", "1.2.3.4.5", "::", "D1234567", "3782 822463 10005",
    "4111 111 111 1111", "6011-0009-9013-9424", "gb82west12345698765432", "GB-82WEST1234",
    "DE89 3704 0044 0532 0130 00", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8",
]
_CHARS = list("abcdefXYZ ,.:;-/\n\t0123456789()@_'\"=%\x00")
_FILLER = st.text(alphabet=st.sampled_from(_CHARS), max_size=80)
# Non-ASCII text takes the other hit-listing path (str, not ASCII bytes): Arabic-Indic
# digits are Unicode decimal digits, as the recognizers' \d reads them. Whitespace-free
# fillers make long tokens, where a token core must be cut by the token width.
_FILLER_ANY = st.one_of(
    _FILLER,
    st.text(alphabet=st.sampled_from([c for c in _CHARS if not c.isspace()]), max_size=80),
    st.text(alphabet=st.sampled_from([*_CHARS, "\u00e9", "\u0663", "\u00a0"]), max_size=80))


@pytest.fixture(scope="module")
def runners() -> list[WindowedRecognizer]:
    """Every recognizer of the full pattern set that can be windowed, forced to
    use windows however much of the text they cover."""
    detector = Detector(use_ner=False)
    out = []
    for r in detector._patterns:
        w = windowed(r, shape_of(r))
        if w is not None:
            out.append(WindowedRecognizer(r, str(shape_of(r)), w.reach, max_cover=1.0))
    assert len(out) >= 10, "expected most of Presidio's recognizers to be windowable"
    return out


def _key(results: list[RecognizerResult]) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, r.score) for r in results)


def _entities(w: WindowedRecognizer) -> list[str]:
    return list(w.recognizer.supported_entities)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_FILLER_ANY, st.sampled_from(PLANTS)), min_size=1, max_size=8),
       tail=_FILLER_ANY)
def test_windows_give_exactly_the_whole_text_results(runners: list[WindowedRecognizer],
                                                     parts: list[tuple[str, str]],
                                                     tail: str) -> None:
    text = "".join(f + p for f, p in parts) + tail
    for w in runners:
        whole = w.recognizer.analyze(text, _entities(w), None)  # type: ignore[arg-type]
        windowed_results = w.analyze(text, _entities(w))
        assert _key(windowed_results) == _key(whole), \
            f"{type(w.recognizer).__name__}: offsets differ"


def test_windows_on_a_long_log_like_text(runners: list[WindowedRecognizer]) -> None:
    """Sparse hits in a long text: the windows cover little, findings are the same."""
    lines = [f"2024-05-0{i % 9 + 1}T10:0{i % 6}:33.120Z INFO worker-{i % 8}: GET /api/items/{i} "
             f"200 {i % 900}ms" for i in range(400)]
    lines[37] += " from 192.168.14.20"
    lines[150] += " to=jane.roe@example.org ssn 536-22-1490"
    lines[311] += " iban GB82 WEST 1234 5698 7654 32 card 4111 1111 1111 1111"
    text = "\n".join(lines)
    found = 0
    for w in runners:
        whole = w.recognizer.analyze(text, _entities(w), None)  # type: ignore[arg-type]
        assert _key(w.analyze(text, _entities(w))) == _key(whole)
        found += len(whole)
    assert found >= 5


_HEXISH = st.text(alphabet=st.sampled_from(list("abcdefABCDEF0123456789+/=-. \n")), max_size=60)
_IBANS = ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000",
          "gb82west12345698765432", "DE89 3704 0044 0532 0130 00", "ab12cdef3456ab7890",
          "xGB82WEST12345698765432", "=GB82WEST12345698765432", "GB-82WEST1234"]


@functools.cache
def _iban_recognizers() -> list[PatternRecognizer]:
    """Presidio's own (case-sensitive) and the one Detector builds (IGNORECASE)."""
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    built = [r for r in Detector(use_ner=False)._patterns if isinstance(r, IbanRecognizer)]
    assert built, "expected the detector to hold an IbanRecognizer"
    return [IbanRecognizer(), *built]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(st.one_of(_FILLER, _HEXISH),
                                st.sampled_from([*PLANTS, *_IBANS])), min_size=1, max_size=8),
       tail=_HEXISH)
def test_start_guards_are_necessary(parts: list[tuple[str, str]], tail: str) -> None:
    """Every match of every pattern of a guarded recognizer starts where its
    guard says a match can start (ASCII text, the only text guards see)."""
    import regex

    from daemon.scan.windows import STARTS, StartGuard

    text = "".join(f + p for f, p in parts) + tail
    if not text.isascii():
        return
    for r in _iban_recognizers():
        assert type(r).__name__ in STARTS
        guard = StartGuard.of(r)
        assert guard is not None
        starts = set(guard.starts(text.encode("ascii")))
        for p in r.patterns:
            for m in regex.finditer(p.regex, text, flags=r.global_regex_flags):
                assert m.start() in starts, f"{type(r).__name__}: a match at {m.start()} unguarded"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_HEXISH, st.sampled_from([*PLANTS, *_IBANS])), min_size=1,
                      max_size=12),
       tail=_HEXISH, cover=st.sampled_from([0.05, 0.5, 1.0]))
def test_guarded_windows_give_exactly_the_whole_text_results(
        parts: list[tuple[str, str]], tail: str, cover: float) -> None:
    """Hex- and base64-like text full of the IBAN trigger: the guarded windows
    (every cover limit, so every branch) find what the whole text holds."""
    text = "".join(f + p for f, p in parts) + tail
    for r in _iban_recognizers():
        w = windowed(r, shape_of(r))
        assert w is not None
        w = WindowedRecognizer(r, str(shape_of(r)), w.reach, max_cover=cover)
        whole = r.analyze(text, _entities(w), None)  # type: ignore[arg-type]
        assert _key(w.analyze(text, _entities(w))) == _key(whole)


_IBAN_TOKENS = st.lists(st.sampled_from(
    ["GB82", "DE89", "gb82", "1234", "WEST", "123", "X", "x", "7", " ", " ", "-", "=", "/",
     "ab12", "\n"]), max_size=40).map("".join)


def _joined_matches(pattern: object, text: str, spans: list[tuple[int, int]]
                    ) -> list[tuple[tuple[int, int], ...]]:
    """Every match (all group spans) of ``pattern`` in the windows joined as
    ``WindowedRecognizer.analyze`` joins them, in whole-text offsets."""
    from daemon.scan.windows import SEPARATOR

    joined = SEPARATOR.join(text[a:b] for a, b in spans)
    shifts, at = [], 0
    for a, b in spans:
        shifts.append((at, a - at))
        at += b - a + len(SEPARATOR)
    out = []
    for m in pattern.finditer(joined):  # type: ignore[attr-defined]
        shift = next(sh for start, sh in reversed(shifts) if start <= m.start())
        out.append(tuple((a + shift, b + shift) if a >= 0 else (a, b)
                         for a, b in (m.span(g) for g in range(len(m.groups()) + 1))))
    return out


def _assert_start_windows_exact(text: str) -> None:
    import regex

    from daemon.scan.windows import StartGuard, start_windows

    for r in _iban_recognizers():
        guard = StartGuard.of(r)
        reach = reach_of(r)
        assert guard is not None and reach is not None
        spans = start_windows(guard.starts(text.encode("ascii")), reach.width, reach.pad,
                              len(text))
        assert spans is not None
        for p in r.patterns:
            compiled = regex.compile(p.regex, r.global_regex_flags)
            whole = [tuple(m.span(g) for g in range(len(m.groups()) + 1))
                     for m in compiled.finditer(text)]
            assert _joined_matches(compiled, text, spans) == whole, \
                f"{type(r).__name__}: window matches differ"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_IBAN_TOKENS, st.tuples(_IBAN_TOKENS, _HEXISH, _IBAN_TOKENS).map("".join)))
def test_start_windows_hold_exactly_the_whole_text_matches(text: str) -> None:
    """The raw regex matches, every group included, before any validation: the
    windows of the possible starts, joined, hold exactly the whole text's
    (IBAN-like runs packed together, where a window edge in the wrong place
    would let a match start or end where the whole text has none)."""
    _assert_start_windows_exact(text)


def test_start_windows_edges() -> None:
    """A match needs the character before its start and the one after its end:
    a run of IBAN-like groups right after a letter, and a longest one ending in
    a letter."""
    from daemon.scan.windows import start_windows

    assert start_windows([0, 5, 200], 43, 8, 300) == [(0, 56), (199, 251)]
    assert start_windows([5, 10], 43, 8, 30) == [(4, 30)]
    assert start_windows([0, 100], 43, 8, 300, limit=60) is None
    cases = ["XGB82 DE89 3704 0044 0532 0130 00", "=GB82 1234 1234 1234 1234 1234 1234 1234 123X",
             "GB82 1234 1234 1234 1234 1234 1234 1234 123X", "aGB82 =DE89 1234 1234"]
    for text in [" ".join(cases), *cases]:
        _assert_start_windows_exact(text)


def test_start_guard_drops_windows_in_hex_ids() -> None:
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    r = _iban_recognizers()[-1]
    assert isinstance(r, IbanRecognizer)
    lines = [f"GET /api/items/{i} 200 req=6421bf4f{i:04d}ab12cdef" for i in range(300)]
    text = "\n".join(lines)
    w = windowed(r, shape_of(r))
    assert w is not None
    assert w._windows(text) == []       # triggers everywhere, no possible IBAN start
    text += " iban GB82 WEST 1234 5698 7654 32"
    kept = w._windows(text)
    assert kept is not None and len(kept) == 1 and sum(b - a for a, b in kept) < 200


# Digit groups of every length with the separators card, SSN and account
# patterns allow, run together or apart; Arabic-Indic digits are \\d too.
_DIGIT_GROUP = st.tuples(st.text(alphabet=st.sampled_from(list("0123456789") + ["\u0663"]),
                                 min_size=1, max_size=20),
                         st.sampled_from(["", " ", "-", ".", "  ", "/", "x", ":"]))
_DIGITS = st.lists(_DIGIT_GROUP, min_size=1, max_size=10).map(
    lambda groups: "".join(d + s for d, s in groups))


@functools.cache
def _shaped_recognizers() -> list[PatternRecognizer]:
    """The detector's pattern recognizers that have a shape and Presidio's analyze."""
    from daemon.scan.lean import is_lean

    out = [r for r in Detector(use_ner=False)._patterns
           if shape_of(r) is not None and is_lean(r) and isinstance(r, PatternRecognizer)]
    names = {type(r).__name__ for r in out}
    assert {"CreditCardRecognizer", "CardNumberContextRecognizer", "UsSsnRecognizer"} <= names
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_DIGITS, st.tuples(_FILLER_ANY, _DIGITS, _FILLER_ANY).map("".join)))
def test_shapes_are_necessary_on_digit_runs(text: str) -> None:
    """Every match of every pattern holds an occurrence of its recognizer's
    shape (prefilter.SHAPES), on text made of digit runs and separators: the
    windows and the prefilter rest on it. The card shapes ask for all four
    digit groups, so this is where a too-tight shape would show."""
    import re2
    import regex

    for r in _shaped_recognizers():
        shape = re2.compile(str(shape_of(r)))
        for p in r.patterns:
            for m in regex.finditer(p.regex, text, flags=r.global_regex_flags):
                if m.end() > m.start():
                    assert shape.search(m.group()), \
                        f"{type(r).__name__}: a match at {m.start()} holds no shape occurrence"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_FILLER_ANY, st.sampled_from(PLANTS)), min_size=1, max_size=8),
       tail=_FILLER_ANY, pad=st.integers(1, 9))
def test_token_hits_give_the_token_windows(parts: list[tuple[str, str]], tail: str,
                                           pad: int) -> None:
    """An unbounded whitespace-free recognizer (email, IP): one RE2 hit per
    token gives exactly the windows the per-hit whitespace search gives."""
    from daemon.scan.windows import HitFinder, token_hits

    text = "".join(f + p for f, p in parts) + tail
    for name in ("EmailRecognizer", "IpRecognizer"):
        reach = Reach(width=0, token=True, pad=pad)
        finder, hit_reach = token_hits(SHAPES[name], reach)
        assert not hit_reach.token
        per_hit = windows(text, HitFinder(SHAPES[name]).spans(text), reach)
        assert windows(text, finder.spans(text), hit_reach) == per_hit, name


def test_hits_are_the_same_on_ascii_and_unicode_paths() -> None:
    from daemon.scan.windows import HitFinder

    finder = HitFinder(SHAPES["UsSsnRecognizer"])
    assert list(finder.spans("x 536-22-1490 y 123456789")) == [(2, 13), (16, 25)]
    assert list(finder.spans("\u00e9 536-22-1490 y \u0663\u0663\u0663456789")) == \
        [(2, 13), (16, 25)]


def test_reach_is_computed_from_the_patterns() -> None:
    email = reach_of(EmailRecognizer())
    assert email is not None and email.token and email.token_width is None   # unbounded
    ip = reach_of(IpRecognizer())                 # whitespace-free; zone ids are unbounded
    assert ip is not None and ip.token and ip.width == 0 and ip.token_width is None
    short = PatternRecognizer("X", patterns=[Pattern("p", r"(?<![\w-])\d{3}-\d{4}\b", 0.5)])
    reach = reach_of(short)
    assert reach is not None and reach.token and reach.token_width == 8 and reach.pad >= 2
    spaced = PatternRecognizer("X", patterns=[Pattern("p", r"\d{3} \d{4}", 0.5)])
    reach = reach_of(spaced)
    assert reach is not None and reach.width == 8 and not reach.token


def test_token_windows_are_bounded_by_the_token_width() -> None:
    reach = Reach(width=0, token=True, pad=1, token_width=4)
    text = "a" * 20 + "1-2" + "b" * 20
    assert windows(text, [(21, 22)], reach) == [(16, 27)]


@pytest.mark.parametrize("regex", [
    r"\d+ \d+",            # unbounded and may hold whitespace
    r"(?<=\w+)\d{3}",      # unbounded lookbehind (regex-module only)
    r"[[:alpha:]]{3}",     # POSIX class: the regex module reads it differently
    r"\p{Lu}\d{3}",        # not Python re syntax
    r"a[^x]+b",            # negated class accepts whitespace
])
def test_unprovable_patterns_are_not_windowed(regex: str) -> None:
    assert reach_of(PatternRecognizer("X", patterns=[Pattern("p", regex, 0.5)])) is None


def test_custom_analyze_is_not_windowed() -> None:
    class Custom(PatternRecognizer):
        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # type: ignore[no-untyped-def]
            return []

    assert reach_of(Custom("X", patterns=[Pattern("p", r"\d{3}", 0.5)])) is None


@pytest.mark.parametrize(("trigger", "safe"), [
    (r"\p{Nd}{4}[- ]?\p{Nd}{3}", True), (r"[- .]x", True), (r"AKIA|ASIA", True),
    (r"(?i)[a-z]{2}\p{Nd}{2}", True), (r"\.", True), ("a.b", False), ("[^a]", False),
    (r"\bx", False), (r"\x00", False), ("[a\x00]", False), (r"\P{Nd}", False),
    ("(?=a)", False), ("^a", False),
])
def test_separator_safe(trigger: str, safe: bool) -> None:
    assert separator_safe(trigger) is safe


def test_windows_merge_and_clip() -> None:
    reach = Reach(width=3, token=False, pad=2)
    text = "x" * 100
    assert windows(text, [(10, 12), (15, 16), (80, 81)], reach) == [(5, 21), (75, 86)]
    assert windows(text, [(0, 1), (98, 100)], reach) == [(0, 6), (93, 100)]


def test_token_windows_follow_whitespace() -> None:
    reach = Reach(width=0, token=True, pad=1)
    text = "aaa bbbb@cccc ddd"
    assert windows(text, [(8, 9)], reach) == [(3, 14)]


def test_detector_fast_path_equals_straightforward_path() -> None:
    """Through the Detector: selected runners vs the same recognizers on the whole chunk."""
    detector = Detector(use_ner=False)
    text = "\n".join(f"row {i}, 2024-01-{i % 28 + 1:02d}, ok" for i in range(300))
    text += "\nmail jane.roe@example.org from 10.1.2.3 ssn 536-22-1490\n" + text
    fast = detector.prefilter.select_runners(text)
    slow = detector.prefilter.select(text)
    assert [r.recognizer for r in fast] == slow
    for runner in fast:
        whole = runner.recognizer.analyze(text, detector.entities, None)  # type: ignore[arg-type]
        assert _key(runner.analyze(text, detector.entities)) == _key(whole)


def test_case_sensitive_shape_follows_the_recognizer_flags() -> None:
    import re

    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    assert not str(shape_of(IbanRecognizer())).startswith("(?i)")
    folded = IbanRecognizer()
    folded.global_regex_flags = re.IGNORECASE | re.MULTILINE | re.DOTALL
    assert str(shape_of(folded)).startswith("(?i)")
