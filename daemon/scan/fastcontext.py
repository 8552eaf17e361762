"""Context-word score boosting over a bounded window before each result.

Presidio's ``LemmaContextAwareEnhancer`` does the same thing but finds each
result's token by walking the whole token list (results x tokens: the
quadratic cost of docs/facts.md) and needs a spaCy ``Doc``. This one looks only
at the ``WINDOW_CHARS`` characters before a result: O(results x window).

Same rule as Presidio's enhancer (its defaults): the "surrounding words" are
the word at the result's start and the ``PREFIX_WORDS`` words before it,
skipping spaCy's English stop words; lower-cased; plus the caller's context
words (CSV headers, JSON keys). If a recognizer's context word is a substring
of one of them, the score rises by ``FACTOR`` to at least ``MIN_WITH_CONTEXT``
(at most 1.0). Words are ``\\w+`` runs, so punctuation is never a word, as in
Presidio where punctuation tokens are skipped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

FACTOR = 0.35
MIN_WITH_CONTEXT = 0.4
PREFIX_WORDS = 5
WINDOW_CHARS = 200
NEAR_CHARS = 64
"""Span tried first by :func:`surrounding_words` (exact: see there)."""
_WORD = regex.compile(r"\w+")
_SKIP = frozenset(STOP_WORDS) | {"be", "-pron-"}


def surrounding_words(text: str, start: int, prefix: int = PREFIX_WORDS,
                      window: int = WINDOW_CHARS) -> list[str]:
    """The lower-cased non-stop words at and before ``start`` (the word holding
    ``start`` and up to ``prefix`` before it), looking back ``window`` chars."""
    stop = start
    while stop < len(text) and stop - start < 64 and _is_word_char(text[stop]):
        stop += 1  # finish the word the result starts in
    end = max(stop, start + 1)
    lo = max(0, start - window)
    if start - NEAR_CHARS > lo:
        # Most results have their words close by: scan a shorter span first. Its
        # words after the first equal the long span's last words (a \w+ run is
        # cut only at the span's start), so if enough are picked before the
        # first word is needed, the answer is the long span's.
        words = _WORD.findall(text, start - NEAR_CHARS, end)
        picked = _pick(words[1:], prefix)
        if len(picked) > prefix:
            return picked
    return _pick(_WORD.findall(text, lo, end), prefix)


def _pick(words: list[str], prefix: int) -> list[str]:
    """The last ``prefix + 1`` non-stop words of ``words``, lower-cased, last first."""
    picked: list[str] = []
    for w in reversed(words):
        low = w.lower()
        if low in _SKIP:
            continue
        picked.append(low)
        if len(picked) > prefix:
            break
    return picked


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def could_occur_near(text: str, start: int, recognizer_context: Sequence[str]) -> bool:
    """False only when no word of ``recognizer_context`` can be a substring of
    a word :func:`surrounding_words` returns for ``start``: a cheap test that
    saves finding the words for most results (an SSN's or an IP's context
    words are rarely anywhere near it).

    Exact: the surrounding words are ``\\w+`` runs of ``text[start - WINDOW_CHARS:
    start + 64]``, lower-cased one by one; lower-casing maps each character on
    its own except a final sigma, which is not ASCII, so an ASCII context word
    inside a lower-cased word is inside the lower-cased span. A context word
    that is not ASCII is always treated as possibly present."""
    span = text[max(0, start - WINDOW_CHARS):start + 65].lower()
    for cw in recognizer_context:
        low = cw.lower()
        if not low.isascii() or low in span:
            return True
    return False


def supportive_word(words: Sequence[str], recognizer_context: Sequence[str]) -> str:
    """The first recognizer context word found as a substring of a word, or ''."""
    # One substring test on the words joined by NUL instead of one per word: a
    # context word without NUL is inside the joined string only inside a word.
    if not words:
        return ""
    joined = "\x00".join(words)
    for cw in recognizer_context:
        low = cw.lower()
        if "\x00" in low:
            if any(low in w for w in words):
                return cw
        elif low in joined:
            return cw
    return ""


def enhance(text: str, results: Sequence[RecognizerResult],
            recognizers: Mapping[str, EntityRecognizer],
            context: Sequence[str] = (), base: int = 0) -> list[RecognizerResult]:
    """Raise the scores of ``results`` (in place) whose recognizer's context
    words occur near them; ``recognizers`` maps recognizer id -> recognizer.
    ``base``: where the results' offsets start in ``text`` (a chunk's results
    read their words in the whole text, so a result at the very start of a
    chunk still sees the words before it).
    A result already at the maximal score 1.0 is left alone (a boost would
    leave it at 1.0; only its explanation would name the word)."""
    external = [c.lower() for c in context]
    words_at: dict[int, list[str]] = {}
    for r in results:
        if r.score >= 1.0:
            continue  # a boost cannot change a maximal score
        meta = r.recognition_metadata or {}
        recognizer = recognizers.get(str(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)))
        if recognizer is None or not recognizer.context:
            continue
        if meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
            continue
        if not could_occur_near(text, base + r.start, recognizer.context):
            word = supportive_word(external, recognizer.context)
        else:
            words = words_at.get(r.start)
            if words is None:
                words = words_at[r.start] = surrounding_words(text, base + r.start)
            word = supportive_word([*words, *external], recognizer.context)
        if word:
            r.score = min(max(r.score + FACTOR, MIN_WITH_CONTEXT), 1.0)
            if r.analysis_explanation is not None:
                r.analysis_explanation.set_supportive_context_word(word)
                r.analysis_explanation.set_improved_score(r.score)
    return list(results)


class FastContextEnhancer(ContextAwareEnhancer):
    """Presidio's seam for a context rule: :func:`enhance` as a
    ``ContextAwareEnhancer``, so an ``AnalyzerEngine`` built by
    ``detect.build_analyzer`` applies the same rule in its own ``analyze()``
    as ``Detector`` does per chunk."""

    def __init__(self) -> None:
        super().__init__(context_similarity_factor=FACTOR,
                         min_score_with_context_similarity=MIN_WITH_CONTEXT,
                         context_prefix_count=PREFIX_WORDS, context_suffix_count=0)

    def enhance_using_context(self, text: str, raw_results: list[RecognizerResult],
                              nlp_artifacts: NlpArtifacts | None,
                              recognizers: list[EntityRecognizer],
                              context: list[str] | None = None) -> list[RecognizerResult]:
        by_id = {r.id: r for r in recognizers}
        return enhance(text, raw_results, by_id, context or ())
