"""JSON, NDJSON and delimited text (CSV/TSV).

Values are what is scanned; keys and headers are context. Each value becomes
one ``key: value`` line (the key next to the value helps the detector's
context words) and a locator naming where it sits: ``$.users[0].email``,
``line=12;$.x`` (NDJSON, 1-based line), ``row=N;col=header`` (CSV, 1-based
record number counting the header record as row 1, as a spreadsheet shows
it).

A JSON document is parsed whole only up to ``JSON_PARSE_MAX_BYTES``; a bigger
one is streamed as plain text (still scanned, without JSON paths), because a
parsed document costs many times its size in memory. NDJSON and CSV are
streamed record by record at any size.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from daemon.scan.columns import SAMPLE, ColumnBook, json_group, known_span
from daemon.scan.extract.positions import (
    LineCounter,
    LineIndex,
    RecordLines,
    csv_cell_spans,
    json_scalar_tokens,
    json_value_anchors,
    runs,
)
from daemon.scan.extract.segmenting import SegmentPacker, Unit
from daemon.scan.extract.sniff import MIME, delimiter_of
from daemon.scan.extract.source import Ctx, Input, escape_locator_part
from daemon.scan.extract.text import (
    TextEncoding,
    decode_head,
    decoded_chunks,
    iter_lines,
    stream_segments,
)
from daemon.scan.segments import Anchor, Known, Limits, Segment
from scratchwarden.errors import Unscannable

JSON_PARSE_MAX_BYTES = 8 * 1024 * 1024
MAX_LINE_CHARS = 4 * 1024 * 1024
MAX_CONTEXT_WORDS = 64
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CONTEXT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,39}\Z")
_NUMERIC = re.compile(r"[\d\s.,+\-()/:$%]*\Z")

Result = tuple[str, Iterator[Segment]]


def extract_json(inp: Input, enc: TextEncoding, ctx: Ctx) -> Result:
    """JSON if the whole parses, NDJSON if its first line does, else text."""
    data, more = inp.read_upto(JSON_PARSE_MAX_BYTES)
    if more is None:
        text = decode_head(data, enc, complete=True)
        doc = _parse(text)
        if doc is not _INVALID:
            return MIME["json"], _json_segments(doc, ctx.limits, text)
        if _first_line_parses(text):
            return MIME["ndjson"], _ndjson_segments(iter_lines([text], MAX_LINE_CHARS), ctx.limits)
        return MIME["text"], stream_segments([text], ctx.limits)
    lines = iter_lines(decoded_chunks(more, enc), MAX_LINE_CHARS)
    if _first_line_parses(decode_head(data[:MAX_LINE_CHARS], enc, complete=False)):
        return MIME["ndjson"], _ndjson_segments(lines, ctx.limits)
    return MIME["json"], stream_segments(lines, ctx.limits)


class _Invalid:
    pass


_INVALID = _Invalid()


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID


def _first_line_parses(text: str) -> bool:
    for line in text.split("\n"):
        if line.strip():
            return isinstance(_parse(line), dict | list)
    return False


def _json_segments(doc: Any, limits: Limits, text: str) -> Iterator[Segment]:
    keys = _context_keys(doc)
    packer = SegmentPacker(limits, context=keys, cap=limits.max_text_chars)
    tokens = json_scalar_tokens(text)
    index = LineIndex(text)
    leaves = list(_leaves(doc, "$"))
    book = _book(leaves, limits)
    yield from packer.add_all_anchored(_json_units(leaves, tokens, text, index, book,
                                                   surrogates=_escapes_surrogate(text)))
    yield from packer.flush()


def _book(leaves: Iterable[tuple[str, str | None, Any]], limits: Limits) -> ColumnBook | None:
    """Sampled and classified JSON columns (key paths), or None when off."""
    if not limits.classify_columns:
        return None
    book = ColumnBook()
    for path, key, value in leaves:
        group = json_group(path)
        record = group.rsplit(".", 1)[0]
        container = record.rsplit(".", 1)[-1].split("[", 1)[0] if "." in record else ""
        book.observe(group, key or "", value, record=record, container=container)
    book.decide()
    return book


def _json_units(leaves: Iterable[tuple[str, str | None, Any]], tokens: dict[str, tuple[int, int]],
                text: str, index: LineIndex, book: ColumnBook | None, prefix: str = "",
                surrogates: bool = False) -> Iterator[Unit]:
    """``(locator, unit text, anchors, known)`` of each scalar. ``surrogates``:
    the text writes a surrogate escape, so units get ``_utf8_line``."""
    line = _utf8_line if surrogates else _line
    for path, key, value in leaves:
        unit = line(key, value)
        token = tokens.get(path)
        anchors = [] if token is None else json_value_anchors(
            len(unit) - len(str(value)) - 1, value, token, text, index)
        yield f"{prefix}{path}", unit, anchors, _known(book, json_group(path), unit, value)


def _known(book: ColumnBook | None, column: str, unit: str, value: Any) -> list[Known]:
    """The cell's finding when its column is classified and it passes."""
    verdict = None if book is None else book.known(column, value)
    if verdict is None:
        return []
    start, end = known_span(unit, str(value))
    return [(start, end, verdict.entity, verdict.score)]


