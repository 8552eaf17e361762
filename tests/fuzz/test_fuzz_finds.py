"""Every crash the fuzzer (``benchmarks/fuzz.py``) found, as the input that
found it (minimized), through the public entry point a real file takes.

Each test failed on the code before its fix: an exception that is not a
documented outcome (``Unscannable``/``Skipped`` for a file, ``PolicyError``/
``ConfigError`` with file:line for a policy or the node configuration), or a
result that breaks what detection and the inventory rely on (text and
locators that encode as UTF-8)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from daemon.host.config import load_config
from daemon.scan.extract import extract_bytes
from daemon.scan.segments import Segment
from policies.loader import check
from scratchwarden.errors import ConfigError, Unscannable


def segments(data: bytes, name: str) -> list[Segment]:
    extraction = extract_bytes(data, name)
    out = list(extraction.segments)  # type: ignore[call-overload]
    for seg in out:
        seg.text.encode("utf-8")
        for loc in (seg.locator or "", *(sub for _, sub in seg.locators)):
            loc.encode("utf-8")
    return out


# A zip whose one member has an empty name (``ZipInfo.is_dir`` indexed it: IndexError).
EMPTY_NAME_ZIP = bytes.fromhex(
    "504b03041400000000000000875d158de0ec10000000100000000000000073736e203037"
    "382d30352d313132300a504b010214031400000000000000875d158de0ec100000001000"
    "0000000000000000000000000000800100000000504b050600000000010001002e000000"
    "2e0000000000")


def test_zip_member_with_an_empty_name_is_extracted() -> None:
    found = segments(EMPTY_NAME_ZIP, "bundle.zip")
    assert [s.text for s in found] == ["ssn 078-05-1120\n"]
    assert found[0].locator == "member="


def test_mail_header_the_typed_parser_rejects_is_kept_raw() -> None:
    # minimized: b" \nCc:<" -- ``get_angle_addr`` indexes past the end (IndexError),
    # and the old fallback called the same parser again
    mail = (b"From: alice@example.com\nTo: bob@example.com\nCc:<\nSubject: claim\n\n"
            b"Body text.\n")
    found = segments(mail, "m.eml")
    headers = next(s for s in found if s.locator == "message=1;part=headers")
    assert "Cc: <\n" in headers.text and "From: alice@example.com" in headers.text
    assert any(s.text == "Body text.\n" for s in found)


def test_mail_group_address_the_typed_parser_chokes_on_is_kept_raw() -> None:
    # minimized by the dispatch target: b"From::;0\nContent-Type:\n\n" --
    # the header registry raised AttributeError ('Group' has no 'local_part')
    found = segments(b"From::;0\nTo: b@example.com\nContent-Type:\n\nhi\n", "m.eml")
    assert [(s.locator, s.text) for s in found] == [
        ("message=1;part=headers", "From: :;0\nTo: b@example.com\n"),
        ("message=1;part=body", "hi\n")]


def test_non_ascii_bytes_in_a_rejected_header_become_replacement_characters() -> None:
    # the raw value holds the byte as a lone surrogate (``\\udcff``): not UTF-8
    mail = b"From: a@example.com\nTo: b@example.com\nCc: B\xffob <\n\nx\n"
    headers = segments(mail, "m.eml")[0]
    assert "Cc: B\ufffdob <\n" in headers.text


@pytest.mark.parametrize("bad", ["GB82WEST123456987\u00c3\u00c32", "GB82WEST1234569876543\u00b2",
                                 "4111 1111 1111 \u00b2111"])
def test_a_non_ascii_digit_in_a_classified_column_is_not_a_crash(bad: str) -> None:
    # the json target's find after the merge with column classification:
    # str.isalnum/isdigit admit "\u00c3" and "\u00b2", which the IBAN and card
    # checks' int() refused, and one such cell made the whole export
    # unscannable (internal-error): its other cells were never scanned
    import json

    rows = [{"iban": "GB82 WEST 1234 5698 7654 32", "card": "4111 1111 1111 1111",
             "email": f"ann{i}@example.com"} for i in range(8)]
    rows.append({"iban": bad, "card": bad, "email": "bob@example.com"})
    found = segments(json.dumps({"users": rows}).encode(), "export.json")
    assert any("bob@example.com" in seg.text for seg in found)


def test_json_lone_surrogate_escape_becomes_a_replacement_character() -> None:
    # ``json.loads`` keeps ``\ud800`` as a lone surrogate: re2 (detection) and
    # the inventory cannot encode it, so the whole file failed to scan
    doc = b'{"ssn": "078-05-1120 \\ud800", "\\udc00k": ["\\ud83d\\ude00"]}'
    found = segments(doc, "x.json")
    assert found[0].text == "ssn: 078-05-1120 \ufffd\n\ufffdk: \U0001F600\n"


def test_ndjson_lone_surrogate_escape_becomes_a_replacement_character() -> None:
    found = segments(b'{"a": "x\\uDBFFy"}\n{"b": 1}\n', "x.jsonl")
    assert found[0].text == "a: x\ufffdy\nb: 1\n"


def test_nul_in_a_policy_file_is_a_policy_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(b"version: 1\nroots:\n  - name: a\x00\n")
    loaded, errors, _ = check(tmp_path, with_revision=False)
    assert loaded is None and len(errors) == 1
    assert (errors[0].file, errors[0].line) == (str(tmp_path / "p.yaml"), 3)
    assert "U+0000" in str(errors[0])


def test_nul_in_the_node_configuration_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "scratchwarden.yaml"
    path.write_bytes(b"version: 1\n\nworkers: \x1b2\n")
    try:
        load_config(path)
    except ConfigError as e:
        assert (e.file, e.line) == (str(path), 3)
    else:
        raise AssertionError("expected a ConfigError")


def _laughs(levels: int) -> str:
    """Ten aliases of ten aliases...: ``levels`` lines, 10**levels values."""
    doc = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        doc += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return doc


def test_alias_expansion_bomb_in_a_policy_is_refused_at_once(tmp_path: Path) -> None:
    # Found while fixing the NUL find above, not by the fuzzer: 570 bytes of
    # YAML expanded to 10**10 values (hours, then out of memory) on load.
    (tmp_path / "p.yaml").write_text("version: 1\n" + _laughs(10))
    t0 = time.monotonic()
    loaded, errors, _ = check(tmp_path, with_revision=False)
    assert time.monotonic() - t0 < 30
    assert loaded is None and len(errors) == 1
    assert "at most 100000 values" in str(errors[0])
    assert errors[0].line is not None and 2 <= errors[0].line <= 11


def test_alias_expansion_bomb_in_the_node_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scratchwarden.yaml"
    path.write_text("version: 1\n" + _laughs(10))
    with pytest.raises(ConfigError, match=r"scratchwarden\.yaml:\d+: expected at most 100000"):
        load_config(path)


def test_a_large_honest_file_is_still_loaded() -> None:
    from policies.yaml_source import load_yaml_text

    data, _ = load_yaml_text("v: [" + ", ".join(["x"] * 50_000) + "]\n", "big.yaml")
    assert len(data["v"]) == 50_000


def _docx(build: str) -> bytes:
    """A real .docx written by python-docx, changed by ``build`` (code run
    with ``d``, the ``Document``, and ``qn``)."""
    import io

    import docx
    from docx.oxml.ns import qn

    d = docx.Document()
    exec(build, {"d": d, "qn": qn})  # noqa: S102 - test-local document builders
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


HUGE_SPAN = """
t = d.add_table(rows=1, cols=2)
t.rows[0].cells[0].text = "first"
t.rows[0].cells[1].text = "Alice 078-05-1120"
pr = t.rows[0].cells[0]._tc.get_or_add_tcPr()
span = pr.makeelement(qn("w:gridSpan"), {qn("w:val"): "2147483647"})
pr.append(span)
"""


def test_docx_cell_spanning_two_billion_columns_is_read_at_once() -> None:
    # python-docx's row.cells yields a spanned cell once per grid column: a
    # 40 KB file held the scanner for minutes per cell and took 16 GB. Run in a
    # child process under a 2 GB address-space cap: the old code fails there
    # (MemoryError, so the file was reported corrupt, its text never scanned).
    import subprocess
    import sys

    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from daemon.scan.extract import extract_bytes\n"
        "e = extract_bytes(sys.stdin.buffer.read(), 'f.docx')\n"
        "print([(s.text, s.locators) for s in e.segments])\n")
    done = subprocess.run([sys.executable, "-c", code], input=_docx(HUGE_SPAN),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out = done.stdout.decode()
    assert "'table=1;row=1;col=1'" in out and "Alice 078-05-1120" in out
    assert "'table=1;row=1;col=64'" in out  # the span counted as Word's 63 at most


NESTED = """
outer = d.add_table(rows=1, cols=1)
cell = outer.rows[0].cells[0]
cell.text = "outer cell"
inner = cell.add_table(rows=1, cols=2)
inner.rows[0].cells[1].text = "Bob 078-05-1120"
"""


def test_docx_table_nested_in_a_cell_is_extracted() -> None:
    # python-docx's cell.text leaves nested tables out: their text was never
    # scanned and the file was recorded as clean (seen while writing the docx
    # target's generator; its oracle now checks every generated cell comes out).
    found = segments(_docx(NESTED), "f.docx")
    units = {loc: seg.text[off:].split("\n")[0] for seg in found for off, loc in seg.locators}
    assert units["table=1;row=1;col=1"] == "outer cell"
    assert units["table=1;row=1;col=1;table=1;row=1;col=2"] == "Bob 078-05-1120"


MERGED = """
t = d.add_table(rows=3, cols=3)
t.cell(0, 0).merge(t.cell(0, 1)).text = "Ann Lee, two columns"
t.cell(0, 2).text = "a 078-05-1120"
t.cell(1, 0).merge(t.cell(2, 0)).text = "two rows"
t.cell(1, 1).text = "line one"
t.cell(1, 1).add_paragraph("line two")
t.cell(2, 2).text = "last"
"""


def test_docx_cells_read_by_element_are_the_cells_python_docx_reads() -> None:
    # the walk reads w:tc elements (no private name of python-docx): each cell
    # of a plain table, merged or of several paragraphs, comes out once, with
    # the text python-docx's public row.cells gives it
    import io

    import docx

    data = _docx(MERGED)
    table = docx.Document(io.BytesIO(data)).tables[0]
    public = {c.text for row in table.rows for c in row.cells if c.text.strip()}
    found = segments(data, "f.docx")
    units = [seg.text[off:].split("\n")[0] if loc.startswith("table=") else ""
             for seg in found for off, loc in seg.locators]
    cells = [seg.text for seg in found]
    assert public == {"Ann Lee, two columns", "a 078-05-1120", "two rows",
                      "line one\nline two", "last"}
    for text in public:
        assert sum(c.count(text + "\n") for c in cells) == 1, text
    assert "Ann Lee, two columns" in units


def test_docx_tables_nested_past_the_bound_are_unscannable_not_skipped() -> None:
    deep = ("cell = d.add_table(rows=1, cols=1).rows[0].cells[0]\n"
            "for _ in range(20):\n"
            "    cell = cell.add_table(rows=1, cols=1).rows[0].cells[0]\n"
            "cell.text = 'deep 078-05-1120'\n")
    with pytest.raises(Unscannable) as e:
        segments(_docx(deep), "f.docx")
    assert e.value.reason == "archive-limit"


def test_tar_member_name_that_is_not_utf8_is_percent_encoded_in_the_locator() -> None:
    # tarfile keeps an undecodable name byte as a lone surrogate; in a locator
    # it failed detection's and the inventory's UTF-8 encoding (found by hand
    # through the harness's UTF-8 invariant, before the tar target's long run)
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT,
                      encoding="latin-1") as tf:
        info = tarfile.TarInfo("caf\xe9;1.txt")
        info.size = 16
        tf.addfile(info, io.BytesIO(b"ssn 078-05-1120\n"))
    (seg,) = segments(buf.getvalue(), "bundle.tar")
    assert seg.locator == "member=caf%E9%3B1.txt"
    assert seg.text == "ssn 078-05-1120\n"


def _sqlite_image(*statements: str) -> bytes:
    import sqlite3

    con = sqlite3.connect(":memory:")
    for sql in statements:
        con.execute(sql)
    con.commit()
    image = con.serialize()
    con.close()
    return image


def test_sqlite_schema_error_quoting_bytes_that_are_not_utf8_is_corrupt() -> None:
    # the dispatch target's find (minimized to 8 KB of SQLite pages): the
    # sqlite3 module decodes SQLite's error message, which quotes the broken
    # schema, as strict UTF-8 -- UnicodeDecodeError instead of an error
    image = _sqlite_image("CREATE TABLE contacts (id INTEGER, email TEXT)")
    broken = image.replace(b"id INTEGER", b"\xce\xce INTEGER")
    assert broken != image
    with pytest.raises(Unscannable) as e:
        segments(broken, "cache.sqlite")
    assert e.value.reason == "corrupt" and "UnicodeDecodeError" in e.value.detail


def test_sqlite_text_cell_that_is_not_utf8_is_scanned_with_replacement_characters() -> None:
    image = _sqlite_image(
        "CREATE TABLE people (name TEXT, note TEXT)",
        "INSERT INTO people VALUES ('Alice', CAST(X'6361669120303738' AS TEXT) || ' ssn')")
    (seg,) = segments(image, "cache.sqlite")
    assert seg.text == "name: Alice\nnote: caf\ufffd 078 ssn\n"


def test_sqlite_table_name_that_is_not_utf8_is_unscannable_with_a_reason() -> None:
    image = _sqlite_image("CREATE TABLE cafX (v TEXT)", "INSERT INTO cafX VALUES ('x')")
    with pytest.raises(Unscannable) as e:
        segments(image.replace(b"cafX", b"caf\xe9"), "cache.sqlite")
    assert e.value.reason == "extract-error" and "not UTF-8" in e.value.detail


def _tar_with_size_field(field: bytes) -> bytes:
    """A real one-member tar (tarfile wrote it) whose header's size field is
    replaced by ``field``, checksum recomputed."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        info = tarfile.TarInfo("notes.txt")
        info.size = 16
        tf.addfile(info, io.BytesIO(b"ssn 078-05-1120\n"))
    head = bytearray(buf.getvalue())
    head[124:136] = field
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\x00 " % sum(head[:512])
    return bytes(head)


