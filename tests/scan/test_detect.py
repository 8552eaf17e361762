"""The PII detector: real Presidio, the real spaCy model (loaded once per session).

Values used here are synthetic; assertions never print a detected value."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daemon.scan.detect import (
    CHUNK_CHARS,
    CHUNK_OVERLAP,
    PATTERN_CHUNK_CHARS,
    Detector,
    RawFinding,
    chunk_spans,
    dedupe,
    drop_subsumed,
)
from daemon.scan.recognizers.pii import (
    CardNumberContextRecognizer,
    InternationalPhoneRecognizer,
    PlaceRecognizer,
    StreetAddressRecognizer,
    TitledPersonRecognizer,
    UsDriverLicenseContextRecognizer,
    luhn_ok,
)
from scratchwarden.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector()


@pytest.fixture(scope="session")
def pattern_detector() -> Detector:
    return Detector(use_ner=False)


def _spans(findings: list[RawFinding], entity: str) -> list[tuple[int, int]]:
    return [(f.start, f.end) for f in findings if f.entity_type == entity]


def _covered(text: str, findings: list[RawFinding], entity: str, value: str) -> bool:
    """Some finding of ``entity`` covers the whole of ``value`` (no value in messages)."""
    i = text.index(value)
    return any(s <= i and i + len(value) <= e for s, e in _spans(findings, entity))


# ----------------------------------------------------------------------------- recognizers
# (recognizer, text, value expected to be covered or None for "nothing found")

RECOGNIZER_CASES = [
    (StreetAddressRecognizer, "Ship it to 24 Clarke Avenue, Springfield, IL 62704 please.",
     "24 Clarke Avenue, Springfield, IL 62704"),
    (StreetAddressRecognizer, "Office: 1600 Amphitheatre Parkway\nMountain View\nUnited States",
     "1600 Amphitheatre Parkway\nMountain View\nUnited States"),
    (StreetAddressRecognizer, "Wohnt in der Hauptstrasse 12, Berlin", "Hauptstrasse 12, Berlin"),
    (StreetAddressRecognizer, "Il nostro ufficio: Via Roma 131, Milano", "Via Roma 131, Milano"),
    (StreetAddressRecognizer, "PSC 1234, Box 5678\nAPO AE 09123",
     "PSC 1234, Box 5678\nAPO AE 09123"),
    (StreetAddressRecognizer, "We are open 24 hours a day and 7 days a week.", None),
    (StreetAddressRecognizer, "During 1971, Acme expanded quickly.", None),
    (StreetAddressRecognizer, "Python 3 and Windows 10 are installed.", None),
    (TitledPersonRecognizer, "Please forward this to Dr. Jane Roe today.", "Jane Roe"),
    (TitledPersonRecognizer, "Name: Arthur Dent\nRole: tester", "Arthur Dent"),
    (TitledPersonRecognizer, "the report says capitalized Words Like These matter", None),
    (TitledPersonRecognizer, "My name is Oskar", "Oskar"),
    (TitledPersonRecognizer, "What's your last name? Fenwick", "Fenwick"),
    (TitledPersonRecognizer, "I'd like to join accounts with ms. Ravenna", "Ravenna"),
    (TitledPersonRecognizer, "A comedy film directed by Tove Lindqvist", "Tove Lindqvist"),
    (TitledPersonRecognizer, "my name is not important here", None),
    (TitledPersonRecognizer, "see the file name: config.yaml", None),
    (PlaceRecognizer, "She was born in Ohio and later moved on.", "Ohio"),
    (PlaceRecognizer, "Shipping to CANADA only.", "CANADA"),
    (PlaceRecognizer, "The office is in Springfield, IL near the river.", "Springfield, IL"),
    (PlaceRecognizer, "Our team is based in Lyon, France.", "Lyon, France"),
    (PlaceRecognizer, "Mr. Hale flew to ÅLESUND on Thursday morning.", "ÅLESUND"),
    (PlaceRecognizer, "I'm Ada, originally from Mérida Norte, and I'm 31.", "Mérida Norte"),
    (PlaceRecognizer, "The United States of America signed it.", "United States of America"),
    (PlaceRecognizer, "Where: Little Harbour Country Club.", "Little Harbour Country Club"),
    (PlaceRecognizer, "We moved to Python 3 and Windows 11 last year.", None),
    (PlaceRecognizer, "INFO GET /api/v1/items IN PROGRESS CA 200", None),
    (PlaceRecognizer, "The Francesca file and Indiana_jones.txt and the Texasware tool", None),
    (PlaceRecognizer, "i am in charge of the release", None),
    (UsDriverLicenseContextRecognizer, "driver's license number: D1234567 on file", "D1234567"),
    (UsDriverLicenseContextRecognizer, "the license agreement was signed", None),
    (InternationalPhoneRecognizer, "Desk: +41 (0)71 526 99 04", "+41 (0)71 526 99 04"),
    (InternationalPhoneRecognizer, "416 60 039 office", "416 60 039"),
    (InternationalPhoneRecognizer, "Date: 1985-11-18 22:50:23", None),
    (InternationalPhoneRecognizer, "SSN 123-45-6789", None),
]


@pytest.mark.parametrize(("cls", "text", "value"), RECOGNIZER_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(RECOGNIZER_CASES)])
def test_recognizer_patterns(cls: type, text: str, value: str | None) -> None:
    recognizer = cls()
    entity = recognizer.supported_entities[0]
    results = [r for r in recognizer.analyze(text, [entity]) if r.score >= 0.4]
    if value is None:
        assert results == [], f"{cls.__name__} found {len(results)} unexpected spans"
    else:
        i = text.index(value)
        assert any(r.start <= i and i + len(value) <= r.end for r in results), (
            f"{cls.__name__} did not cover the expected value; spans "
            f"{[(r.start, r.end) for r in results]}")


def test_card_recognizer_needs_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    r = CardNumberContextRecognizer()
    assert r.invalidate_result("4111111111111112") is True
    assert r.invalidate_result("4111111111111111") is False


# ----------------------------------------------------------------------------- through the Detector

DETECTOR_CASES = [
    ("Contact me at jane.roe@example.org tomorrow.", "EMAIL_ADDRESS", "jane.roe@example.org"),
    ("My credit card 2308667275322437 was lost.", "CREDIT_CARD", "2308667275322437"),
    ("Please call me at 0494 92 82 32 after lunch.", "PHONE_NUMBER", "0494 92 82 32"),
    ("My social security number is 536-22-1490.", "US_SSN", "536-22-1490"),
    ("Wire it to GB82 WEST 1234 5698 7654 32 now.", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("The server at 192.168.14.20 went down.", "IP_ADDRESS", "192.168.14.20"),
    ("My new address is 50345 Wingertweg 126\n Suite 408\n Ependes\n Switzerland 82590",
     "ADDRESS", "50345 Wingertweg 126\n Suite 408\n Ependes\n Switzerland 82590"),
    ("Yesterday Barack Obama visited the factory.", "PERSON", "Barack Obama"),
    ("She moved to Chicago last year.", "LOCATION", "Chicago"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("text", "entity", "value"), DETECTOR_CASES,
                         ids=[c[1] for c in DETECTOR_CASES])
def test_detector_finds(detector: Detector, text: str, entity: str, value: str) -> None:
    findings = detector.detect(text)
    got = [(f.entity_type, f.start, f.end) for f in findings]
    assert _covered(text, findings, entity, value), f"no {entity} covering the value; got {got}"


@pytest.mark.slow
@pytest.mark.parametrize("text", [
    "The meeting is at noon in the big room.",
    "We shipped version 2.4.1 with 3 fixes and 12 tests.",
    "Order 12345 contains 6 items.",
])
def test_detector_negatives(detector: Detector, text: str) -> None:
    found = [f for f in detector.detect(text) if f.entity_type != "DATE_TIME"]
    assert found == [], f"unexpected findings {[(f.entity_type, f.start, f.end) for f in found]}"


@pytest.mark.slow
def test_context_words_raise_weak_patterns(pattern_detector: Detector) -> None:
    """The lean NLP engine (no lemmatizer) still feeds Presidio's context enhancer."""
    number = "51 516 33 75"
    with_ctx = f"Phone: {number}"
    without = f"Total {number}"
    assert _covered(with_ctx, pattern_detector.detect(with_ctx), "PHONE_NUMBER", number)
    assert _spans(pattern_detector.detect(without), "PHONE_NUMBER") == []
    # Context passed by the caller (e.g. a CSV header) works too.
    assert _covered(without, pattern_detector.detect(without, context=["phone"]),
                    "PHONE_NUMBER", number)


