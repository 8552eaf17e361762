"""Where extracted text sits in the file: line, column and character offset.

Extractors of text formats read from the file itself (plain text, JSON,
NDJSON, CSV/TSV) attach ``Segment.anchors``: runs of segment text that are
verbatim copies of the file's decoded text, with the file offset, line and
column of each run's first character. Documents and archive members keep
their locators only (``prefixed`` drops anchors).

* plain text: one run per streamed window (:class:`LineCounter` carries the
  line and column across windows);
* JSON: every scalar's token is found by a small tokenizer over the parsed
  text (:func:`json_scalar_tokens`, paths built as ``structured._leaves``
  builds them, the last of duplicate keys winning as in ``json.loads``); a
  string's runs break at its escapes;
* CSV/TSV: each record's raw lines are kept while ``csv.reader`` reads them,
  and the cells are located in them (:func:`csv_cell_spans`); a cell whose
  located text differs from what ``csv`` decoded gets no position.

Positions never carry a value: numbers only.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from daemon.scan.segments import Anchor

MAX_RUNS = 64
"""Most runs one value is split into (its escapes); the rest has no position."""
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class LineCounter:
    """Line and column (1-based) of a position moving forward through a text
    read piece by piece."""

    def __init__(self, line: int = 1, column: int = 1) -> None:
        self.line = line
        self.column = column

    def advance(self, text: str, upto: int) -> None:
        """Move from ``text[0]`` (the current position) to ``text[upto]``."""
        newlines = text.count("\n", 0, upto)
        if newlines:
            self.line += newlines
            self.column = upto - text.rfind("\n", 0, upto)
        else:
            self.column += upto


class LineIndex:
    """Line and column of any offset of a text held whole (bisect over its
    newlines)."""

    def __init__(self, text: str, base: int = 0, line: int = 1, column: int = 1) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self.base, self.line, self.column = base, line, column

    def at(self, offset: int) -> tuple[int, int]:
        """``(line, column)`` of ``text[offset]``."""
        i = bisect.bisect_left(self._newlines, offset)
        if i == 0:
            return self.line, self.column + offset
        return self.line + i, offset - self._newlines[i - 1]


def runs(unit_start: int, raw: str, file_offset: int, index: LineIndex
         ) -> list[Anchor]:
    """Anchors for a value whose text starts at ``unit_start`` in the unit and
    is ``raw`` verbatim from ``file_offset`` (offset into ``index``'s text)."""
    line, column = index.at(file_offset)
    return [(unit_start, unit_start + len(raw), file_offset + index.base, line, column)]


# --------------------------------------------------------------------------- JSON

_WS = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERAL = re.compile(r"true|false|null")
_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
                     r"|\\u[0-9a-fA-F]{4}|\\.")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key)}]"


def json_scalar_tokens(text: str) -> dict[str, tuple[int, int]]:
    """``{json_path: (start, end)}`` of every string and number token of the
    valid JSON ``text`` (booleans and null are not scanned, so not listed).
    Empty when the text does not tokenize as expected (it always should:
    it parsed)."""
    try:
        return dict(_tokens(text))
    except (ValueError, IndexError):
        return {}


def _tokens(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    stack: list[list[Any]] = []   # [kind, path, key_or_index, expecting_key]
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    n = len(text)
    while pos < n:
        c = text[pos]
        top = stack[-1] if stack else None
        if c in "{[":
            stack.append(["obj" if c == "{" else "arr", _value_path(top), 0, c == "{"])
            pos += 1
        elif c in "}]":
            stack.pop()
            pos += 1
        elif c in ",:":
            if top is not None and top[0] == "obj" and c == ",":
                top[3] = True
            pos += 1
        elif c == '"':
            m = _STRING.match(text, pos)
            if m is None:
                raise ValueError("unterminated string")
            if top is not None and top[0] == "obj" and top[3]:
                top[2], top[3] = json.loads(m.group()), False
            else:
                yield _value_path(top), m.span()
            pos = m.end()
        else:
            m = _NUMBER.match(text, pos) or _LITERAL.match(text, pos)
            if m is None:
                raise ValueError("unexpected character")
            path = _value_path(top)
            if m.re is _NUMBER:
                yield path, m.span()
            pos = m.end()
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]


