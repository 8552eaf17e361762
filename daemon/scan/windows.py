"""Run a pattern recognizer only on windows around its trigger hits.

Why: the prefilter (``prefilter.py``) decides per ~10k-char chunk whether a
recognizer can find anything; logs and CSVs trigger most digit recognizers
somewhere in nearly every chunk, so each then ran all its regexes (Python
``regex``, a few MB/s) over the whole chunk. Here the regexes run only on the
parts of the chunk near a trigger hit.

Why the findings are identical (docs/adr/0006-pattern-path.md):

* the shape trigger is NECESSARY: every regex match of the recognizer
  contains an occurrence of the trigger (``prefilter.SHAPES``); trigger hits
  are found with RE2 (leftmost, non-overlapping), so every occurrence overlaps
  a reported hit;
* the REACH of a match around its trigger is bounded: either the pattern's
  maximum width ``M`` (computed from the parsed pattern) or, for an unbounded
  pattern that cannot match ASCII whitespace, the whitespace-free token the
  trigger sits in;
* so every match lies in the CORE of a hit (hit +/- M, or its token). Each
  window is a merged core plus ``pad`` characters on both sides, ``pad`` at
  least every lookaround's reach: assertions see the same characters as in
  the whole chunk, and since no match of the whole chunk lies between
  windows, the non-overlapping scan enters each window in the same state.
  The same argument applied to the window text shows that no match found in
  a window lies in its pad. Matches, and the results derived from them
  (validation looks only at the matched text), are therefore the same.

A recognizer is windowed only when all of this can be checked mechanically:
its ``analyze`` is Presidio's (``PatternRecognizer`` or ``IbanRecognizer``),
every pattern parses with Python's ``re`` parser under the recognizer's
flags, every lookaround has a bounded width, and every pattern is bounded or
whitespace-free. Anything else runs on the whole chunk, as before.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import re2
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import IbanRecognizer

from daemon.scan.foreign import RE_COMPILER, RE_PARSER
from daemon.scan.lean import is_lean, lean_analyze

re_parser: Any = RE_PARSER
"""``re._parser`` in the tested Python range (``foreign``), else ``None``: no
pattern is then analysed and every recognizer runs on the whole chunk."""
re_compiler: Any = RE_COMPILER
_OPS = re_parser is not None

MAX_BOUNDED_WIDTH = 1024
"""A pattern wider than this is treated as unbounded (needs whitespace-free tokens)."""
MAX_UNBOUNDED = 1 << 62
MIN_PAD = 1
"""Least pad: every pattern's pad is its widest lookaround + 1, so a ``\\b``,
``^`` or ``$`` at a match's edge reads the real character beside it. (It was
8, a margin the argument never needed: 1.4x less window text for emails.)"""
MAX_COVER = 0.5
"""Windows covering more than this share of the chunk: run on the whole chunk."""
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
SEPARATOR = "\x00"
"""Joins windows; :func:`separator_safe` proves no trigger occurrence holds it."""
_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII
_LOOKAROUND = {re_parser.ASSERT, re_parser.ASSERT_NOT} if _OPS else set()
_ANALYZE_IS_LOCAL = (PatternRecognizer.analyze, IbanRecognizer.analyze)


@dataclass(frozen=True, slots=True)
class Reach:
    """How far a match can lie from its trigger hit, and the lookaround pad.

    A match of a pattern that may hold whitespace lies within ``width`` of
    the hit. A match of a whitespace-free pattern (``token``) lies in the
    whitespace-free run(s) the hit touches, and within ``token_width`` of the
    hit (``None``: unbounded)."""

    width: int                    # max width of the patterns that may hold whitespace
    token: bool                   # some pattern is whitespace-free
    pad: int
    token_width: int | None = None


class _Unwindowable(Exception):
    """A pattern whose reach cannot be bounded mechanically."""


def reach_of(recognizer: EntityRecognizer) -> Reach | None:
    """The :class:`Reach` of ``recognizer``'s patterns, or ``None`` when the
    recognizer must run on the whole chunk."""
    if re_parser is None or not isinstance(recognizer, PatternRecognizer):
        return None
    if type(recognizer).analyze not in _ANALYZE_IS_LOCAL:
        return None
    flags = int(recognizer.global_regex_flags or 0)
    if flags & ~_RE_FLAGS:
        return None
    patterns: list[Any] = list(getattr(recognizer, "patterns", None) or [])
    if not patterns:
        return None
    if any(_regex_only_syntax(p.regex) for p in patterns):
        return None
    width, token_width, token, pad = 0, 0, False, MIN_PAD
    try:
        for p in patterns:
            parsed = re_parser.parse(p.regex, flags)
            pad = max(pad, _lookaround_reach(parsed.data) + 1)
            hi = parsed.getwidth()[1]
            bounded = hi <= MAX_BOUNDED_WIDTH
            if _whitespace_free(parsed.data, parsed.state, flags):
                token = True
                token_width = max(token_width, hi) if bounded else MAX_UNBOUNDED
            elif bounded:
                width = max(width, hi)
            else:
                return None
    except (re.error, _Unwindowable, RecursionError, TypeError, ValueError):
        return None
    return Reach(width, token, pad, None if token_width >= MAX_UNBOUNDED else token_width)


def _regex_only_syntax(pattern: str) -> bool:
    """Syntax the ``regex`` module reads differently from ``re`` (nested and
    POSIX classes, set operations): such a pattern is not analysed."""
    return any(tok in pattern for tok in ("[[", "[:", "--", "&&", "~~", "||"))


def _children(op: Any, av: Any) -> Iterator[list[Any]]:
    """Sub-pattern item lists of one parsed node (lookarounds excluded)."""
    if op in (re_parser.MAX_REPEAT, re_parser.MIN_REPEAT, re_parser.POSSESSIVE_REPEAT):
        yield list(av[2])
    elif op is re_parser.SUBPATTERN:
        yield list(av[3])
    elif op is re_parser.BRANCH:
        yield from (list(b) for b in av[1])
    elif op is re_parser.ATOMIC_GROUP:
        yield list(av)
    elif op is re_parser.GROUPREF_EXISTS:
        yield list(av[1])
        if av[2] is not None:
            yield list(av[2])


def _lookaround_reach(items: list[Any]) -> int:
    """The widest lookaround (and nested lookaround) in ``items``; raises when unbounded."""
    reach = 0
    for op, av in items:
        if op in _LOOKAROUND:
            sub = av[1]
            hi = sub.getwidth()[1]
            if hi > MAX_BOUNDED_WIDTH:
                raise _Unwindowable("unbounded lookaround")
            reach = max(reach, hi + _lookaround_reach(list(sub.data)))
        for child in _children(op, av):
            reach = max(reach, _lookaround_reach(child))
    return reach


_CONSUMING = ({re_parser.LITERAL, re_parser.NOT_LITERAL, re_parser.ANY, re_parser.IN}
              if _OPS else set())
_STRUCTURAL = ({re_parser.MAX_REPEAT, re_parser.MIN_REPEAT, re_parser.POSSESSIVE_REPEAT,
                re_parser.SUBPATTERN, re_parser.BRANCH, re_parser.ATOMIC_GROUP,
                re_parser.GROUPREF_EXISTS, re_parser.AT, re_parser.GROUPREF} if _OPS else set())


def _whitespace_free(items: list[Any], state: Any, flags: int) -> bool:
    """True when no character a match consumes can be ASCII whitespace.
    Lookarounds consume nothing; a backreference repeats checked characters."""
    for op, av in items:
        if op in _LOOKAROUND:
            continue
        if op in _CONSUMING:
            one = re_compiler.compile(re_parser.SubPattern(state, [(op, av)]), flags)
            if any(one.fullmatch(c) for c in ASCII_WHITESPACE):
                return False
        elif op not in _STRUCTURAL:
            return False
        for child in _children(op, av):
            if not _whitespace_free(child, state, flags):
                return False
    return True


# --------------------------------------------------------------------------- windows


class Runner(Protocol):
    """A recognizer as the detector runs it: on a text, with its results' offsets."""

    @property
    def recognizer(self) -> EntityRecognizer: ...

    def analyze(self, text: str, entities: list[str]) -> list[RecognizerResult]: ...