@pytest.mark.slow
def test_pattern_only_mode_runs_no_ner(pattern_detector: Detector) -> None:
    text = "Yesterday Barack Obama wrote to jane.roe@example.org from Chicago."
    findings = pattern_detector.detect(text)
    assert _covered(text, findings, "EMAIL_ADDRESS", "jane.roe@example.org")
    assert {f.recognizer for f in findings}.isdisjoint({"SpacyRecognizer"})
    assert not _spans(findings, "LOCATION")


@pytest.mark.slow
def test_entities_filter(detector: Detector) -> None:
    only = Detector(entities=["EMAIL_ADDRESS"], use_ner=False)
    text = "Mail jane.roe@example.org or call +41 71 526 99 04"
    assert {f.entity_type for f in only.detect(text)} == {"EMAIL_ADDRESS"}
    assert "PHONE_NUMBER" in {f.entity_type for f in detector.detect(text)}


# ----------------------------------------------------------------------------- chunking


def _filler(n_chars: int) -> str:
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
             "tempor incididunt ut labore et dolore magna aliqua ").split()
    out, size, i = [], 0, 0
    while size < n_chars:
        out.append(words[i % len(words)])
        size += len(out[-1]) + 1
        i += 1
    return " ".join(out)


def test_chunk_spans_cover_with_overlap_on_whitespace() -> None:
    text = _filler(35_000)
    windows = list(chunk_spans(len(text), text))
    assert windows[0][0] == 0 and windows[-1][1] == len(text)
    for (s1, e1), (s2, e2) in zip(windows, windows[1:], strict=False):
        assert s2 < e1 and e1 - s2 >= CHUNK_OVERLAP      # overlap
        assert s1 < s2 and e1 < e2                       # progress
        assert text[e1 - 1].isspace() and text[s2 - 1].isspace()  # cut after whitespace
        assert e1 - s1 <= 10_000


