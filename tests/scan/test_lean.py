"""The lean re-implementation of Presidio's PatternRecognizer.analyze
(daemon/scan/lean.py) must give exactly Presidio's results: same types,
offsets, scores, order and recognizer metadata.

Values are synthetic; assertions print counts and offsets, never values."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer, IbanRecognizer

from daemon.scan import lean
from daemon.scan.detect import Detector
from daemon.scan.recognizers.secrets import JwtRecognizer

from .test_windows import _FILLER_ANY, PLANTS

_Row = tuple[str, int, int, float, object, object]


@pytest.fixture(scope="module")
def recognizers() -> list[PatternRecognizer]:
    """Every recognizer of the full pattern set that the lean path stands in for."""
    out = [r for r in Detector(use_ner=False)._patterns if lean.is_lean(r)]
    assert len(out) >= 10, "expected most of Presidio's recognizers to be lean"
    return [r for r in out if isinstance(r, PatternRecognizer)]


def _rows(results: list[RecognizerResult]) -> list[_Row]:
    """Everything a finding is made of, in the order given."""
    out: list[_Row] = []
    for r in results:
        meta = r.recognition_metadata or {}
        out.append((r.entity_type, r.start, r.end, r.score,
                    meta.get(RecognizerResult.RECOGNIZER_NAME_KEY),
                    meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_FILLER_ANY, st.sampled_from(PLANTS)), min_size=1, max_size=10),
       tail=_FILLER_ANY)
def test_lean_analyze_equals_presidio(recognizers: list[PatternRecognizer],
                                      parts: list[tuple[str, str]], tail: str) -> None:
    text = "".join(f + p for f, p in parts) + tail
    for r in recognizers:
        presidio = r.analyze(text, list(r.supported_entities), None)  # type: ignore[arg-type]
        assert _rows(lean.lean_analyze(r, text)) == _rows(presidio), \
            f"{type(r).__name__}: results differ"


def test_lean_analyze_on_repeated_values(recognizers: list[PatternRecognizer]) -> None:
    """Repeated and invalid values (the validation cache's case) score as in Presidio."""
    text = " ; ".join(PLANTS * 3) + " 4111 1111 1111 1112 999-00-0000 a@b.invalidtld"
    found = 0
    for r in recognizers:
        presidio = r.analyze(text, list(r.supported_entities), None)  # type: ignore[arg-type]
        assert _rows(lean.lean_analyze(r, text)) == _rows(presidio)
        found += len(presidio)
    assert found >= 20


def test_validation_runs_once_per_distinct_match(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer = EmailRecognizer()
    calls: list[int] = []
    real = EmailRecognizer.validate_result

    def counting(self: EmailRecognizer, pattern_text: str) -> bool | None:
        calls.append(len(pattern_text))
        return real(self, pattern_text)

    monkeypatch.setattr(EmailRecognizer, "validate_result", counting)
    text = "x a@b.co y a@b.co z c@d.org"
    results = lean.lean_analyze(recognizer, text)
    assert len(calls) == 2
    assert sorted(r.start for r in results) == [2, 11, 20]


def test_custom_analyze_is_not_lean() -> None:
    assert lean.is_lean(EmailRecognizer())
    assert lean.is_lean(IbanRecognizer())
    assert not lean.is_lean(JwtRecognizer())


_SPANS = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 8),
                            st.sampled_from([0.0, 0.05, 0.3, 0.5, 1.0])), max_size=25)


@settings(max_examples=300, deadline=None)
@given(spans=_SPANS)
def test_remove_duplicates_equals_presidio(spans: list[tuple[int, int, float]]) -> None:
    _assert_remove_duplicates_as_presidio(spans)


def _assert_remove_duplicates_as_presidio(spans: list[tuple[int, int, float]]) -> None:
    found = {(s, s + n, score) for s, n, score in spans}
    results = [RecognizerResult("X", s, e, score, None,  # type: ignore[arg-type]
                                {RecognizerResult.RECOGNIZER_NAME_KEY: "r"})
               for s, n, score in spans for e in [s + n]]
    presidio = [(r.start, r.end, r.score) for r in EntityRecognizer.remove_duplicates(results)]
    assert lean.remove_duplicates(found) == presidio


# Spans one after another (one pattern's matches): gaps of 0 make them touch.
_DISJOINT = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6),
                               st.sampled_from([0.0, 0.3, 0.5, 1.0])), max_size=20).map(
    lambda parts: [(sum(g + n for g, n, _ in parts[:i]) + parts[i][0],
                    parts[i][1], parts[i][2]) for i in range(len(parts))])


@settings(max_examples=300, deadline=None)
@given(spans=_DISJOINT)
def test_remove_duplicates_on_consecutive_spans_equals_presidio(
        spans: list[tuple[int, int, float]]) -> None:
    """The shortcut for spans that start after every earlier one ends, and its
    edge: touching and empty spans, where one can contain another."""
    _assert_remove_duplicates_as_presidio(spans)