def _token_start(text: str, pos: int, floor: int, kinds: str) -> int:
    """Index after the last whitespace (of ``kinds``) before ``pos``, or
    ``floor`` if there is none after it (0 at most): looks back in growing
    steps, so far-away whitespace costs no full scan."""
    floor, step = max(0, floor), 64
    while True:
        lo = max(floor, pos - step)
        found = max([text.rfind(c, lo, pos) for c in kinds], default=-1)
        if found >= 0 or lo == floor:
            return found + 1 if found >= 0 else floor
        step *= 8


_ASCII_WHITESPACE_RE = re.compile(f"[{re.escape(ASCII_WHITESPACE)}]")


def _token_end(text: str, pos: int, ceiling: int) -> int:
    """Index of the first ASCII whitespace at or after ``pos``, or ``ceiling``
    if there is none before it (``len(text)`` at most)."""
    ceiling = min(len(text), ceiling)
    m = _ASCII_WHITESPACE_RE.search(text, pos, ceiling)
    return m.start() if m else ceiling


def windows(text: str, hits: Iterable[tuple[int, int]], reach: Reach,
            limit: float = math.inf) -> list[tuple[int, int]] | None:
    """Merged ``(start, end)`` windows of ``text`` holding every match of a
    recognizer of this ``reach`` whose trigger hits are ``hits`` (in order of
    start); ``None`` as soon as they cover more than ``limit`` characters."""
    out: list[tuple[int, int]] = []
    n, width, pad = len(text), reach.width, reach.pad
    token_width = n if reach.token_width is None else reach.token_width
    token = reach.token and token_width > width  # else +/- width holds the token core
    kinds = "".join(c for c in ASCII_WHITESPACE if c in text) if token else ""
    closed = 0  # characters covered by the windows before the last one
    for s, e in hits:
        lo, hi = s - width, e + width
        if token:
            lo = min(lo, max(s - token_width, _token_start(text, s, s - token_width, kinds)))
            hi = max(hi, min(e + token_width, _token_end(text, e, e + token_width)))
        lo, hi = max(0, lo - pad), min(n, hi + pad)
        if out and lo <= out[-1][1]:
            last = out[-1]
            if hi > last[1]:
                out[-1] = (last[0], hi)
        else:
            if out:
                closed += out[-1][1] - out[-1][0]
            out.append((lo, hi))
        if closed + out[-1][1] - out[-1][0] > limit:
            return None
    return out


