"""Smaller pattern-path shortcuts: the printable check of file heads and the
context boost's skip of maximal scores. Each must decide exactly as the
straightforward rule it replaces. Values are synthetic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import PatternRecognizer, RecognizerResult

from daemon.scan import fastcontext
from daemon.scan.extract.text import _WHITESPACE, PRINTABLE_MIN, is_printable


def _printable_by_char(text: str) -> bool:
    if not text:
        return True
    printable = sum(1 for ch in text if ch.isprintable() or ch in _WHITESPACE)
    return printable / len(text) >= PRINTABLE_MIN


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x00\x1b\x7f\u200b\u00e9\u2028")),
               max_size=40))
def test_is_printable_decides_as_the_per_character_rule(text: str) -> None:
    assert is_printable(text) is _printable_by_char(text)


def _result(score: float, start: int, recognizer: PatternRecognizer) -> RecognizerResult:
    return RecognizerResult("X", start, start + 4, score, recognition_metadata={
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id})


def test_context_boost_leaves_maximal_scores_and_boosts_the_others() -> None:
    recognizer = PatternRecognizer("X", deny_list=["zzzz"], context=["account"])
    text = "account 1234 and account 5678 and far " + "lorem " * 60 + "9999"
    top = _result(1.0, text.index("1234"), recognizer)
    low = _result(0.1, text.index("5678"), recognizer)
    far = _result(0.1, text.index("9999"), recognizer)
    fastcontext.enhance(text, [top, low, far], {recognizer.id: recognizer})
    assert (top.score, round(low.score, 4), far.score) == (1.0, 0.45, 0.1)