_LOCAL = st.text(alphabet=st.sampled_from(list("ab.1_+-/?#:%!~[]")), min_size=1, max_size=8)
_HOST = st.lists(st.sampled_from(["example", "co", "uk", "org", "com", "invalidtld", "x", "1",
                                  "local", "amazonaws", "s3", "github", "io", "xn--p1ai"]),
                 min_size=1, max_size=4).map(".".join)
_EMAILISH = st.builds(lambda scheme, local, host, tail: f"{scheme}{local}@{host}{tail}",
                      st.sampled_from(["", "http://", "mailto:", "//"]), _LOCAL, _HOST,
                      st.sampled_from(["", ".", ":80", "/x", "?q", "#f", "]"]))


@settings(max_examples=400, deadline=None)
@given(a=_EMAILISH, b=_EMAILISH, host=_HOST, local=_LOCAL)
def test_email_verdicts_are_a_function_of_the_verdict_key(a: str, b: str, host: str,
                                                          local: str) -> None:
    """Two strings with the same key get the same Presidio verdict, so caching by it
    is exact; and the key is not the identity (else the cache would not help)."""
    recognizer = EmailRecognizer()
    key = lean.verdict_key(recognizer)
    assert key("a@example.org") == key("b@example.org")
    if key(a) != key(b):
        b = f"{local}@{key(a)}"  # same host, another local part, when that keeps the key
    if key(a) == key(b):
        assert recognizer.validate_result(a) == recognizer.validate_result(b)
        assert recognizer.invalidate_result(a) == recognizer.invalidate_result(b)


def test_verdict_key_is_the_text_for_other_validators() -> None:
    key = lean.verdict_key(IbanRecognizer())
    assert key("GB82WEST12345698765432") == "GB82WEST12345698765432"


_OCTETS = st.sampled_from(["0", "00", "01", "001", "7", "10", "99", "100", "199", "200", "249",
                           "250", "255", "256", "260", "300", "999", "1000", "a"])
_PREFIX = st.sampled_from(["", "/0", "/00", "/01", "/3", "/9", "/10", "/29", "/32", "/33", "/99",
                           "/128", "/", "/a"])


@settings(max_examples=600, deadline=None)
@given(octets=st.lists(_OCTETS, min_size=3, max_size=5), prefix=_PREFIX,
       noise=st.sampled_from(["", " ", "\n", ":", "::", "x"]))
def test_ip_invalidator_equals_presidio(octets: list[str], prefix: str, noise: str) -> None:
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    recognizer = IpRecognizer()
    for text in (".".join(octets) + prefix, ".".join(octets) + prefix + noise,
                 noise + ".".join(octets) + prefix, "::ffff:" + ".".join(octets) + prefix):
        assert lean.invalidator(recognizer)(text) == recognizer.invalidate_result(text), text


def test_ip_invalidator_skips_ipaddress_for_plain_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    from presidio_analyzer.predefined_recognizers import IpRecognizer
    from presidio_analyzer.predefined_recognizers.generic import ip_recognizer

    calls: list[str] = []
    real = ip_recognizer.ipaddress.ip_interface

    def counting(text: str) -> object:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(ip_recognizer.ipaddress, "ip_interface", counting)
    invalid = lean.invalidator(IpRecognizer())
    assert invalid("192.168.14.20") is None and invalid("10.0.0.0/8") is None
    assert calls == []
    assert invalid("192.168.01.20") is True and invalid("fe80::1") is None
    assert len(calls) == 2
    email = EmailRecognizer()
    assert lean.invalidator(email) == email.invalidate_result


_RESULTS = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 20),
                              st.integers(1, 6), st.sampled_from([0.0, 0.3, 0.5, 0.85, 1.0]),
                              st.sampled_from(["r1", "r2"])), max_size=30)


@settings(max_examples=400, deadline=None)
@given(rows=_RESULTS)
def test_remove_duplicate_results_equals_presidio(
        rows: list[tuple[str, int, int, float, str]]) -> None:
    """Same result objects (so the same recognizer names), same order."""
    _assert_remove_duplicate_results_as_presidio(rows)


_CONSECUTIVE_ROWS = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), _DISJOINT, st.sampled_from(["r1", "r2"])),
    max_size=3).map(lambda groups: [(t, s, n, score, name) for t, spans, name in groups
                                    for s, n, score in spans])


@settings(max_examples=300, deadline=None)
@given(rows=_CONSECUTIVE_ROWS)
def test_remove_duplicate_results_on_consecutive_spans_equals_presidio(
        rows: list[tuple[str, int, int, float, str]]) -> None:
    """The shortcut (each type's spans one after another) and its edges:
    touching and empty spans, and two runs of one type that interleave."""
    _assert_remove_duplicate_results_as_presidio(rows)


def _assert_remove_duplicate_results_as_presidio(
        rows: list[tuple[str, int, int, float, str]]) -> None:
    results = [RecognizerResult(t, s, s + n, score, None,  # type: ignore[arg-type]
                                {RecognizerResult.RECOGNIZER_NAME_KEY: name})
               for t, s, n, score, name in rows]
    ours = lean.remove_duplicate_results(results)
    theirs = EntityRecognizer.remove_duplicates(results)
    assert [id(r) for r in ours] == [id(r) for r in theirs]