def _value_path(top: list[Any] | None) -> str:
    """The path of the next value in the container ``top`` (and count it)."""
    if top is None:
        return "$"
    if top[0] == "obj":
        return _child(top[1], str(top[2]))
    index = top[2]
    top[2] += 1
    return f"{top[1]}[{index}]"


def json_value_anchors(unit_start: int, value: Any, token: tuple[int, int], text: str,
                       index: LineIndex) -> list[Anchor]:
    """Anchors for a scalar written ``str(value)`` at ``unit_start`` of its
    unit, whose JSON token spans ``token`` of ``text``."""
    start, end = token
    if not isinstance(value, str):
        raw = text[start:end]
        return runs(unit_start, raw, start, index) if raw == str(value) else []
    raw = text[start + 1:end - 1]
    if "\\" not in raw:
        return runs(unit_start, raw, start + 1, index)
    out: list[Anchor] = []
    decoded = raw_at = 0  # offsets in the decoded value and in raw
    for m in _ESCAPE.finditer(raw):
        if m.start() > raw_at and len(out) < MAX_RUNS:
            out += runs(unit_start + decoded, raw[raw_at:m.start()], start + 1 + raw_at, index)
        decoded += (m.start() - raw_at) + len(json.loads(f'"{m.group()}"'))
        raw_at = m.end()
    if raw_at < len(raw) and len(out) < MAX_RUNS:
        out += runs(unit_start + decoded, raw[raw_at:], start + 1 + raw_at, index)
    return out


# --------------------------------------------------------------------------- CSV


class RecordLines:
    """An iterator of lines for ``csv.reader`` that keeps the lines of the
    record being read, so the record's raw text and file offset are known
    when ``csv`` yields it."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._it = iter(lines)
        self.taken: list[str] = []
        self.offset = 0         # file offset of the first taken line
        self.counter = LineCounter()

    def __iter__(self) -> RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.taken.append(line)
        return line

    def record(self) -> tuple[str, int, int, int]:
        """The last record's raw text, file offset, line and column; then
        move past it."""
        raw = "".join(self.taken)
        where = (raw, self.offset, self.counter.line, self.counter.column)
        self.counter.advance(raw, len(raw))
        self.offset += len(raw)
        self.taken = []
        return where


def csv_cell_spans(raw: str, delimiter: str) -> list[tuple[int, int]] | None:
    """``(start, end)`` in ``raw`` of each cell's text as ``csv`` decodes it,
    for records whose cells are unquoted or quoted without doubled quotes
    (a quoted cell's span excludes its quotes); None for any other record
    (the caller then gives its cells no position)."""
    body = raw.rstrip("\r\n")
    if '"' not in body:
        spans, at = [], 0
        for cell in body.split(delimiter):
            spans.append((at, at + len(cell)))
            at += len(cell) + 1
        return spans
    return _quoted_spans(body, delimiter)


def _quoted_spans(body: str, delimiter: str) -> list[tuple[int, int]] | None:
    spans: list[tuple[int, int]] = []
    at = 0
    while True:
        if body.startswith('"', at):
            close = body.find('"', at + 1)
            if close < 0 or body.startswith('""', close):
                return None
            spans.append((at + 1, close))
            at = close + 1
            if at < len(body) and body[at] != delimiter:
                return None
        else:
            nxt = body.find(delimiter, at)
            end = len(body) if nxt < 0 else nxt
            if '"' in body[at:end]:
                return None
            spans.append((at, end))
            at = end
        if at >= len(body):
            return spans
        at += 1  # the delimiter
        if at == len(body):
            spans.append((at, at))
            return spans
