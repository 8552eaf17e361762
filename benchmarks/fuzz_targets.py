"""What ``fuzz.py`` fuzzes: one target per extractor and per parser, each a
function of one byte string, with its seeds, its dictionary and its oracle.

A target returns normally when the input ended in a documented outcome:
segments of text, or for an extractor a ``FileError`` (``Unscannable`` with a
documented reason, ``Skipped``); for the policy loader a list of
``PolicyError``s, each with file and line; for the node configuration a
``ConfigError`` whose message starts with file:line. Anything else it lets
escape -- a foreign exception, or ``BrokenInvariant`` when a result breaks a
cheap invariant (text that is not ``str``, a locator spanning lines, an error
detail quoting the input, a segment past its size bound) -- and the runner
counts that as a crash.

Format targets call their extractor directly (a mutated PDF stays a PDF even
when its magic is gone); ``dispatch`` feeds everything through
``extract_bytes``, as a scanned file is. Three are structure-aware where a
checksum would stop blind mutation at the door: ``docx`` packs the input
into one part of a valid package, ``tar`` recomputes header checksums, and
``sqlite`` either loads the bytes as a database image or builds a database
whose names and values come from the input.
"""

from __future__ import annotations

import atexit
import codecs
import io
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.scan.extract import archives, documents, extract_bytes, mail, sqlite, structured
from daemon.scan.extract.dispatch import extract_input
from daemon.scan.extract.sniff import sniff_magic, sniff_text
from daemon.scan.extract.source import Budget, Ctx, Input
from daemon.scan.extract.text import (
    decode_head,
    decoded_chunks,
    detect_encoding,
    stream_segments,
)
from daemon.scan.segments import Extraction, Limits, Segment
from scratchwarden.errors import ConfigError, FileError, PolicyError, Unscannable

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "examples" / "scratch"

# Bounds small enough that fuzzed inputs of a few KB reach every limit path.
LIMITS = Limits(max_file_bytes=1 << 20, max_text_chars=1 << 20, max_archive_members=64,
                max_archive_total_bytes=8 << 20, max_sqlite_rows_per_table=50,
                max_sqlite_tables=20, max_pdf_pages=50, max_mail_parts=64,
                segment_chars=4096, segment_overlap=64)
REASONS = frozenset({"not-found", "permission-denied", "too-large", "zip-bomb",
                     "archive-limit", "binary", "encrypted", "corrupt", "extract-error"})
_LEAK_TOKEN = re.compile(rb"[A-Za-z0-9]{24,}")


class BrokenInvariant(AssertionError):
    """A result that is not one of the documented outcomes."""


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    tokens: tuple[bytes, ...] = field(default=())
    max_len: int = 16384
    modules: tuple[str, ...] = ()  # libraries instrumented for coverage, besides ours


# --- the oracle for extractors ------------------------------------------------

def check_segments(segments: Iterable[Segment], limits: Limits = LIMITS) -> int:
    """Iterate every segment, checking its shape; the characters produced."""
    total = 0
    for seg in segments:
        if not isinstance(seg, Segment) or not isinstance(seg.text, str):
            raise BrokenInvariant(f"expected Segment with str text, found {type(seg).__name__}")
        if seg.base < 0:
            raise BrokenInvariant(f"negative segment base {seg.base}")
        _check_locator(seg.locator)
        for off, sub in seg.locators:
            if not 0 <= off <= len(seg.text):
                raise BrokenInvariant(f"sub-locator offset {off} outside text of {len(seg.text)}")
            _check_locator(sub)
        _check_utf8(seg.text, "segment text")
        headers = (seg.locator or "").endswith("part=headers")
        if len(seg.text) > limits.segment_chars and not headers:
            raise BrokenInvariant(f"segment of {len(seg.text)} chars, bound "
                                  f"{limits.segment_chars}")
        total += len(seg.text)
    return total


