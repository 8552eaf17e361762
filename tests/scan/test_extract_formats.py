"""Format behaviour: sniffing by content, streaming offsets, locators."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.scan.extract import extract_bytes, extract_file
from daemon.scan.extract.segmenting import windows
from daemon.scan.segments import Extraction, Limits, Segment


def segments_of(e: Extraction) -> list[Segment]:
    """Drain an extraction (``Extraction.segments`` is typed loosely)."""
    return list(cast(Iterable[Segment], e.segments))



def _segs(path: Path, limits: Limits = Limits()) -> list[Segment]:  # noqa: B008
    return segments_of(extract_file(path, limits))


def _locate(segs: list[Segment], needle: str) -> list[str | None]:
    return [s.locate(s.text.index(needle)) for s in segs if needle in s.text]


@pytest.mark.parametrize(("size", "overlap", "n"), [(10, 3, 95), (7, 0, 21), (5, 4, 30),
                                                    (100, 10, 50), (10, 3, 10)])
def test_windows_cover_text_with_overlap_and_true_offsets(size: int, overlap: int,
                                                          n: int) -> None:
    text = "".join(chr(0x61 + i % 26) for i in range(n))
    chunks = [text[i:i + 4] for i in range(0, n, 4)]
    got = list(windows(chunks, size, overlap))
    assert all(text[off:off + len(piece)] == piece for off, piece in got)
    assert got[-1][0] + len(got[-1][1]) == n
    assert all(len(p) <= size for _, p in got)
    covered = set().union(*(range(o, o + len(p)) for o, p in got))
    assert covered == set(range(n))


_UNITS = st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["a", "row=2;col=x", "$.k"])),
                            st.text(alphabet="ab \n", max_size=25)), max_size=40)


def _packed(add: str, units: list[tuple[str | None, str]], size: int, cap: int | None
            ) -> tuple[list[Segment], str | None]:
    from daemon.scan.extract.segmenting import SegmentPacker
    from scratchwarden.errors import Unscannable

    packer = SegmentPacker(Limits(segment_chars=size, segment_overlap=2), context=("k",), cap=cap)
    out: list[Segment] = []
    try:
        if add == "all":
            out += packer.add_all(units)
        else:
            for sub, text in units:
                out += packer.add(sub, text)
        out += packer.flush()
    except Unscannable as e:
        return out, e.reason
    return out, None


@settings(max_examples=300, deadline=None)
@given(units=_UNITS, size=st.integers(4, 40), cap=st.one_of(st.none(), st.integers(0, 300)))
def test_add_all_packs_as_add_does(units: list[tuple[str | None, str]], size: int,
                                   cap: int | None) -> None:
    """``SegmentPacker.add_all`` (CSV cells, JSON leaves) gives the segments,
    locators and cap error that ``add`` per unit gives."""
    assert _packed("all", units, size, cap) == _packed("each", units, size, cap)


def test_streamed_plain_text_bases_are_offsets_into_decoded_text(tmp_path: Path) -> None:
    text = "".join(f"line {i} caf\u00e9\n" for i in range(5000))
    p = tmp_path / "log.txt"
    p.write_text(text, encoding="utf-8")
    segs = _segs(p, Limits(segment_chars=1000, segment_overlap=50))
    assert len(segs) > 50
    assert all(text[s.base:s.base + len(s.text)] == s.text for s in segs)


def test_format_is_sniffed_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "data.txt"
    p.write_text(json.dumps({"user": {"email": "a@example.com"}}))
    e = extract_file(p)
    segs = segments_of(e)
    assert e.mime == "application/json"
    assert _locate(segs, "a@example.com") == ["$.user.email"]


def test_json_keys_needing_quotes_get_bracket_paths() -> None:
    e = extract_bytes(json.dumps({"a b": [1, {"x-y": "v@example.com"}]}).encode())
    assert _locate(segments_of(e), "v@example.com") == ['$["a b"][1]["x-y"]']


def test_ndjson_bad_line_still_scanned_with_line_locator() -> None:
    data = b'{"a": "x@example.com"}\nnot json y@example.com\n{"b": 1}\n'
    e = extract_bytes(data, "events.log")
    segs = segments_of(e)
    assert e.mime == "application/x-ndjson"
    assert _locate(segs, "x@example.com") == ["line=1;$.a"]
    assert _locate(segs, "y@example.com") == ["line=2"]


def test_log_line_starting_with_bracket_is_text() -> None:
    e = extract_bytes(b"[2026-11-21 10:00] INFO started\n[2026-11-21 10:01] INFO done\n")
    assert e.mime == "text/plain"


def test_tsv_sniffed_and_semicolon_csv_by_content() -> None:
    tsv = extract_bytes(b"name\temail\nA\ta@example.com\nB\tb@example.com\n", "x.tsv")
    assert tsv.mime == "text/tab-separated-values"
    assert _locate(segments_of(tsv), "b@example.com") == ["row=3;col=email"]
    semi = extract_bytes(b"id;mail\n1;a@example.com\n2;b@example.com\n3;c@example.com\n")
    assert semi.mime == "text/csv"
    assert _locate(segments_of(semi), "c@example.com") == ["row=4;col=mail"]


def test_csv_without_header_uses_column_numbers() -> None:
    e = extract_bytes(b"1,a@example.com\n2,b@example.com\n", "export.csv")
    assert _locate(segments_of(e), "b@example.com") == ["row=2;col=2"]


def test_mbox_messages_are_numbered_and_attachments_recursed(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("list.csv", "name,email\nA,z@example.com\n")
    import base64
    attachment = base64.b64encode(inner.getvalue()).decode()
    mbox = (
        "From a@example.com Fri Nov 20 08:00:00 2026\n"
        "From: a@example.com\nTo: b@example.com\nSubject: one\n\nfirst body\n\n"
        "From c@example.com Fri Nov 20 09:00:00 2026\n"
        "From: c@example.com\nTo: d@example.com\nSubject: two\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nsecond body\n"
        '--B\nContent-Type: application/zip; name="l.zip"\n'
        'Content-Disposition: attachment; filename="l.zip"\n'
        f"Content-Transfer-Encoding: base64\n\n{attachment}\n--B--\n"
    )
    p = tmp_path / "inbox"
    p.write_text(mbox)
    e = extract_file(p)
    segs = segments_of(e)
    assert e.mime == "application/mbox"
    assert _locate(segs, "first body") == ["message=1;part=body"]
    assert _locate(segs, "d@example.com") == ["message=2;part=headers"]
    assert _locate(segs, "z@example.com") == [
        "message=2;part=l.zip;member=list.csv;row=2;col=email"]


def test_tar_gz_members_are_extracted(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"contact: t@example.com\n"
        info = tarfile.TarInfo("dir/notes.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    p = tmp_path / "bundle.tgz"
    p.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    segs = _segs(p)
    assert _locate(segs, "t@example.com") == ["member=bundle.tar/dir/notes.txt"]


def test_zip_with_binary_member_still_scans_text_members() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(5000))
        zf.writestr("a.txt", "mail m@example.com\n")
    e = extract_bytes(buf.getvalue())
    assert _locate(segments_of(e), "m@example.com") == ["member=a.txt"]


def test_pdf_with_empty_user_password_is_read() -> None:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=100, height=100)
    w.encrypt(user_password="", owner_password="owner", algorithm="AES-128")  # noqa: S106
    out = io.BytesIO()
    w.write(out)
    e = extract_bytes(out.getvalue())
    assert e.mime == "application/pdf"
    assert [s.locator for s in segments_of(e)] == []


def test_binary_content_is_unscannable_binary() -> None:
    from scratchwarden.errors import Unscannable

    with pytest.raises(Unscannable) as err:
        extract_bytes(bytes(range(256)) * 10)
    assert err.value.reason == "binary"


def test_structured_text_cap_is_too_large() -> None:
    from scratchwarden.errors import Unscannable

    doc = json.dumps({"k": ["v" * 100] * 100}).encode()
    with pytest.raises(Unscannable) as err:
        segments_of(extract_bytes(doc, limits=Limits(max_text_chars=1000)))
    assert err.value.reason == "too-large"


def test_csv_header_names_escaped_in_every_row_and_extra_cells_numbered() -> None:
    """Header locator parts are escaped once per file: each row still gets them."""
    e = extract_bytes(b"who;%,mail\nA,a@example.com\nB,b@example.com,c@example.com\n",
                      "x.csv")
    segs = segments_of(e)
    assert _locate(segs, "a@example.com") == ["row=2;col=mail"]
    assert _locate(segs, "b@example.com") == ["row=3;col=mail"]
    assert _locate(segs, "c@example.com") == ["row=3;col=3"]
    assert _locate(segs, "who;%: B") == ["row=3;col=who%3B%25"]