# ``"\ud800"`` parses to a lone surrogate, which is not UTF-8: detection (re2),
# the inventory and the exports would fail on it. Such text gets U+FFFD, one
# for one (offsets stay put); only documents that write such an escape pay.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escapes_surrogate(text: str) -> bool:
    return _SURROGATE_ESCAPE.search(text) is not None


def _utf8_line(key: str | None, value: Any) -> str:
    return _SURROGATE.sub("\ufffd", _line(key, value))


def _ndjson_segments(lines: Iterable[str], limits: Limits) -> Iterator[Segment]:
    """NDJSON records; the first ``SAMPLE`` parsed records classify the columns."""
    packer = SegmentPacker(limits)
    parsed = _ndjson_records(lines)
    head = list(itertools.islice(parsed, SAMPLE))
    book = _book(((path, key, value) for n, line, index, doc in head if doc is not _INVALID
                  for path, key, value in _leaves(doc, "$")), limits)
    for n, line, index, doc in itertools.chain(head, parsed):
        if doc is _INVALID:
            yield from packer.add(f"line={n}", line if line.endswith("\n") else line + "\n",
                                  runs(0, line.rstrip("\n"), 0, index))
            continue
        yield from packer.add_all_anchored(_json_units(
            _leaves(doc, "$"), json_scalar_tokens(line), line, index, book, prefix=f"line={n};",
            surrogates=_escapes_surrogate(line)))
    yield from packer.flush()


def _ndjson_records(lines: Iterable[str]) -> Iterator[tuple[int, str, LineIndex, Any]]:
    """``(line number, line, its positions, parsed or _INVALID)`` per non-blank line."""
    where, offset = LineCounter(), 0
    for n, line in enumerate(lines, start=1):
        line_at = (offset, where.line, where.column)
        where.advance(line, len(line))
        offset += len(line)
        if line.strip():
            yield n, line, LineIndex(line, *line_at), _parse(line)


def _leaves(doc: Any, root: str) -> Iterator[tuple[str, str | None, Any]]:
    """``(json_path, nearest_key, scalar)`` in document order, iteratively
    (a deeply nested document cannot exhaust the stack here)."""
    stack: list[tuple[str, str | None, Any]] = [(root, None, doc)]
    while stack:
        path, key, value = stack.pop()
        if isinstance(value, dict):
            items = [(_child(path, str(k)), str(k), v) for k, v in value.items()]
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", key, v) for i, v in enumerate(value)]))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            yield path, key, value


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key)}]"


def _line(key: str | None, value: Any) -> str:
    if key is None:
        return f"{value}\n"
    return f"{key.replace(chr(10), ' ')}: {value}\n"


