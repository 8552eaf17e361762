"""Encrypt then decrypt restores identical bytes and metadata, in bounded memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.crypto import Keyring, decrypt_file, encrypt_file
from daemon.crypto.format import BODY_OFFSET, DEFAULT_CHUNK_SIZE, MAGIC

MakeFile = Callable[[str, int], tuple[Path, bytes]]
CHUNK = DEFAULT_CHUNK_SIZE


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 1_000_003])
def test_round_trip_identical_bytes(size: int, make_file: MakeFile, keyring: Keyring) -> None:
    path, data = make_file("report.pdf", size)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    enc = encrypt_file(path, keyring)
    assert enc == path.with_name("report.pdf.swenc")
    assert not path.exists()
    raw = enc.read_bytes()
    assert raw.startswith(MAGIC)
    assert os.stat(enc).st_mode & 0o777 == 0o600
    if size >= len(b"SSN 078-05-1120"):
        assert b"SSN 078-05-1120" not in raw
    out = decrypt_file(enc, keyring)
    assert out == path and not enc.exists()
    assert path.read_bytes() == data
    st = os.stat(path)
    assert st.st_mode & 0o7777 == 0o640
    assert st.st_mtime_ns == 1_600_000_000_123_456_789
    assert sorted(os.listdir(path.parent)) == ["report.pdf"]


def test_decrypt_to_other_path_keeps_ciphertext(make_file: MakeFile, keyring: Keyring,
                                                tmp_path: Path) -> None:
    path, data = make_file("a.csv", 5000)
    enc = encrypt_file(path, keyring)
    out = decrypt_file(enc, keyring, tmp_path / "restored.csv")
    assert out.read_bytes() == data and enc.exists()


def test_small_chunk_size_round_trip(make_file: MakeFile, keyring: Keyring) -> None:
    path, data = make_file("b.bin", 4096 * 5 + 7)
    enc = encrypt_file(path, keyring, chunk_size=4096)
    assert enc.stat().st_size == BODY_OFFSET + len(data) + 16 * 6
    assert decrypt_file(enc, keyring).read_bytes() == data


def test_each_encryption_is_fresh(make_file: MakeFile, keyring: Keyring, data_dir: Path) -> None:
    """Same plaintext twice: different ciphertext (fresh data key and nonce prefix)."""
    p1, data = make_file("one", 10_000)
    p2 = data_dir / "two"
    p2.write_bytes(data)
    c1, c2 = encrypt_file(p1, keyring).read_bytes(), encrypt_file(p2, keyring).read_bytes()
    assert c1[BODY_OFFSET:] != c2[BODY_OFFSET:]


_CHILD = r"""
import resource, sys
from daemon.crypto import decrypt_file, encrypt_file, load_keyring
from pathlib import Path
kr = load_keyring(sys.argv[1]); src = Path(sys.argv[2])
warm = src.with_name("warm"); warm.write_bytes(b"x" * 200_000)
decrypt_file(encrypt_file(warm, kr), kr)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
decrypt_file(encrypt_file(src, kr), kr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


def test_50mb_round_trip_in_bounded_memory(keyring_path: Path, data_dir: Path) -> None:
    """A 50 MB file goes through encrypt + decrypt in a child process whose peak
    RSS grows by far less than the file size (one chunk at a time)."""
    path, digest = data_dir / "big.bin", hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(50):
            block = os.urandom(1 << 20)
            digest.update(block)
            f.write(block)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(keyring_path), str(path)],
                          capture_output=True, text=True, timeout=120, check=True)
    growth_kib = int(proc.stdout.strip())
    assert growth_kib < 16 * 1024, f"peak RSS grew by {growth_kib} KiB for a 50 MiB file"
    check = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            check.update(block)
    assert check.digest() == digest.digest()
