"""The fence around other libraries' private names (``daemon/scan/foreign.py``):
version gates, and each fast path equal to its public path."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from daemon.scan import foreign, windows
from daemon.scan.recognizers import pii

RNG = random.Random(7)

PHONE_TEXTS = [
    "Call (212) 555-0143 or +44 20 7946 0958; fax 020 7946 0959, ext 12.",
    "2026-11-21T10:00:02Z INFO req 4412 took 1234 ms; callback +41 71 526 99 04 queued",
    "Kontakt: 030 901820 / 0176 12345678, Büro +49 30 901820-0, id 55012",
    "invoice 2024/11/05 amount 1 250,00 ref 778 991; tel 0494 92 82 32\n" * 3,
    "numbers: 1-800-555-0199, 555 0143, +1 (415) 555-0132 x204, 12/03/2019 10:45",
]


def test_version_gates() -> None:
    assert foreign.parse_version("9.0.43") == (9, 0, 43)
    assert foreign.parse_version("1.2.0rc1") == (1, 2, 0)
    assert foreign.tested("phonenumbers", "9.0.43")
    assert not foreign.tested("phonenumbers", "8.12.9")
    assert not foreign.tested("phonenumbers", "10.0.0")
    assert not foreign.tested("tldextract", "6.0.0")


def _phones(recognizer: pii.CandidatePhoneRecognizer, text: str) -> set[tuple[int, int]]:
    return {(r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"])}


def test_phone_fast_path_equals_the_public_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pii._SHARED_MATCHING, "the installed phonenumbers is outside the tested range"
    fast = {t: _phones(pii.CandidatePhoneRecognizer(), t) for t in PHONE_TEXTS}
    monkeypatch.setattr(pii, "_SHARED_MATCHING", False)
    public = {t: _phones(pii.CandidatePhoneRecognizer(), t) for t in PHONE_TEXTS}
    assert fast == public
    assert sum(map(len, fast.values())) >= 10


def test_international_check_falls_back_to_region_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pii._international("+44 20 7946 0958")
    monkeypatch.setattr(foreign, "PHONE_MATCHER", None)
    assert foreign.written_with_plus("+44 20 7946 0958") is None
    assert not pii._international("+44 20 7946 0958")


def _detect_all(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    from daemon.scan.detect import Detector

    d = Detector(use_ner=False)
    return [[(f.entity_type, f.start, f.end) for f in d.detect(t)] for t in texts]


@pytest.mark.slow
def test_trigger_windows_equal_whole_chunk_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["lorem", "ipsum", "jane.roe@example.org", "536-22-1490", "192.0.2.10",
             "GB82 WEST 1234 5698 7654 32", "4111 1111 1111 1111", "12 Example Street,",
             "Springfield, IL 62701", "(212) 555-0143", "password=Sx9!kq2Lm", "\n"]
    texts = [" ".join(RNG.choice(words) for _ in range(400)) for _ in range(4)]
    windowed = _detect_all(texts)
    monkeypatch.setattr(windows, "re_parser", None)
    assert windows.reach_of(pii.StreetAddressRecognizer()) is None
    assert _detect_all(texts) == windowed
    assert sum(map(len, windowed)) > 100


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", "mail jane.roe@example.org\n" * 500)
        zf.writestr("b.csv", "name,email\nJane Roe,jane.roe@example.org\n")
    return buf.getvalue()


def _extract_texts() -> list[tuple[str | None, str]]:
    from daemon.scan.extract import extract_bytes

    segs = extract_bytes(_zip_bytes(), "x.zip").segments
    return [(s.locator, s.text) for s in segs]  # type: ignore[attr-defined]


def test_zip_ratio_fallback_extracts_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    private = _extract_texts()
    from daemon.scan.extract import archives

    monkeypatch.setattr(archives, "zip_consumed", lambda raw, size: (lambda: size))
    assert _extract_texts() == private and private


def test_zip_consumed_without_private_names_is_the_declared_size() -> None:
    assert foreign.zip_consumed(io.BytesIO(b""), 123)() == 123


def test_tldextract_outside_the_tested_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(foreign.TESTED, "tldextract", ((0,), (1,)))
    assert foreign.lenient_netloc() is None
    import tldextract.tldextract as tld

    before = tld.TLD_EXTRACTOR
    foreign.make_tldextract_offline()
    assert tld.TLD_EXTRACTOR is before


def test_presidio_engine_uses_our_context_rule() -> None:
    """Presidio's own analyze() goes through the FastContextEnhancer seam: a
    bare 9-digit number scores under the threshold, "ssn" before it lifts it."""
    from daemon.scan.detect import build_analyzer
    from daemon.scan.fastcontext import FastContextEnhancer

    analyzer = build_analyzer(use_ner=False)
    assert isinstance(analyzer.context_aware_enhancer, FastContextEnhancer)
    bare = analyzer.analyze("ref 536221490 ok", language="en", entities=["US_SSN"])
    boosted = analyzer.analyze("ssn 536221490 ok", language="en", entities=["US_SSN"])
    assert max(r.score for r in boosted) > max((r.score for r in bare), default=0.0)
