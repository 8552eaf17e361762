"""Scanner.scan_many / submit_scan_batch: several small files in one task give
what scanning each alone gives (real extraction and detection)."""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from pathlib import Path

import pytest

from daemon.platform.fingerprint import Fingerprinter
from daemon.scan.detect import Detector
from daemon.scan.pipeline import MANY_MAX_FILE_BYTES, Scanner
from daemon.scan.workers import InlineExecutor, ScannerSpec, submit_scan_batch
from scratchwarden.observations import FileObservation, FileStatus


def _tree(root: Path) -> list[str]:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("inner/contacts.csv", "name,email\nRyan Miller,ryan.miller@example.org\n")
    files = {
        "chat.txt": "I spoke with Jennifer Lopez in Chicago. Mail jane.roe@example.org.\n",
        "crm.json": '{"customers": [{"name": "Ryan Miller", "city": "Dublin", '
                    '"phone": "(415) 555-0132"}]}',
        "export.csv": "id,name,email\n1,Amanda Lopez,amanda.lopez@example.com\n",
        "empty.txt": "",
        "copy-of-chat.txt": "I spoke with Jennifer Lopez in Chicago. Mail jane.roe@example.org.\n",
        "big.txt": ("Call Maria Garcia at 212-555-0187 in Boston. " * 2000
                    )[:MANY_MAX_FILE_BYTES + 10],
    }
    paths = []
    for name, text in files.items():
        (root / name).write_text(text)
        paths.append(str(root / name))
    (root / "archive.zip").write_bytes(zbuf.getvalue())
    paths.append(str(root / "archive.zip"))
    (root / "link.txt").symlink_to(root / "chat.txt")
    paths.append(str(root / "link.txt"))
    paths.append(str(root / "missing.txt"))
    return paths


def _comparable(o: FileObservation) -> FileObservation:
    return dataclasses.replace(o, scan_seconds=None, cpu_seconds=None)


def _scanner(detector: Detector, key: bytes) -> Scanner:
    return Scanner(detector=detector, fingerprinter=Fingerprinter(key))


@pytest.mark.parametrize("use_ner", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_scan_many_equals_scan_each(tmp_path: Path, use_ner: bool) -> None:
    paths = _tree(tmp_path)
    detector = Detector(use_ner=use_ner)
    key = os.urandom(32)
    alone = [_scanner(detector, key).scan(p) for p in paths]
    together = _scanner(detector, key).scan_many(paths)
    assert [_comparable(o) for o in together] == [_comparable(o) for o in alone]
    assert [o.path for o in together] == paths
    statuses = {Path(o.path).name: o.status for o in together}
    assert statuses["link.txt"] is FileStatus.SKIPPED
    assert statuses["missing.txt"] is FileStatus.UNSCANNABLE
    assert sum(bool(o.findings) for o in together) >= 5


def test_scan_many_detects_once_and_fills_the_cache(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _tree(tmp_path)
    detector = Detector(use_ner=False)
    scanner = _scanner(detector, os.urandom(32))
    calls: list[int] = []
    real = detector.detect_many

    def counting(items: list[tuple[str, tuple[str, ...]]]) -> list[object]:
        calls.append(len(items))
        return list(real(items))

    monkeypatch.setattr(detector, "detect_many", counting, raising=False)
    first = scanner.scan_many(paths)
    # One call for all the small files' segments; big.txt is scanned alone (one
    # text per call), before the batch.
    assert sum(n > 1 for n in calls) == 1 and max(calls) >= 5
    assert scanner.cache is not None and len(scanner.cache) >= 5
    again = scanner.scan_many(paths)
    assert [_comparable(o) for o in again] == [_comparable(o) for o in first]


def test_detection_failure_falls_back_to_one_file_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _tree(tmp_path)
    detector = Detector(use_ner=False)
    key = os.urandom(32)
    alone = [_scanner(detector, key).scan(p) for p in paths]

    real = detector.detect_many

    def broken(items: list[tuple[str, tuple[str, ...]]]) -> list[object]:
        if len(items) > 1:          # the batch fails; detect() (one item) still works
            raise RuntimeError("batch failed")
        return list(real(items))

    monkeypatch.setattr(detector, "detect_many", broken, raising=False)
    together = _scanner(detector, key).scan_many(paths)
    assert [_comparable(o) for o in together] == [_comparable(o) for o in alone]


def test_submit_scan_batch_through_an_executor(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    executor = InlineExecutor(ScannerSpec(str(state), use_ner=False))
    got = submit_scan_batch(executor, paths).result()
    assert [o.path for o in got] == paths
    assert {Path(o.path).name for o in got if o.findings} >= {"chat.txt", "export.csv"}
