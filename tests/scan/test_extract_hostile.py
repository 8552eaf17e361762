"""Extraction stays bounded and honest on hostile files: bombs, huge files,
special files, symlinks, encrypted and damaged documents.

The hostile files come from ``examples/make_hostile.py`` (built once per
module in a temp directory, ~15 MB). Memory is measured in a subprocess with
``ru_maxrss`` so the figure is the extraction's own."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest

import daemon.scan.extract as extract_mod
from daemon.scan.extract import extract_file
from daemon.scan.segments import Extraction, Limits, Segment
from scratchwarden.errors import Skipped, Unscannable

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20

def segments_of(e: Extraction) -> list[Segment]:
    """Drain an extraction (``Extraction.segments`` is typed loosely)."""
    return list(cast(Iterable[Segment], e.segments))



def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    _load("make_hostile").make_all(d)
    return d


def _outcome(path: Path, limits: Limits = Limits()) -> tuple[str, str]:  # noqa: B008
    """``("ok", mime)`` after draining the segments, or ``(error, reason)``."""
    try:
        e = extract_file(path, limits)
        for _ in segments_of(e):
            pass
    except (Unscannable, Skipped) as err:
        return type(err).__name__, err.reason
    return "ok", e.mime


MEASURE = r"""
import json, resource, sys
from daemon.scan.extract import extract_file
from daemon.scan.segments import Limits
from scratchwarden.errors import FileError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
chars, covered, outcome = 0, 0, "ok"
try:
    e = extract_file(sys.argv[1], Limits(**json.loads(sys.argv[2])))
    for seg in e.segments:
        chars += len(seg.text)
        covered = max(covered, seg.base + len(seg.text))
except FileError as err:
    outcome = err.reason
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"growth_kib": growth, "outcome": outcome, "chars": chars,
                  "covered": covered}))
