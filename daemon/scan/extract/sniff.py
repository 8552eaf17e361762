"""Telling a file's format from its first bytes, not its name.

Magic bytes decide the binary containers. For text, the structure of the
decoded head decides (a JSON opener, an mbox ``From `` line, an RFC 5322
header block, consistently delimited rows); the name is only a tie-breaker
(``.csv``/``.tsv`` say "delimited", ``.jsonl``/``.ndjson`` say "lines").
A wrong guess among text kinds is cheap: every text kind is still scanned.
"""

from __future__ import annotations

import csv
import enum
import re

MIME = {
    "text": "text/plain",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
    "gzip": "application/gzip",
    "tar": "application/x-tar",
    "sqlite": "application/vnd.sqlite3",
    "eml": "message/rfc822",
    "mbox": "application/mbox",
}


class Magic(enum.Enum):
    PDF = "pdf"
    ZIP = "zip"
    GZIP = "gzip"
    TAR = "tar"
    SQLITE = "sqlite"
    OLE = "ole"          # legacy Office / encrypted OOXML container
    NONE = "none"        # no binary magic: judge as text


class TextKind(enum.Enum):
    TEXT = "text"
    JSON = "json"        # a JSON opener; json vs ndjson is settled by parsing
    CSV = "csv"
    EML = "eml"
    MBOX = "mbox"


def sniff_magic(head: bytes) -> Magic:
    if b"%PDF-" in head[:1024]:
        return Magic.PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Magic.ZIP
    if head.startswith(b"\x1f\x8b"):
        return Magic.GZIP
    if head.startswith(b"SQLite format 3\x00"):
        return Magic.SQLITE
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Magic.OLE
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Magic.TAR
    return Magic.NONE


_HEADER_LINE = re.compile(r"[!-9;-~]+:[ \t]?")
_MAIL_HEADERS = frozenset({
    "from", "to", "cc", "subject", "date", "message-id", "mime-version", "received",
    "return-path", "content-type", "reply-to", "delivered-to",
})


def sniff_text(text: str, name: str) -> TextKind:
    """Classify the decoded head ``text`` of a text file."""
    lower = name.lower()
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        return TextKind.JSON
    if text.startswith("From ") and "\n" in text:
        return TextKind.MBOX
    if _looks_like_mail(text):
        return TextKind.EML
    if lower.endswith((".csv", ".tsv")) or delimiter_of(text) is not None:
        return TextKind.CSV
    return TextKind.TEXT


def _looks_like_mail(text: str) -> bool:
    """An RFC 5322 header block: every line up to the first blank one is a
    header or a continuation, with at least two well-known mail headers."""
    known = 0
    lines = text.split("\n")
    for i, line in enumerate(lines[:200]):
        line = line.rstrip("\r")
        if not line:
            return known >= 2 and i < len(lines) - 1
        if line[0] in " \t" and i > 0:
            continue
        m = _HEADER_LINE.match(line)
        if m is None:
            return False
        if m.group(0).rstrip(": \t").lower() in _MAIL_HEADERS:
            known += 1
    return False


def delimiter_of(text: str, name: str = "") -> str | None:
    """The delimiter of delimited text: from the name when it says so, else
    the one of ``, \\t ; |`` giving the same field count (>= 2) on the first
    lines (at least three of them)."""
    lower = name.lower()
    lines = [ln for ln in text.split("\n")[:-1][:20] if ln.strip()]
    if lower.endswith(".tsv"):
        return "\t"
    if lower.endswith(".csv"):
        return _consistent(lines) or ","
    return _consistent(lines) if len(lines) >= 3 else None


def _consistent(lines: list[str]) -> str | None:
    for delim in (",", "\t", ";", "|"):
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delim)}
        except csv.Error:
            continue
        if len(counts) == 1 and counts.pop() >= 2:
            return delim
    return None