@pytest.mark.parametrize("field", [
    b"\x80" + b"\x80" * 11,          # GNU base-256: about 2**87 bytes (the fuzz find)
    b"77777777777\x00",              # octal: 8 GiB in a 10 KB file
])
def test_tar_member_declaring_more_bytes_than_the_archive_is_corrupt_at_once(
        field: bytes) -> None:
    # tarfile skips a stream forward to the next header one block per loop:
    # the 2**87 size spun for ever (the tar target's hang, 15 of its inputs)
    data = _tar_with_size_field(field)
    t0 = time.monotonic()
    with pytest.raises(Unscannable) as e:
        segments(data, "bundle.tar")
    assert e.value.reason == "corrupt" and "more bytes than the archive" in e.value.detail
    assert time.monotonic() - t0 < 60


def test_tar_member_of_the_size_it_declares_is_still_read() -> None:
    (seg,) = segments(_tar_with_size_field(b"%011o\x00" % 16), "bundle.tar")
    assert seg.text == "ssn 078-05-1120\n"


# Headers the tar target produced (minimized, ustar magic put back so that
# dispatch sees a tar, checksums fixed) on which tarfile's own parsing
# indexes past a field: IndexError, now corrupt.
TAR_INDEX_ERRORS = [
    ("eNrLyy9JLdYrqShhAANGBhoBAyAwMzEB00CAThsYmBsh2IYGxsamDAogbMBAY1BaXJJYxADCBjS3a5ACx5zM"
     "5FQF14rE3IKcVB2F4GA/BQNzS10DU11DQyMDHYVEkLxeKkTeAUrrJefnMnDRJq0YGpkbGDMojLyYACdGBQWG"
     "kZ0QDQyNTYwNGaAJ0QKeEPPAZRWlhcsA5fI81IJ2sCQnALmqPp8="),
    ("eNrLL0kt1iupKGEAA0YGGgEDIDAzMQHTQIBOGxiYGyHYBoYGhmZmDAqTGRQMGGgNSotLEosYgMiA9nbRCChQ"
     "pt0xJzM5VcG1IjG3ICdVRyE42E/BwNxS18BU19DQyEBHIREkr5cKkXeA0nrJ+bkMXDRKLIZG5gbGlHprCAJw"
     "WlQYef5GS4jA3G9uZMKgAE6IFvCEmJcPKqsoLlyQNBZnVqXawnnJdPMoxCfwUpdmJa6xkQ2RgWJAbvFHVJL9"
     "TyIYYukWn1cg1csgqFtAqRsA7MeX8g=="),
]


@pytest.mark.parametrize("packed", TAR_INDEX_ERRORS)
def test_tar_header_tarfile_indexes_past_is_corrupt(packed: str) -> None:
    import base64
    import zlib

    with pytest.raises(Unscannable) as e:
        segments(zlib.decompress(base64.b64decode(packed)), "bundle.tar")
    assert e.value.reason == "corrupt" and "IndexError" in e.value.detail
