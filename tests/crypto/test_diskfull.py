"""Disk full (ENOSPC) on a real 1 MiB tmpfs: the original stays intact and no
temp file is left behind, for encryption and decryption."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.crypto import Keyring, decrypt_file, encrypt_file
from scratchwarden.errors import FileError

pytestmark = pytest.mark.root


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_enospc_during_encrypt_keeps_plaintext(small_fs: Path, keyring: Keyring) -> None:
    plain = small_fs / "big.txt"
    data = os.urandom(700 * 1024)
    plain.write_bytes(data)
    with pytest.raises(FileError) as e:
        encrypt_file(plain, keyring)
    assert e.value.reason == "no-space"
    assert os.listdir(small_fs) == ["big.txt"] and plain.read_bytes() == data


def test_enospc_during_decrypt_keeps_ciphertext(small_fs: Path, keyring: Keyring) -> None:
    plain = small_fs / "mid.txt"
    data = os.urandom(400 * 1024)
    plain.write_bytes(data)
    enc = encrypt_file(plain, keyring)
    filler = small_fs / "filler"
    vfs = os.statvfs(small_fs)
    filler.write_bytes(b"\0" * (vfs.f_bavail * vfs.f_frsize - 200 * 1024))
    with pytest.raises(FileError) as e:
        decrypt_file(enc, keyring)
    assert e.value.reason == "no-space"
    assert sorted(os.listdir(small_fs)) == ["filler", "mid.txt.swenc"]
    filler.unlink()
    assert decrypt_file(enc, keyring).read_bytes() == data