class HitFinder:
    """Lists a trigger's hits (leftmost, non-overlapping) at the lowest cost
    measured here: Python ``re`` for a trigger opening with a literal (its
    prefix scan is fast and its matches cheap), else RE2, on the UTF-8 bytes
    when the text is ASCII (byte offsets are then character offsets, and the
    str wrapper's offset conversions cost ~2x per match). ``\\p{Nd}`` is
    ``[0-9]`` on ASCII text and ``re``'s ``\\d`` on str."""

    def __init__(self, trigger: str) -> None:
        self._str = re2.compile(trigger)
        self._ascii = re2.compile(trigger.replace(r"\p{Nd}", "[0-9]"))
        self._raw = _raw_matcher(self._ascii)
        self._re: re.Pattern[str] | None = None
        plain = trigger.replace(r"\p{Nd}", r"\d")
        if re.match(r"[A-Za-z0-9@_\-]", plain) and "\\p" not in plain and "(?" not in plain:
            self._re = re.compile(plain)

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        if self._re is not None:
            return (m.span() for m in self._re.finditer(text))
        if text.isascii():
            data = text.encode("ascii")
            if self._raw is not None:
                return _raw_spans(self._raw, data)
            return (m.span() for m in self._ascii.finditer(data))
        return (m.span() for m in self._str.finditer(text))


_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def _raw_matcher(compiled: Any) -> Any:
    """The compiled RE2 object under the wrapper's ``finditer`` on bytes, when this
    google-re2 version exposes it as measured (``_regexp.Match``), else ``None``."""
    raw = getattr(compiled, "_regexp", None)
    if _UNANCHORED is None or raw is None or not hasattr(raw, "Match"):
        return None
    return raw


def _raw_spans(raw: Any, data: bytes) -> Iterator[tuple[int, int]]:
    """``m.span() for m in finditer(data)`` of google-re2 on bytes, without a
    match object per hit (the wrapper's own loop, same advance rule)."""
    pos, endpos = 0, len(data)
    while True:
        span = raw.Match(_UNANCHORED, data, pos, endpos)[0]
        if span[0] < 0:
            return
        yield span[0], span[1]
        if pos == endpos:
            return
        pos = pos + 1 if pos == span[1] else span[1]


Analyze = Callable[[str, list[str]], list[RecognizerResult]]


def analyzer_of(recognizer: EntityRecognizer) -> Analyze:
    """How to run ``recognizer`` on a text: :func:`lean.lean_analyze` when its
    ``analyze`` is Presidio's ``PatternRecognizer.analyze`` (same results, no
    per-match explanation objects), else its own ``analyze``."""
    if is_lean(recognizer):
        assert isinstance(recognizer, PatternRecognizer)
        lean = recognizer
        return lambda text, _entities: lean_analyze(lean, text)
    return lambda text, entities: list(
        recognizer.analyze(text, entities, None) or ())  # type: ignore[arg-type]


