"""Person names: a name found once is found where it recurs; strings that
cannot be names are not reported as persons; 2-series Mastercard numbers."""

from __future__ import annotations

from daemon.scan.detect import RawFinding, plausible_names, propagate_names


def _p(text: str, name: str, score: float = 0.85) -> RawFinding:
    at = text.index(name)
    return RawFinding("PERSON", at, at + len(name), score, "SpacyRecognizer")


def test_a_found_name_is_found_where_it_recurs() -> None:
    text = "From: Arthur Hughes\nplease call.\n\nBest,\nArthur\ncc Hughes and Arthur Hughes"
    got = propagate_names(text, [_p(text, "Arthur Hughes")])
    spans = {(f.start, f.end) for f in got}
    assert len(got) == 4
    assert (text.index("Arthur\n"), text.index("Arthur\n") + 6) in spans
    last = text.rindex("Arthur Hughes")
    assert (last, last + 13) in spans
    assert all(f.score == 0.85 for f in got)


def test_propagation_respects_word_boundaries_and_case() -> None:
    text = "Jane Roe met Janet and jane; Roebuck is a shop. Jane Roe left."
    got = propagate_names(text, [_p(text, "Jane Roe")])
    words = sorted(text[f.start:f.end] for f in got)
    assert words == ["Jane Roe", "Jane Roe"]


def test_single_names_are_not_propagated_on_their_own() -> None:
    text = "May said hello. In May we ship."
    found = [RawFinding("PERSON", 0, 3, 0.85, "SpacyRecognizer")]
    assert propagate_names(text, found) == found


def test_implausible_names_are_dropped() -> None:
    text = "HF_TOKEN=x README user_id Jane Roe JANE ROE"
    found = [_p(text, w) for w in ("HF_TOKEN", "README", "user_id", "Jane Roe", "JANE ROE")]
    kept = [text[f.start:f.end] for f in plausible_names(text, found)]
    assert kept == ["Jane Roe", "JANE ROE"]


def test_two_series_mastercard() -> None:
    from daemon.scan.detect import Detector

    d = Detector(use_ner=False, entities=["CREDIT_CARD"])
    assert [f.score for f in d.detect("card on file: 2299656465960560")] == [0.85]
    assert d.detect("order 2299656465960561") == []           # Luhn fails
    assert d.detect("id 1299656465960560") == []              # not a 2-series prefix
