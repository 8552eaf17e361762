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


def _words_straight(text: str, start: int) -> list[str]:
    """surrounding_words as the one-span rule (no near-span shortcut)."""
    stop = start
    while stop < len(text) and stop - start < 64 and fastcontext._is_word_char(text[stop]):
        stop += 1
    words = fastcontext._WORD.findall(text, max(0, start - fastcontext.WINDOW_CHARS),
                                      max(stop, start + 1))
    return fastcontext._pick(words, fastcontext.PREFIX_WORDS)


_WORDS = st.sampled_from(["the", "a", "of", "phone", "Card", "x", "number", "é", "ssn_no",
                          "call", "me", "at", "12", "iban", "Ärger", "y" * 40])
_SEPS = st.sampled_from([" ", "  ", ", ", "\n", "-", "", ": "])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(_WORDS, _SEPS), max_size=90), at=st.integers(0, 10_000))
def test_surrounding_words_equal_the_one_span_rule(parts: list[tuple[str, str]],
                                                   at: int) -> None:
    text = "".join(w + s for w, s in parts)
    start = at % (len(text) + 1)
    assert fastcontext.surrounding_words(text, start) == _words_straight(text, start)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.text(alphabet="abc\x00é", max_size=4), max_size=5),
       context=st.lists(st.text(alphabet="abc\x00É", max_size=3), max_size=4))
def test_supportive_word_equals_the_per_word_rule(words: list[str], context: list[str]) -> None:
    straight = next((cw for cw in context if any(cw.lower() in w for w in words)), "")
    assert fastcontext.supportive_word(words, context) == straight


def test_surrounding_words_never_take_a_word_cut_by_the_near_span() -> None:
    """Five words after a long word that the near span cuts: the sixth is the whole word."""
    text = "x" * 100 + " " + " ".join(["phone"] * 5) + " "
    words = fastcontext.surrounding_words(text, len(text))
    assert words == _words_straight(text, len(text))
    assert words[-1] == "x" * 100


_CONTEXT_WORDS = st.sampled_from(["ssn", "SSN", "card", "ärger", "σ", "ip", "", "no\x00x",
                                  "İ", "phone"])
_WORDS_ANY = st.sampled_from(["the", "phone", "Card", "number", "é", "ssn_no", "SSN", "12",
                              "ΟΔΟΣ", "ΟΔΟΣx", "İstanbul", "Ärger", "iP", "y" * 40, "z" * 70,
                              "ssn" * 30])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.tuples(_WORDS_ANY, _SEPS), max_size=90), at=st.integers(0, 10_000),
       context=st.lists(_CONTEXT_WORDS, min_size=1, max_size=4))
def test_could_occur_near_is_false_only_without_a_supportive_word(
        parts: list[tuple[str, str]], at: int, context: list[str]) -> None:
    """The cheap test may say "maybe" freely, but "no" only when no context
    word is a substring of a surrounding word (so skipping the words changes
    no score)."""
    text = "".join(w + s for w, s in parts)
    start = at % (len(text) + 1)
    if not fastcontext.could_occur_near(text, start, context):
        assert fastcontext.supportive_word(fastcontext.surrounding_words(text, start),
                                           context) == ""


def test_could_occur_near_skips_far_and_finds_near_words() -> None:
    text = "ssn " + "lorem " * 60 + "id 536-22-1490 " + "lorem " * 60 + "SSN: 536-22-1491"
    far = text.index("536-22-1490")
    near = text.index("536-22-1491")
    assert not fastcontext.could_occur_near(text, far, ["ssn", "social"])
    assert fastcontext.could_occur_near(text, near, ["social", "ssn"])
    assert fastcontext.could_occur_near(text, far, ["ssn", "sécurité"])  # not ASCII: maybe
    # a long word between: the context word is far back but still a surrounding word
    text = "SSN " + "y" * 150 + " 536-22-1490"
    start = text.index("536")
    assert "ssn" in fastcontext.surrounding_words(text, start)
    assert fastcontext.could_occur_near(text, start, ["ssn"])