# Where a match can START, by recognizer class, on ASCII text: every match of
# every pattern of the class that starts at ``s`` has an occurrence of the
# guard ending at ``s + head`` (its lookbehind character before ``s``, or the
# start of the text, then the first ``head`` characters). Two guards per
# class: for a recognizer built with IGNORECASE (its lookbehind then also
# excludes lower-case letters) and without. Derived by hand from the
# patterns, as ``prefilter.SHAPES`` are; checked on generated texts
# (tests/scan/test_windows.py). Occurrences of each guard cannot overlap (the
# characters after the first are ones the first may not be), so a leftmost
# non-overlapping search lists them all. A guard's lookbehind is ONE
# character on which no match can start (a match starts with a character the
# lookbehind excludes): :func:`start_windows` relies on both.
STARTS: dict[str, tuple[str, str, int]] = {
    # (?<![A-Z0-9])([A-Z]{2}[0-9]{2}...
    "IbanRecognizer": (r"(?:^|[^A-Za-z0-9])[A-Za-z]{2}[0-9]{2}",
                       r"(?:^|[^A-Z0-9])[A-Z]{2}[0-9]{2}", 4),
}
"""Only IBAN so far: hex ids and base64 are full of its IGNORECASE trigger
(``ab12cdef...``) but an IBAN must follow a character that is not a letter or
digit, so its windows are built from the few possible starts instead
(:func:`start_windows`; the realistic corpus: 0.43 M -> 0.16 M characters of
window text). Guards tried for the card recognizers cost about what they
saved: a log has a possible card start on most lines (and their shapes now
hold the whole digit structure, which left few hits anyway)."""


class StartGuard:
    """The positions of an ASCII text where a match of the recognizer can
    start (:data:`STARTS`); :func:`start_windows` turns them into windows."""

    def __init__(self, guard: str, head: int) -> None:
        self._compiled = re2.compile(guard)
        self._raw = _raw_matcher(self._compiled)
        self._head = head

    @classmethod
    def of(cls, recognizer: EntityRecognizer) -> StartGuard | None:
        got = STARTS.get(type(recognizer).__name__)
        if got is None:
            return None
        folding, exact, head = got
        flags = int(getattr(recognizer, "global_regex_flags", 0) or 0)
        return cls(folding if flags & re.IGNORECASE else exact, head)

    def starts(self, data: bytes) -> list[int]:
        """Every position of ``data`` (ASCII) where a match can start, in order."""
        spans = (_raw_spans(self._raw, data) if self._raw is not None
                 else (m.span() for m in self._compiled.finditer(data)))
        return [end - self._head for _, end in spans]


def start_windows(starts: Iterable[int], width: int, pad: int, n: int,
                  limit: float = math.inf) -> list[tuple[int, int]] | None:
    """Merged windows ``(s - 1, s + width + pad)`` (clipped to ``[0, n]``) of
    the possible match ``starts`` (in order) of a recognizer whose matches are
    at most ``width`` long, whose lookahead reaches less than ``pad`` and
    whose lookbehind is the one guard character before ``s`` (:data:`STARTS`);
    ``None`` as soon as they cover more than ``limit`` characters.

    Exact, joined by ``SEPARATOR`` (as :meth:`WindowedRecognizer.analyze`
    does): every match of the whole text starts at some ``s`` and lies in
    ``[s, s + width]``, with the character its lookbehind reads and the
    characters its lookahead reads inside the window. Conversely, a match in
    the joined text cannot start on a window's first character (that is a
    guard character, or ``s = 0`` itself); anywhere else its lookbehind and
    first characters are the real ones, so the guard holds there and it is a
    match of the whole text. So both hold the same matches, in the same order,
    and the non-overlapping scan picks the same ones."""
    out: list[tuple[int, int]] = []
    covered = 0
    for s in starts:
        lo, hi = max(0, s - 1), min(n, s + width + pad)
        if out and lo <= out[-1][1]:
            last_lo, last_hi = out[-1]
            if hi > last_hi:
                covered += hi - last_hi
                out[-1] = (last_lo, hi)
        else:
            out.append((lo, hi))
            covered += hi - lo
        if covered > limit:
            return None
    return out


_NOT_WHITESPACE = r"[^ \t\n\r\x0b\x0c]"
"""RE2: a character that is not ASCII whitespace (``ASCII_WHITESPACE``)."""


