"""The durable file primitives: nothing clobbered, nothing half-written left
behind, on real files in a temporary directory."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.platform import files
from daemon.platform.files import atomic_write, copy_durably, rename_noreplace, temp_file_at


@pytest.fixture
def dirfd(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


class _NoRenameat2:
    """A libc without renameat2: the primitive falls back to link + unlink."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.mark.parametrize("libc", ["renameat2", "link-unlink"])
def test_rename_noreplace_moves_between_directories_and_never_clobbers(
        tmp_path: Path, dirfd: int, libc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if libc == "link-unlink":
        import ctypes
        monkeypatch.setattr(ctypes, "CDLL", _NoRenameat2)
    (tmp_path / "sub").mkdir()
    sub = os.open(tmp_path / "sub", os.O_RDONLY | os.O_DIRECTORY)
    try:
        (tmp_path / "a").write_text("a")
        rename_noreplace(dirfd, "a", sub, "b")
        assert (tmp_path / "sub" / "b").read_text() == "a" and not (tmp_path / "a").exists()
        (tmp_path / "c").write_text("c")
        (tmp_path / "sub" / "d").symlink_to("/etc/passwd")
        with pytest.raises(FileExistsError):
            rename_noreplace(dirfd, "c", sub, "d")  # not even over a symlink
        with pytest.raises(FileExistsError):
            rename_noreplace(dirfd, "c", sub, "b")
        assert (tmp_path / "c").read_text() == "c" and (tmp_path / "sub" / "b").read_text() == "a"
    finally:
        os.close(sub)


def test_a_temp_file_is_removed_when_the_block_fails(tmp_path: Path, dirfd: int) -> None:
    with pytest.raises(RuntimeError), temp_file_at(dirfd, ".t") as fd:
        os.write(fd, b"half")
        raise RuntimeError("crash between write and rename")
    assert list(tmp_path.iterdir()) == []
    with temp_file_at(dirfd, ".t") as fd:
        os.write(fd, b"whole")
    assert (tmp_path / ".t").read_bytes() == b"whole"
    assert stat.S_IMODE((tmp_path / ".t").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError), temp_file_at(dirfd, ".t"):
        pass
    assert (tmp_path / ".t").read_bytes() == b"whole"  # someone else's: left alone


def test_copy_durably_keeps_content_mode_and_times(tmp_path: Path, dirfd: int) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 << 20) + b"tail")
    os.chmod(src, 0o640)
    os.utime(src, ns=(1_000_000_000, 2_000_000_000))
    fd = os.open(src, os.O_RDONLY)
    try:
        digest = copy_durably(fd, dirfd, "copy", os.fstat(fd))
    finally:
        os.close(fd)
    copy = tmp_path / "copy"
    assert copy.read_bytes() == src.read_bytes()
    assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640 and copy.stat().st_mtime_ns == 2_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "src"]


def test_copy_durably_never_replaces_and_leaves_no_temp(tmp_path: Path, dirfd: int) -> None:
    (tmp_path / "src").write_text("new")
    (tmp_path / "dst").write_text("old")
    fd = os.open(tmp_path / "src", os.O_RDONLY)
    try:
        with pytest.raises(FileExistsError):
            copy_durably(fd, dirfd, "dst", os.fstat(fd))
    finally:
        os.close(fd)
    assert (tmp_path / "dst").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_a_failed_atomic_write_keeps_the_old_content(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f"]
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new", clobber=False)
    assert target.read_bytes() == b"old"