def test_chunk_spans_without_whitespace_still_progress() -> None:
    text = "x" * 25_000
    windows = list(chunk_spans(len(text), text))
    assert windows[-1][1] == len(text)
    assert all(b[0] > a[0] for a, b in zip(windows, windows[1:], strict=False))


def test_dedupe_keeps_one_per_place() -> None:
    a = RawFinding("EMAIL_ADDRESS", 10, 30, 0.5, "r")
    partial = RawFinding("EMAIL_ADDRESS", 10, 22, 0.5, "r")
    other = RawFinding("URL", 15, 30, 0.5, "u")
    assert dedupe([partial, a, a, other]) == [a, other]


def test_drop_subsumed_ner_inside_address() -> None:
    addr = RawFinding("ADDRESS", 0, 40, 0.6, "StreetAddressRecognizer")
    person = RawFinding("PERSON", 4, 14, 0.85, "SpacyRecognizer")
    email = RawFinding("EMAIL_ADDRESS", 50, 60, 1.0, "EmailRecognizer")
    assert drop_subsumed([addr, person, email]) == [addr, email]


def test_drop_subsumed_drops_each_kind_and_keeps_pattern_only_findings() -> None:
    card = RawFinding("CREDIT_CARD", 0, 19, 1.0, "CreditCardRecognizer")
    phone_in_card = RawFinding("PHONE_NUMBER", 5, 19, 0.4, "PhoneRecognizer")
    date_on_card = RawFinding("DATE_TIME", 0, 9, 0.85, "SpacyRecognizer")
    email = RawFinding("EMAIL_ADDRESS", 30, 50, 1.0, "EmailRecognizer")
    assert drop_subsumed([card, phone_in_card, email]) == [card, email]
    assert drop_subsumed([card, date_on_card, email]) == [card, email]
    only = [card, email, RawFinding("US_SSN", 60, 71, 0.85, "UsSsnRecognizer")]
    kept = drop_subsumed(only)
    assert kept == only and kept is not only