"""


def _measure(path: Path, **limits: object) -> dict[str, int | str]:
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), json.dumps(limits)],
                          capture_output=True, text=True, timeout=300, check=True)
    result: dict[str, int | str] = json.loads(proc.stdout)
    return result


# --- special files -------------------------------------------------------------

@pytest.mark.parametrize(("name", "reason"), [
    ("passwd-link", "symlink"), ("fifo", "fifo"), ("socket", "socket")])
def test_special_files_are_skipped_without_reading(hostile: Path, name: str,
                                                   reason: str) -> None:
    assert _outcome(hostile / name) == ("Skipped", reason)


def test_device_is_skipped() -> None:
    assert _outcome(Path("/dev/null")) == ("Skipped", "device")


def test_directory_is_skipped(tmp_path: Path) -> None:
    assert _outcome(tmp_path) == ("Skipped", "directory")


def test_fifo_swapped_in_after_lstat_is_skipped_not_read(
        hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # lstat says "regular file", the path is a FIFO by the time it is opened:
    # the open must not block (no writer) and the fstat re-check must refuse it.
    regular = tmp_path / "regular.txt"
    regular.write_text("x")
    monkeypatch.setattr(extract_mod, "_lstat", lambda _p: os.lstat(regular))
    assert _outcome(hostile / "fifo") == ("Skipped", "fifo")


def test_symlink_swapped_in_after_lstat_is_not_followed(
        hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regular = tmp_path / "regular.txt"
    regular.write_text("x")
    monkeypatch.setattr(extract_mod, "_lstat", lambda _p: os.lstat(regular))
    assert _outcome(hostile / "passwd-link") == ("Skipped", "symlink")


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    assert _outcome(tmp_path / "nope") == ("Unscannable", "not-found")


# --- bombs ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bomb-text-10g.zip", "bomb-nested.zip",
                                  "bomb-text-1g.gz", "bomb-nested.gz"])
def test_bombs_stop_as_zip_bomb(hostile: Path, name: str) -> None:
    assert _outcome(hostile / name) == ("Unscannable", "zip-bomb")


def test_binary_zip_bomb_members_are_sniffed_not_inflated(hostile: Path) -> None:
    # 10 x 1 GiB of zeros: each member's 64 KiB head says binary; nothing more
    # is decompressed and the archive yields no text.
    result = _measure(hostile / "bomb-10g.zip")
    assert result["outcome"] == "ok" and result["chars"] == 0
    assert int(result["growth_kib"]) < 32 * 1024


def test_binary_gzip_payload_makes_the_gzip_binary(hostile: Path) -> None:
    assert _outcome(hostile / "bomb-1g.gz") == ("Unscannable", "binary")


def test_total_inflated_bound_holds_when_ratio_check_is_off(hostile: Path) -> None:
    limits = Limits(max_compression_ratio=1e12, max_archive_total_bytes=32 * MIB)
    assert _outcome(hostile / "bomb-text-1g.gz", limits) == ("Unscannable", "zip-bomb")


def test_text_zip_bomb_memory_is_bounded(hostile: Path) -> None:
    result = _measure(hostile / "bomb-text-10g.zip", max_compression_ratio=1e12,
                      max_archive_total_bytes=128 * MIB)
    assert result["outcome"] == "zip-bomb"
    assert int(result["chars"]) >= 100 * MIB  # it really streamed up to the bound
    assert int(result["growth_kib"]) < 64 * 1024


@pytest.mark.parametrize(("name", "reason"), [
    ("many-members.zip", "archive-limit"), ("deep.zip", "archive-limit"),
    ("encrypted.zip", "encrypted"), ("truncated.gz", "corrupt")])
def test_archive_limits_and_damage(hostile: Path, name: str, reason: str) -> None:
    assert _outcome(hostile / name) == ("Unscannable", reason)


def test_nesting_within_depth_is_extracted_with_joined_member_path(tmp_path: Path) -> None:
    p = tmp_path / "nested.zip"
    p.write_bytes(_load("make_hostile").nested_zip(3, b"deep inside\n"))
    segs = segments_of(extract_file(p))
    assert [s.locator for s in segs] == ["member=level3.zip/level2.zip/note.txt"]


# --- size ----------------------------------------------------------------------

def test_200mb_text_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    _load("make_hostile").big_text(big, 200 * MIB)
    result = _measure(big)
    assert result["outcome"] == "ok"
    assert result["covered"] == 200 * MIB  # every char is in some segment
    assert int(result["growth_kib"]) < 48 * 1024


def test_oversized_pdf_is_too_large_without_reading(hostile: Path) -> None:
    assert _outcome(hostile / "fake-200m.pdf") == ("Unscannable", "too-large")


def test_sparse_file_is_binary(hostile: Path) -> None:
    assert _outcome(hostile / "sparse-200m.bin") == ("Unscannable", "binary")


# --- encodings and documents ------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("invalid-utf8.txt", "r\u00e9sum\u00e9"),
    ("cp1252.txt", "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \u20ac 12"),
    ("utf16le-bom.txt", "UTF-16 text with a BOM"),
    ("utf16be-nobom.txt", "UTF-16 big endian without BOM"),
])
def test_text_encodings_decode(hostile: Path, name: str, expected: str) -> None:
    e = extract_file(hostile / name)
    text = "".join(s.text for s in segments_of(e))
    assert e.mime == "text/plain"
    assert expected in text


def test_invalid_utf8_keeps_offsets_one_char_per_bad_byte(hostile: Path) -> None:
    text = "".join(s.text for s in segments_of(extract_file(hostile / "invalid-utf8.txt")))
    assert "broken \ufffd\ufffd\ufffd bytes here" in text


def test_deeply_nested_json_falls_back_to_text(hostile: Path) -> None:
    assert _outcome(hostile / "deep.json") == ("ok", "text/plain")


@pytest.mark.parametrize(("name", "reason"), [
    ("encrypted.pdf", "encrypted"), ("corrupt.pdf", "corrupt")])
def test_pdf_failures(hostile: Path, name: str, reason: str) -> None:
    assert _outcome(hostile / name) == ("Unscannable", reason)


def test_error_detail_never_carries_content(tmp_path: Path) -> None:
    p = tmp_path / "bad.pdf"
    marker = "078-05-1120"
    p.write_bytes(b"%PDF-1.7\n(" + marker.encode() + b") garbage garbage")
    with pytest.raises(Unscannable) as err:
        segments_of(extract_file(p))
    assert marker not in str(err.value)


def test_sqlite_in_wal_mode_is_read_without_creating_side_files(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (email TEXT)")
    con.execute("INSERT INTO t VALUES ('x@example.com')")
    con.commit()
    con.close()
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), sorted(os.listdir(tmp_path)))
    segs = segments_of(extract_file(db))
    assert [s.locate(s.text.index("x@")) for s in segs] == ["table=t;row=1;col=email"]
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), sorted(os.listdir(tmp_path))) == before


def test_corrupt_sqlite_is_corrupt(tmp_path: Path) -> None:
    p = tmp_path / "bad.sqlite"
    p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    assert _outcome(p) == ("Unscannable", "corrupt")
