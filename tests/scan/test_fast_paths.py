"""The fast paths of detection: prefilter, phone candidate windows, bounded
context boosting, prose gating for NER, the content-hash cache.

Values are synthetic; assertions print counts and offsets, never values."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer import RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from daemon.scan import fastcontext
from daemon.scan.cache import CachedScan, ScanCache
from daemon.scan.detect import Detector
from daemon.scan.prefilter import Prefilter
from daemon.scan.prose import SHORT_PROSE_CHARS, ner_regions, reads_as_prose
from daemon.scan.recognizers.pii import PHONE_MIN_DIGITS, CandidatePhoneRecognizer
from scratchwarden.observations import Finding


@pytest.fixture(scope="module")
def pattern_detector() -> Detector:
    return Detector(use_ner=False)


# ----------------------------------------------------------------------------- prefilter

PLANTS = [
    "jane.roe@example.org", "536-22-1490", "4111 1111 1111 1111", "4111111111111111",
    "GB82 WEST 1234 5698 7654 32", "192.168.14.20", "fe80::1ff:fe23:4567:890a",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "(212) 555-0143", "+41 71 526 99 04",
    "0494 92 82 32", "2024-01-31", "12/03/2019", "https://www.example.com/x",
    "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2" * 9, "xoxb-1234-abcdefghij",
    "sk_live_" + "Ab1" * 6, 'password = "S3cr3t!pass"', "api_key=ab12cd34ef56gh78",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
    "123 Maple Street, Springfield, IL 62704", "Dr. Jane Roe", "Name: Arthur Dent",
    "driver's license D1234567", "3FZbgi29cpjq2GjdwV8eyHuJJnkLtktZc5", "00:1A:2B:3C:4D:5E",
    "123e4567-e89b-12d3-a456-426614174000", "A12345678", "912-70-1234", "bank account 12345678",
    "card 5019717010103742", "phone 51 516 33 75",
    # credentials.py and the looser assignment keys
    "tvq-Ab3dE9fGh2JkL5mN8pQr1StU", "dp.st.Xy7Kq2Lm9Np4Rs6Tv8Wx1Za3",
    "IO_KEY=\"aio_Q7xK2mP9vL4tR8nB3cW6zJ1y\"",
    "$2b$12$abcdefghijklmnopqrstuuKq2Lm9Np4Rs6Tv8Wx1Za3Bc5De7Fg9Hi", "login bot password Kq2Lm9Np",
    "psexec -u admin -p Kq2Lm9Np4R", "-Password Kq2Lm9Np4R", "--api-key Kq2Lm9Np4Rs6Tv8W",
    "https://hooks.acme.test/webhook/Kq2Lm9Np4Rs6Tv8Wx1Za3Bc5",
    "123456789:AAKq2Lm9Np4Rs6Tv8Wx1Za3Bc5De7Fg9Hi",
    "fbApiKey:         \"171e84fd57f430fc59afa8fad3dbda2a\"", "?token=Kq2Lm9Np4Rs6Tv8Wx1Za",
]
_FILLER = st.text(alphabet=st.sampled_from(list("abcdefghij XYZ,.:;-/\n0123456789()@_'\"=")),
                  max_size=60)


def _all_results(detector: Detector, text: str, context: list[str]) -> set[tuple[str, int, int]]:
    """Findings with every pattern recognizer run (no prefilter), as Detector does."""
    from daemon.scan.detect import _tag
    from daemon.scan.fastcontext import enhance

    results: list[RecognizerResult] = []
    for r in detector._patterns:
        for x in r.analyze(text, detector.entities, None) or ():  # type: ignore[arg-type]
            _tag(x, r)
            results.append(x)
    enhanced = enhance(text, results, detector._by_id, context)
    return {(x.entity_type, x.start, x.end) for x in enhanced if x.score >= detector.threshold}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_FILLER, after=_FILLER, plants=st.lists(st.sampled_from(PLANTS), min_size=1,
                                                       max_size=3),
       context=st.lists(st.sampled_from(["phone", "card", "ssn", "account", "name", "x"]),
                        max_size=2))
def test_prefilter_never_drops_a_finding(pattern_detector: Detector, before: str, after: str,
                                         plants: list[str], context: list[str]) -> None:
    text = before + " " + " ; ".join(plants) + " " + after
    full = _all_results(pattern_detector, text, context)
    filtered = {(x.entity_type, x.start, x.end)
                for x in pattern_detector._pattern_results(text, context)
                if x.score >= pattern_detector.threshold}
    missing = full - filtered
    assert not missing, f"prefilter dropped {sorted((t, s, e) for t, s, e in missing)}"


_TRIGGER_TEXT = st.text(alphabet=st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIKLMNOPQRSTUVWXYZ0123456789-.:/@_\"'\n")
    + ["é", "Ü", "٣", "\u00a0", "ƒ"]), max_size=80)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_TRIGGER_TEXT, after=_TRIGGER_TEXT,
       plants=st.lists(st.sampled_from(PLANTS), max_size=3))
def test_trigger_search_finds_what_one_set_finds(pattern_detector: Detector, before: str,
                                                 after: str, plants: list[str]) -> None:
    """The prefilter's split search (a set of plain strings, early-exit searches
    for shapes; ASCII texts as bytes) reports exactly the triggers one RE2 set
    over all of them reports, on ASCII and non-ASCII text (an Arabic-Indic
    digit is ``\\p{Nd}`` but not ``[0-9]``)."""
    import re2

    pf: Prefilter = pattern_detector.prefilter
    options = re2.Options()
    options.max_mem = 64 << 20
    one = re2.Set.SearchSet(options)
    for trigger in pf._triggers:
        one.Add(trigger)
    one.Compile()
    text = before + " ".join(plants) + after
    assert pf.present(text) == frozenset(one.Match(text) or ())


def test_a_trigger_re2_cannot_compile_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from presidio_analyzer import Pattern, PatternRecognizer

    from daemon.scan import prefilter
    from scratchwarden.errors import ConfigError

    class LookbehindRecognizer(PatternRecognizer):
        pass

    monkeypatch.setitem(prefilter.SHAPES, "LookbehindRecognizer", "(?<=x)y")
    r = LookbehindRecognizer(supported_entity="X", patterns=[Pattern("y", "y", 0.5)])
    with pytest.raises(ConfigError, match="RE2-compatible trigger"):
        Prefilter([r], 0.35)


def test_prefilter_skips_recognizers_without_trigger(pattern_detector: Detector) -> None:
    chosen = {type(r).__name__ for r in pattern_detector.prefilter.select(
        "just some lower case words here")}
    assert "PrivateKeyRecognizer" not in chosen and "CreditCardRecognizer" not in chosen
    assert "EmailRecognizer" not in chosen
    chosen = {type(r).__name__ for r in pattern_detector.prefilter.select("mail a@b.example")}
    assert "EmailRecognizer" in chosen


def test_context_gated_recognizer_runs_with_caller_context(pattern_detector: Detector) -> None:
    pf: Prefilter = pattern_detector.prefilter
    text = "value 12345678 here"
    assert "UsBankRecognizer" not in {type(r).__name__ for r in pf.select(text)}
    assert "UsBankRecognizer" in {type(r).__name__ for r in pf.select(text, ["account"])}


# ----------------------------------------------------------------------------- phone windows

PHONE_TEXTS = [
    "Call me at (212) 555-0143 or +44 20 7946 0958 after 5pm.",
    "2025-01-02T10:00:00.123Z INFO req=0f3a9 GET /api/v1/items/88123 200 12ms from 10.2.3.4",
    "id,name,phone\n1,Jane,415-867-5309\n2,Joe,+49 30 901820\n3,Ann,(617) 253-1000 ext. 12\n",
    '{"phone": "+33 1 42 68 53 00", "fax": "+1-202-456-1111", "n": 1234567890123}',
    "Ticket 4481 was opened on 12/03/2019; tel 0494 92 82 32; order 98765432.",
    "Numbers: 5551234, 555 1234, 1-800-555-0199, +91 98765 43210, +55 11 91234-5678.",
    # a number overlapping (not inside) one another region matched is still parsed
    " (91 98765 43210 ext. 555-0143 - 0212 555 0143",
    " 555-0143. 98765 43210.91 98765 43210.98765 43210/52769",
]


def _presidio_phones(text: str) -> set[tuple[int, int, float]]:
    """Presidio's own PhoneRecognizer, less its numbers of under PHONE_MIN_DIGITS digits."""
    return {(r.start, r.end, r.score) for r in PhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
            if sum(map(str.isdigit, text[r.start:r.end])) >= PHONE_MIN_DIGITS}