@pytest.mark.slow
def test_value_across_chunk_border_reported_once(detector: Detector) -> None:
    """No whitespace near the border forces a cut inside the value: the first
    window sees a truncated (still valid-looking) email, the second the whole."""
    email = "border.case@example.com"
    head = _filler(9_800)[:9_699] + " "
    start = 10_000 - len("border.case@example.co")       # cut right after ".co"
    text = head + "," * (start - len(head)) + email + "," * 300 + " " + _filler(15_000)
    windows = list(chunk_spans(len(text), text))
    assert windows[0][1] == 10_000 and start < windows[0][1] < start + len(email)
    emails = _spans(detector.detect(text), "EMAIL_ADDRESS")
    assert emails == [(start, start + len(email))]


@pytest.mark.slow
def test_value_inside_overlap_reported_once(detector: Detector) -> None:
    text = _filler(25_000)
    first_end = next(iter(chunk_spans(len(text), text)))[1]
    email = "overlap.case@example.org"
    at = text.index(" ", first_end - CHUNK_OVERLAP // 2)   # inside both windows
    text = text[:at] + " " + email + text[at:]
    start = text.index(email)
    emails = _spans(detector.detect(text), "EMAIL_ADDRESS")
    assert emails == [(start, start + len(email))]


@pytest.mark.slow
def test_detect_many_returns_what_detect_returns(detector: Detector) -> None:
    """Batching NER across chunks and texts changes nothing in the findings."""
    long_text = _filler(12_000) + " Yesterday Barack Obama met Angela Merkel in Berlin. " \
        + _filler(9_000) + " Write to jane.roe@example.org or call 212-555-0187. "
    items: list[tuple[str, tuple[str, ...]]] = [
        ("I spoke with Jennifer Lopez in Chicago about the invoice.", ()),
        ("", ()),
        ("name: Ryan Miller\nstatus: active\ncity: Dublin\nphone: (415) 555-0132\n",
         ("name", "city", "phone")),
        (long_text, ()),
        ("2025-01-02T10:00:00Z INFO GET /api/v1/items/7 200 12ms\n" * 40, ()),
    ]
    many = detector.detect_many(items)
    assert many == [detector.detect(text, context) for text, context in items]
    assert {"PERSON", "LOCATION", "EMAIL_ADDRESS"} <= {f.entity_type for f in many[3]}
    assert many[1] == []


def _texts_sent_to_spacy(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, every text ``detector`` hands spaCy is appended to the list returned."""
    engine = detector.analyzer.nlp_engine
    sent: list[str] = []
    real = engine.process_batch

    def spy(batch: list[str], *args: object, **kwargs: object) -> object:
        sent.extend(batch)
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(engine, "process_batch", spy)
    return sent


def test_identical_regions_go_to_spacy_once(detector: Detector,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A region text repeated (a speaker label, a CSV city) is NER'd once and
    its findings land at every occurrence, exactly where a per-text run puts them."""
    ref = "ref: 0000-1111-2222 0x7f00aa 12.5 99.1 0.0001 5150 7781 2309 8816 0.25\n"
    texts = [f"name: Ryan Miller\n{ref}city: Dublin\n{ref}" * 5,
             f"name: Ryan Miller\n{ref}city: Dublin\n{ref}"]
    items: list[tuple[str, tuple[str, ...]]] = [(t, ()) for t in texts]
    sent = _texts_sent_to_spacy(detector, monkeypatch)
    many = detector.detect_many(items)
    assert sorted(sent) == sorted(set(sent)) and len(sent) <= 2     # each distinct text once
    people = [f for f in many[0] if f.entity_type == "PERSON"]
    places = [f for f in many[0] if f.entity_type == "LOCATION"]
    assert len(people) == 5 and len(places) == 5                    # at every occurrence
    monkeypatch.undo()
    assert many == [detector.detect(t, c) for t, c in items]


def test_short_regions_are_remembered_across_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short region text NER'd in one call is not sent again in a later one,
    and the later findings are what a fresh detector gives."""
    from daemon.scan.detect import NER_CACHE_MAX_CHARS

    ref = "ref: 0000-1111-2222 0x7f00aa 12.5 99.1 0.0001 5150 7781 2309 8816 0.25\n"
    refs = ref * 30                                  # machine text: regions are lines
    first = f"name: Ryan Miller\n{refs}" * 3
    later = f"{refs}name: Ryan Miller\n{refs}city: Dublin\n{refs}"
    long_line = "Maria Lopez met James Smith in Boston " + "and went on " * 30 + "\n"
    assert len(long_line) > NER_CACHE_MAX_CHARS
    mine = Detector()
    mine.detect_many([(first + long_line + ref, ())])
    assert "name: Ryan Miller\n" in mine._ner_cache
    sent = _texts_sent_to_spacy(mine, monkeypatch)
    again = mine.detect_many([(later + long_line + ref, ())])
    assert "name: Ryan Miller\n" not in sent                   # remembered
    assert "city: Dublin\n" in sent and long_line in sent      # new, and too long to keep
    monkeypatch.undo()
    assert again == Detector().detect_many([(later + long_line + ref, ())])
    assert {"PERSON", "LOCATION"} <= {f.entity_type for f in again[0]}


def test_detect_many_of_nothing() -> None:
    assert Detector(use_ner=False).detect_many([]) == []


@pytest.mark.parametrize(("lengths", "max_docs", "max_chars", "sizes"), [
    ([], 4, 100, []),
    ([10] * 9, 4, 100, [4, 4, 1]),           # bounded by count
    ([60, 30, 20, 90, 5], 10, 100, [2, 1, 2]),  # bounded by characters
    ([500, 10, 10], 10, 100, [1, 2]),        # one doc longer than the bound goes alone
])
def test_ner_batch_sizes(lengths: list[int], max_docs: int, max_chars: int,
                         sizes: list[int]) -> None:
    from daemon.scan.detect import _batch_sizes

    assert list(_batch_sizes(lengths, max_docs, max_chars)) == sizes


@pytest.mark.slow
def test_ner_failure_is_unscannable_without_value(detector: Detector,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from scratchwarden.errors import Unscannable

    planted_name = "Quentin Zebulon"

    def broken(*_a: object, **_k: object) -> None:
        raise ValueError(f"could not handle {planted_name}")

    monkeypatch.setattr(detector.analyzer.nlp_engine, "process_batch", broken)
    with pytest.raises(Unscannable) as info:
        detector.detect_many([(f"I met {planted_name} in Paris yesterday.", ())])
    assert info.value.reason == "detect-error"
    assert planted_name not in str(info.value) and info.value.__cause__ is None


def test_bad_chunk_settings_rejected() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        Detector(chunk_chars=100, chunk_overlap=80, use_ner=False)


_COMPILE_PROBE = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import regex
    from daemon.scan.detect import WARM_UP_TEXT, Detector
    d = Detector(use_ner=False)
    if sys.argv[2] == "warm":
        d.warm_up()
    compiled = []
    real = regex.compile
    def counting(pattern, *a, **k):
        compiled.append(1)
        return real(pattern, *a, **k)
    regex.compile = counting
    text = ("Mr. Paul Fox, 1 Main Street, Boston, MA 02110; DL A1234567; tel 020 7946 0018; "
            "card 5500 0000 0000 0004; 2001:db8::1; 3FA85F64-5717-4562-B3FC-2C963F66AFA6; "
            "DE89 3704 0044 0532 0130 00; passport 912803456; bitcoin "
            "1BoatSLRHtKNngkdXEeobR76b53LETtpyT; https://example.org/a?b=c; 4.5.2019 ")
    found = d.detect(text * 3)
    print(len(compiled), len(found))
""")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cold", "warm"])
def test_warm_up_leaves_no_regex_to_compile_on_first_scan(mode: str) -> None:
    """A fresh process compiles Presidio's regexes on first use, in the middle
    of its first scans; after ``warm_up`` it compiles none (the cold run shows
    the probe text does reach recognizers that compile)."""
    proc = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, str(REPO), mode],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    compiles, found = map(int, proc.stdout.split())
    assert found >= 5
    assert (compiles == 0) if mode == "warm" else (compiles >= 10), compiles