def token_hits(trigger: str, reach: Reach) -> tuple[HitFinder, Reach]:
    """How to list the hits of ``trigger`` for windows of this ``reach``.

    For an unbounded whitespace-free pattern (an email, an IP address) the
    core of a hit is the whole whitespace-free token it sits in, which
    :func:`windows` finds by looking for whitespace around each hit in
    Python. Listing ``[^ws]*(?:trigger)[^ws]*`` with RE2 instead gives, per
    token holding an occurrence, one hit from the token's start to its end:
    the same cores, so the same windows (tests/scan/test_windows.py), at one
    RE2 call per token. Leftmost-first, a hit starts at the first token start
    at or after the search position (any position before an occurrence in
    its token matches) and its greedy tail ends at the token's end, so the
    next search starts at whitespace and no token is cut. (With a bounded
    pattern beside, ``width`` > 0, the cores are a little wider: still exact.)"""
    if reach.token and reach.token_width is None:
        return (HitFinder(f"{_NOT_WHITESPACE}*(?:{trigger}){_NOT_WHITESPACE}*"),
                Reach(reach.width, False, reach.pad))
    return HitFinder(trigger), reach


class WindowedRecognizer:
    """A windowable recognizer with its compiled trigger."""

    def __init__(self, recognizer: EntityRecognizer, trigger: str, reach: Reach,
                 max_cover: float = MAX_COVER) -> None:
        self.recognizer = recognizer
        self.reach = reach
        self.max_cover = max_cover
        self._hits, self._hit_reach = token_hits(trigger, reach)
        self._analyze = analyzer_of(recognizer)
        self._start = StartGuard.of(recognizer)
        # how long a match can be (start windows need a bound)
        self._width = max(reach.width, reach.token_width or 0) if (
            not reach.token or reach.token_width is not None) else None

    def analyze(self, text: str, entities: list[str]) -> list[RecognizerResult]:
        """The recognizer's results on ``text``, from its trigger windows only.

        The windows are joined by ``SEPARATOR`` and analysed in one call (one
        call per window costs Presidio's per-call overhead thousands of times
        per MB): no trigger occurrence can hold the separator
        (:func:`separator_safe`), so the module argument holds per window."""
        spans = self._windows(text)
        if spans is None:
            return self._analyze(text, entities)
        if not spans:
            return []
        joined = SEPARATOR.join(text[a:b] for a, b in spans)
        starts, shifts, at = [], [], 0
        for a, b in spans:
            starts.append(at)
            shifts.append(a - at)
            at += b - a + len(SEPARATOR)
        out = self._analyze(joined, entities)
        for r in out:
            shift = shifts[bisect.bisect_right(starts, r.start) - 1]
            r.start += shift
            r.end += shift
        return out

    def _windows(self, text: str) -> list[tuple[int, int]] | None:
        """The windows, or ``None`` when they would cover most of ``text``.
        With a start guard (ASCII text): the windows of the possible match
        starts (:func:`start_windows`), no trigger hits needed."""
        limit = self.max_cover * len(text)
        if self._start is None or self._width is None or not text.isascii():
            return windows(text, self._hits.spans(text), self._hit_reach, limit)
        return start_windows(self._start.starts(text.encode("ascii")), self._width,
                             self.reach.pad, len(text), limit)


# Escapes a trigger may use: escaped punctuation (a literal) and the Unicode
# classes of letters, digits and numbers; none matches NUL.
_SAFE_ESCAPE = re.compile(r"\\(?:[^0-9A-Za-z]|p\{(?:Nd|L|Lu|Ll|N)\})")
_PLAIN_CLASS = re.compile(r"\[[^\]^\\][^\]\\]*\]")
_UNSAFE_BARE = re.compile(r"[.^$\[\]\\\x00-\x1f]|\(\?[=!<]")


def separator_safe(trigger: str) -> bool:
    """True when no occurrence of RE2 ``trigger`` can contain ``SEPARATOR`` and
    an occurrence inside a window is one in the whole text: no control
    character, and after removing the allowed escapes and plain (non-negated)
    classes, no ``.``, negated class, anchor, lookaround or other escape is
    left (a syntactic, sufficient check; triggers are short)."""
    if any(ord(c) < 0x20 for c in trigger):
        return False
    bare = _PLAIN_CLASS.sub("", _SAFE_ESCAPE.sub("", trigger))
    return _UNSAFE_BARE.search(bare) is None


def windowed(recognizer: EntityRecognizer, trigger: str | None) -> WindowedRecognizer | None:
    """``recognizer`` wrapped to run on trigger windows, when that is provably safe."""
    if trigger is None or not separator_safe(trigger):
        return None
    reach = reach_of(recognizer)
    if reach is None:
        return None
    return WindowedRecognizer(recognizer, trigger, reach)