def _check_locator(loc: str | None) -> None:
    if loc is None:
        return
    if not isinstance(loc, str):
        raise BrokenInvariant(f"locator of type {type(loc).__name__}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in loc):
        raise BrokenInvariant("locator holds a control character (spans lines)")
    _check_utf8(loc, "locator")


def _check_utf8(text: str, what: str) -> None:
    """Detection (re2), the inventory and the exports all need UTF-8: a lone
    surrogate (``\\ud800`` in JSON, a tar name's undecodable byte) fails them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BrokenInvariant(f"{what} holds a lone surrogate (not UTF-8 encodable)") from e


def check_file_error(e: FileError, data: bytes) -> None:
    """A documented reason, and a detail that quotes no input."""
    if isinstance(e, Unscannable) and e.reason not in REASONS:
        raise BrokenInvariant(f"undocumented Unscannable reason {e.reason!r}") from e
    message = str(e).encode("utf-8", "replace")
    for token in set(_LEAK_TOKEN.findall(data)):
        if token in message:
            raise BrokenInvariant("error detail quotes the input") from e


def outcome(run: Callable[[], tuple[str, Iterator[Segment]]], data: bytes) -> None:
    """Run an extractor to the end; only documented outcomes return."""
    try:
        mime, segments = run()
        if not isinstance(mime, str):
            raise BrokenInvariant(f"MIME type of type {type(mime).__name__}")
        check_segments(segments)
    except FileError as e:
        check_file_error(e, data)


def _ctx() -> Ctx:
    return Ctx(LIMITS, Budget(LIMITS, outer_bytes=0))


def _ctx_for(data: bytes) -> Ctx:
    return Ctx(LIMITS, Budget(LIMITS, outer_bytes=len(data)))


# --- extractor targets --------------------------------------------------------

def run_text(data: bytes) -> None:
    """Encoding detection, sniffing and streaming. Invariant: the windows,
    put back at their offsets, are the one-shot decoding of the whole input
    (a multi-byte character cut by a read boundary is never lost)."""
    enc = detect_encoding(data[:65536], complete=len(data) <= 65536)
    if enc is None:
        return
    whole = decode_head(data, enc, complete=True)
    sniff_text(whole[:4096], "notes.txt")
    step = 1 + (data[0] % 7 if data else 0)
    pieces = [data[i:i + step] for i in range(0, len(data), step)]
    limits = Limits(segment_chars=257, segment_overlap=16)
    rebuilt: list[str] = []
    for seg in stream_segments(decoded_chunks(pieces, enc), limits):
        end = sum(map(len, rebuilt))
        if seg.base > end:
            raise BrokenInvariant(f"window at {seg.base} leaves a gap after {end}")
        rebuilt.append(seg.text[end - seg.base:])
    if "".join(rebuilt) != whole:
        raise BrokenInvariant("streamed windows differ from the one-shot decoding")


def run_json(data: bytes) -> None:
    enc = detect_encoding(data[:65536], complete=len(data) <= 65536)
    if enc is not None:
        inp = Input.from_bytes(data, "tool-call.json")
        outcome(lambda: structured.extract_json(inp, enc, _ctx_for(data)), data)


_CSV_NAMES = ("export.csv", "export.tsv", "export.txt")


def run_csv(data: bytes) -> None:
    enc = detect_encoding(data[:65536], complete=len(data) <= 65536)
    if enc is not None:
        inp = Input.from_bytes(data, _CSV_NAMES[len(data) % 3])
        outcome(lambda: structured.extract_delimited(inp, enc, _ctx_for(data)), data)


def run_pdf(data: bytes) -> None:
    inp = Input.from_bytes(data, "doc.pdf")
    outcome(lambda: documents.extract_pdf(inp, _ctx_for(data)), data)


def run_mail(data: bytes) -> None:
    inp = Input.from_bytes(data, "mail.eml")
    if data.startswith(b"From "):
        outcome(lambda: mail.extract_mbox(inp, _ctx_for(data), extract_input), data)
    else:
        outcome(lambda: mail.extract_eml(inp, _ctx_for(data), extract_input), data)


def run_zip(data: bytes) -> None:
    inp = Input.from_bytes(data, "bundle.zip")
    outcome(lambda: archives.extract_zip(inp, _ctx_for(data), extract_input), data)


def run_gzip(data: bytes) -> None:
    inp = Input.from_bytes(data, "log.gz")
    outcome(lambda: archives.extract_gzip(inp, _ctx_for(data), extract_input), data)


def run_tar(data: bytes) -> None:
    fixed = fix_tar_checksums(data)
    inp = Input.from_bytes(fixed, "bundle.tar")
    outcome(lambda: archives.extract_tar(inp, _ctx_for(fixed), extract_input), fixed)


def fix_tar_checksums(data: bytes) -> bytes:
    """Recompute the checksum of every header block the walk reaches, so a
    mutation of a name, a size or a type reaches the parser behind it."""
    buf = bytearray(data)
    pos = 0
    while pos + 512 <= len(buf):
        block = buf[pos:pos + 512]
        if not any(block):
            break
        block[148:156] = b" " * 8
        buf[pos + 148:pos + 156] = b"%06o\x00 " % sum(block)
        try:
            size = int(bytes(block[124:136]).strip(b" \x00") or b"0", 8)
        except ValueError:
            size = 0
        pos += 512 + (max(size, 0) + 511) // 512 * 512
    return bytes(buf)


def run_sqlite(data: bytes) -> None:
    image = data if data.startswith(b"SQLite format 3\x00") else build_sqlite(data)
    if not image:
        return  # unreachable through dispatch (no magic), and deserialize(b"") says MemoryError
    inp = Input.from_bytes(image, "cache.sqlite")
    outcome(lambda: sqlite.extract_sqlite(inp, _ctx_for(image)), image)


def build_sqlite(data: bytes) -> bytes:
    """A database whose table and column names and cell values are the
    input's ``|``-separated fields: ``table|col|col...`` then cell values."""
    fields = [f.decode("utf-8", "replace") for f in data.split(b"|")]
    table, cols, values = fields[0], fields[1:4] or ["c"], fields[4:]
    con = sqlite3.connect(":memory:")
    try:
        quoted = ", ".join(_q(c) for c in dict.fromkeys(cols))
        con.execute(f"CREATE TABLE {_q(table)} ({quoted})")  # noqa: S608 - fuzz input, quoted
        n = len(dict.fromkeys(cols))
        cells: list[Any] = [_cell(v) for v in values]
        for i in range(0, len(cells) - n + 1, n):
            con.execute(f"INSERT INTO {_q(table)} VALUES ({', '.join('?' * n)})",  # noqa: S608
                        cells[i:i + n])
        con.commit()
    except sqlite3.Error:
        pass  # names or values SQLite refuses: whatever was built is the image
    try:
        return con.serialize()
    except sqlite3.Error:
        return b""  # nothing was built (an empty database has no pages)
    finally:
        con.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cell(v: str) -> Any:
    if v.startswith("b:"):
        return v[2:].encode("utf-8", "surrogateescape")
    if v.lstrip("-").isdigit() and len(v) < 30:
        return int(v)
    return None if v == "null" else v


_DOCX_PARTS = ("word/document.xml", "word/styles.xml", "[Content_Types].xml",
               "word/_rels/document.xml.rels", "docProps/core.xml")
_docx_base: dict[str, bytes] = {}


def run_docx(data: bytes) -> None:
    """An odd first byte: the rest replaces one part (picked by the second
    byte) of a valid package. An even one: the rest is a little program that
    writes ``word/document.xml`` -- paragraphs, tables, spans, vertical
    merges, nesting -- so python-docx's table and story walking is what gets
    fuzzed, not the XML parser's rejection of a broken tag."""
    if len(data) < 2:
        return
    if data[0] & 1:
        package = docx_with_part(_DOCX_PARTS[data[1] % len(_DOCX_PARTS)], data[2:])
        inp = Input.from_bytes(package, "form.docx")
        outcome(lambda: archives.extract_zip(inp, _ctx_for(package), extract_input), package)
        return
    xml, texts = document_xml(data[1:])
    package = docx_with_part("word/document.xml", xml)
    try:
        extraction = extract_bytes(package, "form.docx", LIMITS)
        found = "".join(seg.text for seg in extraction.segments)  # type: ignore[attr-defined]
    except FileError as e:
        check_file_error(e, package)
        return
    missing = [t for t in texts if t.strip() and t not in found]
    if missing:
        raise BrokenInvariant(f"{len(missing)} generated text(s) never extracted")


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def document_xml(program: bytes) -> tuple[bytes, list[str]]:
    """``program``: one op a byte (its low 3 bits), some with an argument
    byte or a 4-byte number after them. Also the texts that must come out."""
    out: list[str] = []
    texts: list[str] = []
    depth = 0  # open tables
    i = 0

    def arg(n: int) -> int:
        nonlocal i
        v = int.from_bytes(program[i:i + n], "big")
        i += n
        return v

    while i < len(program):
        op = program[i] & 7
        i += 1
        if op == 0:
            n = arg(1) % 32
            text = _printable(program[i:i + n].decode("latin-1"))
            i += n
            if not depth:  # a paragraph directly in a row is not where Word puts text
                texts.append(text)
            out.append(f"<w:p><w:r><w:t xml:space='preserve'>{_escape(text)}</w:t></w:r></w:p>")
        elif op == 1:
            out.append("<w:tbl><w:tblGrid>" + "<w:gridCol w:w='100'/>" * (arg(1) % 8)
                       + "</w:tblGrid><w:tr>")
            depth += 1
        elif op == 2 and depth:
            out.append("</w:tr><w:tr>")
        elif op == 3 and depth:
            texts.append(f"span{len(texts)}")
            out.append(f"<w:tc><w:tcPr><w:gridSpan w:val='{arg(4)}'/></w:tcPr><w:p><w:r>"
                       f"<w:t>{texts[-1]}</w:t></w:r></w:p></w:tc>")
        elif op == 4 and depth:
            merge = ("restart", "continue", "")[arg(1) % 3]
            attr = f" w:val='{merge}'" if merge else ""
            out.append(f"<w:tc><w:tcPr><w:vMerge{attr}/></w:tcPr><w:p/></w:tc>")
        elif op == 5 and depth:
            out.append(f"<w:trPr><w:gridBefore w:val='{arg(2)}'/></w:trPr>")
        elif op == 6 and depth:
            texts.append(f"cell{len(texts)}")
            out.append(f"<w:tc><w:p><w:r><w:t>{texts[-1]}</w:t></w:r></w:p>")  # closed by op 7
            out.append("<w:tbl><w:tblGrid/><w:tr>")
            depth += 1
        elif op == 7 and depth:
            out.append("</w:tr></w:tbl>" + ("</w:tc>" if depth > 1 else ""))
            depth -= 1
    while depth:
        out.append("</w:tr></w:tbl>" + ("</w:tc>" if depth > 1 else ""))
        depth -= 1
    body = "".join(out)
    xml = (f"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>"
           f"<w:document xmlns:w='{_W}'><w:body>{body}</w:body></w:document>").encode()
    return xml, texts


def _printable(text: str) -> str:
    return "".join(c if " " <= c < "\x7f" or c >= "\xa0" else "?" for c in text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx_with_part(part: str, content: bytes) -> bytes:
    base = _docx_base or _load_docx_base()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:  # deflating cost 50 ms a run
        for name, blob in base.items():
            zf.writestr(name, content if name == part else blob)
    return out.getvalue()


def _load_docx_base() -> dict[str, bytes]:
    """The sample's parts, its two style sheets (790 KB that python-docx
    parses on every load, two thirds of a run) cut to empty ones."""
    with zipfile.ZipFile(io.BytesIO(_docx_sample())) as zf:
        _docx_base.update({n: zf.read(n) for n in zf.namelist()})
    for name in ("word/styles.xml", "word/stylesWithEffects.xml"):
        if name in _docx_base:
            _docx_base[name] = f"<w:styles xmlns:w='{_W}'/>".encode()
    return _docx_base


def _docx_sample() -> bytes:
    found = sorted(SAMPLES.rglob("*.docx"))
    if found:
        return found[0].read_bytes()
    import docx  # the samples are not there: write a small package

    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("Intake form: Alice Example, alice.example@example.com")
    d.add_table(rows=1, cols=2).rows[0].cells[0].text = "SSN 078-05-1120"
    d.save(buf)
    return buf.getvalue()


def run_dispatch(data: bytes) -> None:
    """Everything, through the one entry point a scanned file takes."""
    name = ("", "notes.txt", "rows.csv", "rows.tsv", "x.json", "log.gz")[len(data) % 6]
    try:
        extraction = extract_bytes(data, name, LIMITS)
        if not isinstance(extraction, Extraction) or not isinstance(extraction.mime, str):
            raise BrokenInvariant("extract_bytes did not return an Extraction")
        check_segments(extraction.segments)  # type: ignore[arg-type]
    except FileError as e:
        check_file_error(e, data)


# --- parser targets -----------------------------------------------------------

def run_policy(data: bytes) -> None:
    """One policy file parsed, validated and merged as the loader does; every
    error must name the file and, once the text decodes, a line in it."""
    from policies import loader

    path = Path("/fuzz/policy.yaml")
    sources, errors = loader._parse_all({path: data})
    policy, origins, merge_errors = loader._merge(sources)
    errors += merge_errors
    for e in errors:
        check_policy_error(e, data)
    if not errors:
        from policies.decision import Revision
        from policies.lint import lint

        loaded = loader.LoadedPolicy(policy, Revision(None, None, ""), (str(path),),
                                     "/fuzz", origins)
        for w in lint(loaded, {s.path: s.lines for s in sources}):
            str(w)


def check_policy_error(e: PolicyError, data: bytes) -> None:
    if not isinstance(e, PolicyError):
        raise BrokenInvariant(f"policy error of type {type(e).__name__}")
    if e.file != "/fuzz/policy.yaml":
        raise BrokenInvariant(f"policy error names file {e.file!r}")
    if e.line is None:
        if not str(e.reason).startswith("expected UTF-8 text"):
            raise BrokenInvariant("policy error without a line")
        return
    if not 1 <= e.line <= data.count(b"\n") + data.count(b"\r") + 1:
        raise BrokenInvariant(f"policy error at line {e.line}, outside the file")


_config_dir: list[Path] = []


def run_config(data: bytes) -> None:
    """The node configuration file, loaded from disk as the daemon does."""
    from daemon.host.config import load_config

    if not _config_dir:
        _config_dir.append(Path(tempfile.mkdtemp(prefix="sw-fuzz-config-")))
        atexit.register(shutil.rmtree, _config_dir[0], True)
    path = _config_dir[0] / "scratchwarden.yaml"
    path.write_bytes(data)
    try:
        load_config(path, must_exist=True)
    except ConfigError as e:
        if not str(e).startswith(f"{path}:"):
            raise BrokenInvariant("configuration error without file:line") from e


# --- seeds --------------------------------------------------------------------

def _samples(*suffixes: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(SAMPLES.rglob("*"))
            if p.is_file() and p.name.endswith(suffixes)]


def _gz(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return out.getvalue()


def _tar(members: dict[str, bytes], fmt: int) -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def _pdf(text: str) -> bytes:
    """A one-page PDF with a text stream, offsets computed."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, xref)
    return bytes(out)


_TEXT = "Alice Example, SSN 078-05-1120, alice.example@example.com\n"


def seeds_text() -> list[bytes]:
    base = _samples(".txt", ".md")
    return base + [_TEXT.encode("utf-16"), _TEXT.encode("utf-16-be"),
                   codecs.BOM_UTF8 + "Zoë Café\n".encode(), "Zoë Café\n".encode("cp1252"),
                   _TEXT.encode("utf-32"), b"caf\xc3\xa9 \xff ok\n"]


def seeds_json() -> list[bytes]:
    return _samples(".json", ".ndjson") + [b'{"a": [1, {"b": "c"}], "d\\n": null}',
                                           b'[{"x": 1}]\n[{"y": 2}]\n', b"[" * 50]


def seeds_csv() -> list[bytes]:
    return _samples(".csv") + [b"name\tssn\nAlice\t078-05-1120\n",
                               b'a;b;c\n1;"2\n3";4\n5;6;7\n', b"x|y\n\"unterminated\n"]


def seeds_pdf() -> list[bytes]:
    return _samples(".pdf") + [_pdf("Alice Example 078-05-1120")]


def seeds_mail() -> list[bytes]:
    eml = _samples(".eml")
    mbox = [b"From a@example.com Mon Jan  1 00:00:00 2026\n" + m + b"\n" for m in eml]
    return eml + mbox + [b"From: a@example.com\nTo: b@example.com\n"
                         b"Content-Type: text/html\n\n<p>Hi <b>Bob</b></p>\n"]


def seeds_zip() -> list[bytes]:
    return _samples(".zip", ".docx") + [
        _zip({"a.txt": _TEXT.encode(), "d/b.json": b'{"k": "v"}',
              "inner.zip": _zip({"c.csv": b"x,y\n1,2\n"})})]


def seeds_gzip() -> list[bytes]:
    return _samples(".gz") + [_gz(_TEXT.encode()), _gz(_gz(b'{"a": 1}'))]


def seeds_tar() -> list[bytes]:
    import tarfile

    members = {"notes.txt": _TEXT.encode(), "long/" + "n" * 120 + ".csv": b"a,b\n1,2\n"}
    return [_tar({"notes.txt": _TEXT.encode()}, tarfile.USTAR_FORMAT),
            _tar(members, tarfile.GNU_FORMAT), _tar(members, tarfile.PAX_FORMAT)]


def seeds_sqlite() -> list[bytes]:
    return _samples(".sqlite", ".db") + [b"customers|name|email|ssn|Alice|a@example.com|"
                                         b"078-05-1120|Bob|b:\xff\x00|null"]


def seeds_docx() -> list[bytes]:
    base = _docx_base or _load_docx_base()
    parts = [bytes([1, i]) + base[part] for i, part in enumerate(_DOCX_PARTS) if part in base]
    one, two = (1).to_bytes(4, "big"), (2).to_bytes(4, "big")
    program = (b"\x00\x11Alice 078-05-1120" + b"\x01\x03" + b"\x03" + two + b"\x04\x00"
               + b"\x02" + b"\x04\x01" + b"\x03" + one + b"\x06" + b"\x03" + one
               + b"\x07\x07")
    return [b"\x00" + program, *parts]


def seeds_dispatch() -> list[bytes]:
    return (_samples("") + [_gz(_TEXT.encode()), _pdf("x")]
            + [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64])


def _policy_examples() -> list[Path]:
    return sorted((REPO / "policies" / "examples").glob("*.yaml"))


def seeds_policy() -> list[bytes]:
    return [p.read_bytes() for p in _policy_examples()]


def seeds_config() -> list[bytes]:
    return [b"version: 1\n",
            b"version: 1\nnode_id: n1\nworkers: 2\nquiet_period: 3s\n"
            b"heavy_windows: ['22:00-06:00']\nlimits: {max_file_bytes: 1048576}\n"
            b"metrics_address: 127.0.0.1:9464\nroots: ['/srv/agents/{tenant}/sessions/*']\n"]


def _policy_tokens() -> tuple[bytes, ...]:
    from daemon.host.config import NodeConfig
    from policies.schema import PolicyDocument

    names: set[str] = set()
    for model in (PolicyDocument, NodeConfig):
        stack: list[Any] = [model]
        while stack:
            m = stack.pop()
            for fname, f in getattr(m, "model_fields", {}).items():
                if fname not in names:
                    names.add(fname)
                    stack.extend(_models_in(f.annotation))
    return tuple(sorted(n.encode() for n in names)) + (
        b": ", b"- ", b"&a ", b"*a", b"!!str ", b"{", b"}", b"[", b"]", b"10m", b"24h",
        b"first_seen", b"{tenant}", b"**", b"true", b"~", b"\n  ")


def _models_in(tp: Any) -> list[Any]:
    from typing import get_args

    if hasattr(tp, "model_fields"):
        return [tp]
    return [m for a in get_args(tp) for m in _models_in(a)]


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("text", "encodings, sniffing, streamed windows", run_text, seeds_text,
           modules=("codecs", "encodings")),
    Target("json", "JSON / NDJSON values and paths", run_json, seeds_json,
           (b'{"', b'":', b"[", b"]", b"null", b"\\u00"), modules=("json",)),
    Target("csv", "CSV / TSV records and headers", run_csv, seeds_csv, (b",", b"\t", b'"', b";"),
           modules=("csv",)),
    Target("pdf", "PDF (pypdf)", run_pdf, seeds_pdf,
           (b"obj", b"endobj", b"stream", b"/Length", b"xref", b"trailer", b"/Encrypt",
            b"/Filter /FlateDecode", b"Tj", b"TJ", b"BT", b"ET"), 65536, ("pypdf",)),
    Target("docx", "DOCX parts (python-docx)", run_docx, seeds_docx,
           (b"<w:p>", b"<w:t>", b"</w:t>", b"<w:tbl>", b"<w:tr>", b"<w:tc>", b"<!ENTITY",
            b"xmlns:w=", b"gridSpan", b"vMerge"), 65536, ("docx", "zipfile")),
    Target("mail", "EML / mbox (email, HTML bodies, attachments)", run_mail, seeds_mail,
           (b"Content-Type: ", b"multipart/mixed; boundary=", b"Content-Transfer-Encoding: ",
            b"base64", b"quoted-printable", b"=?utf-8?b?", b"filename=", b"\n--"),
           modules=("email", "html")),
    Target("zip", "ZIP archives and members", run_zip, seeds_zip,
           (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"), 65536, ("zipfile",)),
    Target("gzip", "gzip streams", run_gzip, seeds_gzip, (b"\x1f\x8b\x08",), modules=("gzip",)),
    Target("tar", "tar archives (ustar, GNU, pax)", run_tar, seeds_tar,
           (b"ustar\x00", b"ustar  \x00", b"path=", b"size=", b"GNU.sparse"), 65536, ("tarfile",)),
    Target("sqlite", "SQLite images and built databases", run_sqlite, seeds_sqlite,
           (b"SQLite format 3\x00", b"|", b"b:"), 65536, ("sqlite3",)),
    Target("dispatch", "sniffing and dispatch of any bytes (extract_bytes)", run_dispatch,
           seeds_dispatch, (b"%PDF-", b"PK\x03\x04", b"\x1f\x8b", b"From ", b"ustar"), 65536,
           ("email", "zipfile", "gzip", "tarfile", "json", "csv")),
    Target("policy", "policy YAML: yaml_source, schema, loader merge, lint", run_policy,
           seeds_policy, (), modules=("yaml", "pydantic")),
    Target("config", "node configuration YAML (daemon.host.config)", run_config, seeds_config, (),
           modules=("yaml", "pydantic")),
)}


def tokens_of(target: Target) -> tuple[bytes, ...]:
    if target.name in ("policy", "config"):
        return _policy_tokens()
    return target.tokens


def seeds_of(target: Target) -> list[bytes]:
    """The target's seeds, none larger than its ``max_len``."""
    return [s for s in target.seeds() if 0 < len(s) <= target.max_len] or [b"\n"]


__all__ = ["TARGETS", "BrokenInvariant", "Target", "check_segments", "seeds_of", "sniff_magic",
           "tokens_of"]