def test_a_detector_that_cannot_scan_its_warm_up_text_fails_at_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    detector = Detector(use_ner=False)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("regex engine gone")

    monkeypatch.setattr(detector, "_pattern_results", broken)
    with pytest.raises(ConfigError, match="warm-up text.*detect-error"):
        detector.warm_up()


# ----------------------------------------------------------------------------- no value leaks


@pytest.mark.slow
def test_no_value_in_repr_or_logs(detector: Detector, caplog: pytest.LogCaptureFixture) -> None:
    email = "leak.check@example.org"
    text = f"write to {email} now"
    with caplog.at_level(logging.DEBUG):
        findings = detector.detect(text)
    assert findings
    for f in findings:
        assert email not in repr(f) and email not in str(f)
        assert "leak" not in repr(f)
    assert email not in caplog.text
    assert "leak.check" not in repr(detector)


# ----------------------------------------------------------------------------- offline

_OFFLINE_PROBE = textwrap.dedent("""
    import socket, sys
    class NoNetwork(socket.socket):
        def connect(self, *a, **k):
            raise OSError("network blocked by test")
        connect_ex = connect
    socket.socket = NoNetwork
    _orig = socket.create_connection
    def _blocked(*a, **k):
        raise OSError("network blocked by test")
    socket.create_connection = _blocked
    sys.path.insert(0, sys.argv[1])
    from daemon.scan.detect import Detector
    d = Detector(use_ner=False, entities=["EMAIL_ADDRESS"])
    text = "mail jane.roe@example.org please"
    f = d.detect(text)
    assert [(x.entity_type, x.start, x.end) for x in f] == [("EMAIL_ADDRESS", 5, 25)], f
    print("OK")
""")