@pytest.mark.parametrize("text", PHONE_TEXTS)
def test_candidate_windows_find_what_the_full_matcher_finds(text: str) -> None:
    full = _presidio_phones(text)
    fast = {(r.start, r.end, r.score)
            for r in CandidatePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert full == fast, f"full {sorted(full)} vs windows {sorted(fast)}"


def test_candidate_windows_on_a_long_mixed_text() -> None:
    text = "\n".join(PHONE_TEXTS * 40)
    full = _presidio_phones(text)
    fast = {(r.start, r.end, r.score)
            for r in CandidatePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert full and full == fast


def test_short_numbers_beside_a_long_one_are_not_phones() -> None:
    """A 6-digit id next to a 10-digit one: Presidio's matcher calls the id a
    (German) phone number; ours parses no candidate under 7 digits, whether or
    not a longer run opened the window around it."""
    text = "GET /api/v1/items/366620 404 804ms; order 112775646 shipped"
    short = text.index("366620")
    presidio = {(r.start, r.end) for r in PhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert (short, short + 6) in presidio          # the premise: Presidio reports it
    ours = {(r.start, r.end) for r in CandidatePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert all(e - s >= PHONE_MIN_DIGITS for s, e in ours), ours


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(candidate, region) of every parse phonenumbers' matcher runs from now on."""
    import phonenumbers

    seen: list[tuple[str, str]] = []
    real = phonenumbers.PhoneNumberMatcher._parse_and_verify

    def spy(self: phonenumbers.PhoneNumberMatcher, candidate: str, offset: int) -> object:
        seen.append((candidate, self.preferred_region))
        return real(self, candidate, offset)

    monkeypatch.setattr(phonenumbers.PhoneNumberMatcher, "_parse_and_verify", spy)
    return seen


def test_each_number_is_parsed_only_where_its_region_can_matter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A number written with its country code parses the same whatever the
    default region: one parse, not one per region. A national number is
    parsed region by region until one matches it whole; later regions skip
    it (whatever they found inside it would be dropped as contained), and
    the results stay Presidio's."""
    text = "office +44 20 7946 0958, desk (212) 555-0143, home 020 7946 0018"
    presidio = {(r.start, r.end) for r in PhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    regions = list(PhoneRecognizer().supported_regions)
    seen = _parses(monkeypatch)
    found = CandidatePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
    assert {(r.start, r.end) for r in found} == presidio and len(presidio) == 3
    assert [r for c, r in seen if c.startswith("+44")] == [regions[0]], seen
    assert [r for c, r in seen if c.startswith("(212)")] == ["US"], seen
    # not a US number: parsed in each region up to the first that matches it
    uk = [r for c, r in seen if c.startswith("020 7946")]
    assert uk == regions[:regions.index("GB") + 1], seen


_PHONEISH = st.text(alphabet=st.sampled_from(list("0123456789 -.()/+x:ext#,;ab\n") + ["\u00a0"]),
                   min_size=7, max_size=90)


_NUMBERS = ["(212) 555-0143", "212-555-0143", "+44 20 7946 0958", "020 7946 0018",
            "0494 92 82 32", "+49 30 901820", "98765 43210", "(11) 91234-5678", "555-0143",
            "1-800-555-0199 ext. 12", "2125550143", "078-05-1120", "4111 1111 1111 1111"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(st.sampled_from(_NUMBERS), _PHONEISH), min_size=1, max_size=5))
def test_phone_results_are_presidios_on_generated_text(parts: list[str]) -> None:
    """Whatever the memo, the shared search and the skipping of numbers other
    regions matched do, the recognizer's results are Presidio's (less its
    numbers under PHONE_MIN_DIGITS digits)."""
    text = " ".join(parts)
    fast = {(r.start, r.end, r.score)
            for r in CandidatePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert fast == _presidio_phones(text)


def test_the_phone_memo_answers_as_parsing_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scanning the same texts again with a warm memo parses nothing and gives
    Presidio's results; a memo at its bound starts over instead of growing."""
    recognizer = CandidatePhoneRecognizer()
    text = "\n".join(PHONE_TEXTS)
    first = {(r.start, r.end, r.score) for r in recognizer.analyze(text, ["PHONE_NUMBER"])}
    assert first == _presidio_phones(text)
    seen = _parses(monkeypatch)
    again = {(r.start, r.end, r.score) for r in recognizer.analyze(text, ["PHONE_NUMBER"])}
    assert again == first
    assert seen == []
    from daemon.scan.recognizers.pii import PhoneMemo

    small = CandidatePhoneRecognizer()
    small.memo = PhoneMemo(max_entries=3)
    assert {(r.start, r.end, r.score)
            for r in small.analyze(text, ["PHONE_NUMBER"])} == first
    assert 0 < len(small.memo._answers) <= 3


_MATCHER_TEXTS = [*PHONE_TEXTS,
                  "x 12/03/2019 10:45:12 pages 12-14 tel. (030) 1234 5678/79 or 030/123456-78",
                  "+1 (800) 555-0199 x 1234; 0800 123 4567; 555 0199 5550199 555-0199 55501990",
                  "ids 123456789 987654321, 10.20.30.40, 4111 1111 1111 1111, 078-05-1120",
                  # a time stamp the library skips (else US parses "2125-05-01 14")
                  "at 2125-05-01 14:45 ok, at 2125/05/01 14:45:10",
                  # inner matches: only a later, overlapping group parses
                  "a 1 / 2125550143 / 2125550144; c 555 0 2125550143 2 2125550144 3"]


@pytest.mark.parametrize("budget", [65535, 3, 1])
@pytest.mark.parametrize("text", _MATCHER_TEXTS)
def test_shared_candidates_match_as_the_library_matcher(
        text: str, budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate search shared by all regions finds, in every region, what
    phonenumbers' own matcher (with the min-digits rule) finds, the same
    matches in the same order, also when the try budget runs out."""
    from daemon.scan.recognizers import pii

    assert pii._SHARED_MATCHING
    monkeypatch.setattr(pii, "_MAX_TRIES", budget)
    candidates = pii._Candidates(text)
    for region in PhoneRecognizer().supported_regions:
        library = pii._MinDigitsMatcher(text, region, 1)
        library._max_tries = budget
        expected = [(m.start, m.raw_string) for m in library]
        ours = [(m.start, m.raw_string)
                for m in pii._shared_matches(candidates, region, 1, pii.PhoneMemo())]
        assert ours == expected, region



@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_PHONEISH, budget=st.sampled_from([65535, 2]))
def test_shared_candidates_on_generated_text(text: str, budget: int) -> None:
    """As above, on generated digit-and-punctuation text (dates, extensions,
    brackets, slashes, second numbers) in every region."""
    from daemon.scan.recognizers import pii

    candidates = pii._Candidates(text)
    memo = pii.PhoneMemo()
    for region in PhoneRecognizer().supported_regions:
        library = pii._MinDigitsMatcher(text, region, 1)
        library._max_tries = budget
        expected = [(m.start, m.raw_string) for m in library]
        old = pii._MAX_TRIES
        pii._MAX_TRIES = budget
        try:
            ours = [(m.start, m.raw_string)
                    for m in pii._shared_matches(candidates, region, 1, memo)]
        finally:
            pii._MAX_TRIES = old
        assert ours == expected, region


def test_the_matcher_hook_still_exists() -> None:
    """The min-digits rule overrides phonenumbers' private per-candidate hook;
    a release that renames it would silently parse every candidate again."""
    import phonenumbers

    assert callable(getattr(phonenumbers.PhoneNumberMatcher, "_parse_and_verify", None))


# ----------------------------------------------------------------------------- context window


def test_surrounding_words_skip_stop_words_and_are_bounded() -> None:
    text = "the phone of the office is at: 51 516 33 75"
    start = text.index("51 516")
    words = fastcontext.surrounding_words(text, start)
    assert "phone" in words and "office" in words and "the" not in words
    far = "phone " + "lorem " * 100 + "51 516 33 75"
    assert "phone" not in fastcontext.surrounding_words(far, far.index("51 516"))


def test_context_boost_raises_only_near_results(pattern_detector: Detector) -> None:
    number = "51 516 33 75"
    near = f"Phone: {number}"
    far = "Phone: see below. " + "lorem ipsum dolor " * 30 + number
    assert any(f.entity_type == "PHONE_NUMBER" for f in pattern_detector.detect(near))
    assert not any(f.entity_type == "PHONE_NUMBER" for f in pattern_detector.detect(far))


# ----------------------------------------------------------------------------- prose gating


def test_ner_regions_skip_machine_text_and_keep_names() -> None:
    log = "\n".join(f"2025-01-02T10:00:{i:02d}Z INFO GET /api/v1/items/{i} 200 12ms"
                    for i in range(60))
    blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw" * 50
    assert ner_regions(log) == [] and ner_regions(blob) == []
    json_lines = "id: 17\nscore: 0.5\nname: Alice Walker\nstatus: active\n" * 3
    regions = ner_regions(json_lines)
    covered = "".join(json_lines[s:e] for s, e in regions)
    assert "Alice Walker" in covered


@pytest.mark.parametrize(("text", "prose"), [
    ("i met john smith in boston last week and he said hi.", True),
    ("we shipped it yesterday, everyone was happy with the result", True),
    ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw", False),           # base64
    ("2025-01-02T10:00:00Z INFO GET /api/v1/items/7 200 12ms", False),  # log line
    ("id,amount,qty\n1,20.50,3\n2,18.00,1\n3,99.99,12\n", False),        # numeric CSV
    ("de ad be ef 01 23 45 67 89 ab cd ef 00 11 22 33", False),         # hex dump
    ("", False),
])
def test_reads_as_prose(text: str, prose: bool) -> None:
    assert reads_as_prose(text) is prose


def test_short_prose_goes_to_ner_whole_and_machine_text_does_not() -> None:
    lower = "yesterday i met john smith in boston.\nhe lives near the harbour now.\n"
    assert ner_regions(lower) == [(0, len(lower))]
    assert ner_regions("2025-01-02T10:00:00Z INFO GET /api/v1/items/7 200 12ms") == []
    assert ner_regions("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw" * 10) == []
    # Long lower-case prose is not sent whole: the short-text rule is bounded.
    long_lower = "the build ran and the tests passed again today. " * (SHORT_PROSE_CHARS // 40)
    assert len(long_lower) > SHORT_PROSE_CHARS and ner_regions(long_lower) == []


@pytest.mark.slow
def test_lower_case_prose_reaches_ner() -> None:
    detector = Detector(entities=["PERSON", "LOCATION"])
    text = "last week i had lunch with barack obama in chicago, it was great."
    found = [f for f in detector.detect(text) if f.recognizer == "SpacyRecognizer"]
    assert found, "NER produced nothing for a short lower-case sentence"


@pytest.mark.slow
def test_names_in_json_found_and_logs_not_sent_to_ner(tmp_path: Path) -> None:
    detector = Detector()
    log = "\n".join(f"2025-01-02T10:00:{i % 60:02d}Z INFO GET /api/v1/items/{i} 200 12ms"
                    for i in range(300))
    assert ner_regions(log) == []
    assert not [f for f in detector.detect(log) if f.recognizer == "SpacyRecognizer"]
    text = "id: 17\nstatus: active\nnote: Yesterday Barack Obama visited the factory.\n"
    found = detector.detect(text)
    i = text.index("Barack Obama")
    assert any(f.entity_type == "PERSON" and f.start <= i and f.end >= i + 12 for f in found)


def test_no_ner_when_no_ner_entity_requested() -> None:
    detector = Detector(entities=["EMAIL_ADDRESS", "PERSON"], use_ner=False)
    assert not detector.needs_ner


# ----------------------------------------------------------------------------- cache


def _finding(i: int) -> Finding:
    return Finding(entity_type="EMAIL_ADDRESS", start=i, end=i + 5, score=1.0,
                   recognizer="EmailRecognizer", locator=None, fingerprint=f"{i:064x}")


def test_cache_is_bounded_by_entries_and_findings() -> None:
    cache = ScanCache(max_entries=3, max_findings=10)
    for i in range(5):
        cache.put(f"d{i}", ".txt", CachedScan("text/plain", (_finding(i),)))
    assert len(cache) == 3 and cache.get("d0", ".txt") is None
    cache.put("big", ".txt", CachedScan("text/plain", tuple(_finding(i) for i in range(8))))
    assert cache.findings_held <= 10 and cache.get("big", ".txt") is not None
    cache.put("huge", ".txt", CachedScan("text/plain", tuple(_finding(i) for i in range(11))))
    assert cache.get("huge", ".txt") is None


def test_scanner_returns_identical_findings_for_identical_content(tmp_path: Path) -> None:
    from daemon.platform.fingerprint import Fingerprinter
    from daemon.scan.pipeline import Scanner

    scanner = Scanner(detector=Detector(use_ner=False),
                      fingerprinter=Fingerprinter(os.urandom(32)))
    body = "Contact jane.roe@example.org or call +41 71 526 99 04.\n"
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_text(body)
    b.write_text(body)
    c.write_text(body.replace("jane.roe", "john.doe"))
    oa, ob, oc = scanner.scan(str(a)), scanner.scan(str(b)), scanner.scan(str(c))
    assert scanner.cache is not None and scanner.cache.hits == 1
    assert oa.findings and oa.findings == ob.findings and oa.sha256 == ob.sha256
    assert oa.path != ob.path and oc.findings != oa.findings
    fresh = Scanner(detector=scanner.detector, fingerprinter=scanner.fingerprinter, cache=None)
    assert fresh.scan(str(b)).findings == ob.findings
    assert dataclasses.replace(ob, path=oa.path, inode=oa.inode, scan_seconds=oa.scan_seconds,
                               mtime_ns=oa.mtime_ns, cpu_seconds=oa.cpu_seconds) == oa


@pytest.mark.parametrize(("text", "windows"), [
    ("2026-11-21T10:00:01Z INFO step=3 tool=search status=ok ms=12", 0),
    ("2026-11-21 10:00:01 worker started", 0),
    ("1999-12-31 call 212-555-0142 now", 1),     # a real number after the date
    ("2026-11-21 212 555 0142", 1),              # ... even in the same digit run
    ("order 2026-13-45 is not a date: 20261345", 1),
])
def test_iso_dates_are_not_phone_candidates(text: str, windows: int) -> None:
    from daemon.scan.recognizers.pii import phone_candidate_windows

    assert len(phone_candidate_windows(text)) == windows


# ----------------------------------------------------------------------------- sentence gating

_ORDINARY = ("The report shows that our team will review the numbers this quarter. "
             "Then check the invoice again before the meeting and then sign the contract. ")


def _long(*sentences: str) -> str:
    body = "".join(sentences)
    return (_ORDINARY * (SHORT_PROSE_CHARS // len(_ORDINARY) + 1)) + body + _ORDINARY * 3


def test_long_prose_sends_only_sentences_with_a_name_like_capital() -> None:
    text = _long("Yesterday I spoke with Maria about the order. ",
                 "Our office number is 212-555-0187 for the team. ",
                 "the team moved to Chicago last month. ")
    assert len(text) > SHORT_PROSE_CHARS
    regions = ner_regions(text)
    sent = "".join(text[s:e] for s, e in regions)
    assert "Maria" in sent and "Chicago" in sent
    assert "212-555-0187" not in sent               # nothing NER could tag there
    assert "The report shows" not in sent           # opened by ordinary words only
    assert sum(e - s for s, e in regions) < len(text) // 2


def test_sentence_opening_name_counts_when_not_an_ordinary_word() -> None:
    """``Maria`` opening a sentence is a trigger (``maria`` never occurs);
    ``Then`` is not (``then`` occurs in lower case in the text)."""
    text = _long("Maria called about the invoice. ", "please call back soon. ")
    sent = "".join(text[s:e] for s, e in ner_regions(text))
    assert "Maria called" in sent and "please call back" not in sent


def test_wrapped_sentence_is_kept_whole() -> None:
    text = _long("After the review the whole team moved to\nChicago last month. ")
    sent = "".join(text[s:e] for s, e in ner_regions(text))
    assert "After the review the whole team moved to\nChicago last month." in sent


def test_name_dense_prose_goes_to_ner_whole() -> None:
    line = "Maria Lopez met James Smith in Boston. John Adams flew to Denver. "
    text = line * (SHORT_PROSE_CHARS // len(line) + 2)
    assert ner_regions(text) == [(0, len(text))]


def test_speaker_labels_go_to_ner_without_their_lower_case_lines() -> None:
    """A transcript: every line opens with a speaker label, so every line looks
    name-bearing. Lines whose words after the label hold nothing name-like send
    only the label (with its colon); lines naming someone go whole."""
    lines = [f"{who}: the invoice total looks right and the team agrees.\n"
             for who in ("Maria Lopez", "James Smith", "Ann Wu")] * 8
    lines[5] = "James Smith: yes, I spoke with Peter Brown about the order.\n"
    text = "".join(lines) * 2
    assert len(text) > SHORT_PROSE_CHARS
    regions = ner_regions(text)
    spans = [text[s:e] for s, e in regions]
    assert "Peter Brown" in "".join(spans)                    # a named line, whole
    assert "the invoice total" not in "".join(spans)          # chatter is not sent
    for who in ("Maria Lopez", "James Smith", "Ann Wu"):      # every label occurrence
        assert sum(span.count(f"{who}:") for span in spans) == text.count(f"{who}:")
    assert sum(e - s for s, e in regions) < len(text) // 3


def test_a_label_on_too_few_lines_is_no_speaker_label() -> None:
    """``Note:`` opening two lines is no speaker label; ``Maria Lopez:`` opening
    three is (and only labels at a line start count)."""
    from daemon.scan.prose import speaker_labels

    text = ("Maria Lopez: hello.\nNote: a.\nMaria Lopez: yes.\nNote: b.\n"
            "Maria Lopez: done.\nsee Ann Wu: x\nsee Ann Wu: y\nsee Ann Wu: z\n")
    assert speaker_labels(text) == frozenset({"Maria Lopez"})


def test_capitals_inside_a_token_are_not_name_like() -> None:
    """Base64 and hashes hold runs like ``GsUqJlbc``: two capitalised "words"
    glued mid-token, which used to send every such line to NER."""
    line = "mLCWVgfkcsIlMEC1TuxlJRxXFG6RdZWfrlWLevD2SnFxFGceKaNOKlr1mDS8Gdhdj4MpGsUqJlbc\n"
    assert ner_regions(line * 60) == []
    assert ner_regions(f"{line}contact McDonald Smith today\n{line}") != []


def test_one_shot_scans_submit_biggest_files_first(tmp_path: Path) -> None:
    from daemon.scan.runner import iter_targets

    for name, size in (("a.txt", 10), ("b.txt", 5000), ("c/d.txt", 300), ("c/e.txt", 300)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x" * size)
    order = [os.path.relpath(p, tmp_path) for _, p in iter_targets([str(tmp_path)])]
    assert order[0] == "b.txt" and order[-1] == "a.txt"
    assert sorted(order[1:3]) == ["c/d.txt", "c/e.txt"]