def _context_keys(doc: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    stack = [doc]
    while stack and len(seen) < MAX_CONTEXT_WORDS:
        value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and _CONTEXT_WORD.match(k):
                    seen.setdefault(k, None)
                stack.append(v)
        elif isinstance(value, list):
            stack.extend(value)
    return tuple(seen)[:MAX_CONTEXT_WORDS]


def extract_delimited(inp: Input, enc: TextEncoding, ctx: Ctx) -> Result:
    head_text = decode_head(inp.head, enc, complete=inp.size == len(inp.head))
    delim = delimiter_of(head_text, inp.name) or ","
    lines = RecordLines(iter_lines(decoded_chunks(inp.chunks(), enc), MAX_LINE_CHARS))
    mime = MIME["tsv"] if delim == "\t" else MIME["csv"]
    return mime, _csv_segments(csv.reader(lines, delimiter=delim), ctx.limits, lines, delim)


def _csv_segments(rows: Iterator[list[str]], limits: Limits, lines: RecordLines,
                  delim: str) -> Iterator[Segment]:
    try:
        first = next(rows, None)
        if first is None:
            return
        header = _header(first)
        context = tuple(h for h in header if _CONTEXT_WORD.match(h))[:MAX_CONTEXT_WORDS]
        packer = SegmentPacker(limits, context=context)
        cols = _columns(header)
        record = lines.record()
        records: Iterator[tuple[list[str], tuple[str, int, int, int]]] = (
            (row, lines.record()) for row in rows)
        if header:
            yield from packer.add("row=1", limits_join(first))
        else:
            records = itertools.chain([(first, record)], records)
        head = list(itertools.islice(records, SAMPLE))
        book = _csv_book(head, header, limits)
        yield from packer.add_all_anchored(
            _anchored_cells(itertools.chain(head, records), 1 if header else 0, cols, delim,
                            book))
        yield from packer.flush()
    except csv.Error as e:
        raise Unscannable("corrupt", f"delimited text does not parse: {e}") from e


def _csv_book(head: list[tuple[list[str], tuple[str, int, int, int]]], header: list[str],
              limits: Limits) -> ColumnBook | None:
    if not limits.classify_columns:
        return None
    book = ColumnBook()
    for row, _ in head:
        for j, cell in enumerate(row):
            book.observe(str(j), header[j] if j < len(header) else "", cell)
    book.decide()
    return book


def _anchored_cells(records: Iterable[tuple[list[str], tuple[str, int, int, int]]],
                    skipped: int, cols: list[tuple[str, str]], delim: str,
                    book: ColumnBook | None) -> Iterator[Unit]:
    """``(locator, text, anchors, known)`` of each non-blank cell; a cell's
    anchor says where its text starts in the file (when ``csv_cell_spans``
    could locate it, else none)."""
    for n, (row, (raw, offset, line, column)) in enumerate(records, start=skipped + 1):
        spans = csv_cell_spans(raw, delim)
        if spans is not None and len(spans) != len(row):
            spans = None
        index: LineIndex | None = None
        for j, cell in enumerate(row):
            if not cell.strip():
                continue
            col, prefix = cols[j] if j < len(cols) else (str(j + 1), "")
            anchors: list[Anchor] = []
            if spans is not None and raw[spans[j][0]:spans[j][1]] == cell:
                if index is None:
                    index = LineIndex(raw, base=offset, line=line, column=column)
                anchors = runs(len(prefix), cell, spans[j][0], index)
            unit = f"{prefix}{cell}\n"
            yield f"row={n};col={col}", unit, anchors, _known(book, str(j), unit, cell)


def limits_join(cells: list[str]) -> str:
    return " | ".join(cells) + "\n"


def _header(first: list[str]) -> list[str]:
    """The first record is a header when its cells are all non-empty,
    distinct, and none looks like a number, date or address."""
    cells = [c.strip() for c in first]
    if len(cells) < 2 or len(set(cells)) != len(cells):
        return []
    if any(not c or _NUMERIC.match(c) or "@" in c for c in cells):
        return []
    return cells


def _columns(header: list[str]) -> list[tuple[str, str]]:
    """Per header cell: its locator part (escaped once per file, not once per
    cell) and the ``name: `` prefix of its cells' text."""
    return [(escape_locator_part(name), f"{name}: ") for name in header]