@pytest.mark.slow
def test_email_detection_offline_and_no_cache_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TLDEXTRACT", "XDG_CACHE"))}
    env["HOME"] = str(home)
    cmd = [sys.executable, "-c", _OFFLINE_PROBE, str(REPO)]
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "-n", *cmd]               # no network namespace at all
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "OK"
    assert "Traceback" not in proc.stderr
    assert not (home / ".cache").exists(), "something wrote under ~/.cache"


@pytest.mark.slow
def test_context_before_a_chunk_start_still_counts() -> None:
    """A value starting exactly where a chunk starts is reported by that chunk;
    its context words lie before the chunk and still raise its score (a bare
    9-digit number scores under the threshold without an "ssn" before it)."""
    number = "536228017"
    for pad in range(400):
        text = _filler(2_000)[:600 + pad].rstrip() + " SSN: " + number + " " + _filler(1_500)
        at = text.index(number)
        if at in [s for s, _ in chunk_spans(len(text), text, 1_000, 200)]:
            break
    else:
        pytest.fail("no filler length puts the number at a chunk start")
    small = Detector(use_ner=False, chunk_chars=1_000, chunk_overlap=200)
    assert _covered(text, small.detect(text), "US_SSN", number)
    plain = text.replace("SSN:", "Total:")
    assert _spans(small.detect(plain), "US_SSN") == []


def test_pattern_only_detector_uses_big_chunks(pattern_detector: Detector,
                                               detector: Detector) -> None:
    assert pattern_detector.chunk_chars == PATTERN_CHUNK_CHARS > CHUNK_CHARS
    assert detector.chunk_chars == CHUNK_CHARS
