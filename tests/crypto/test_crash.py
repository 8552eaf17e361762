"""Crash safety: a child process SIGKILLs itself at every step of encrypt,
decrypt and rewrap. Right after the kill no data is lost (the plaintext is
intact or the ciphertext decrypts to it); ``recover`` then leaves exactly one
copy and no temp file.

SIGKILL proves process-level atomicity of each step; power-loss durability
rests on the fsync order (tmp fsync, rename, dir fsync, then unlink)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.crypto import (
    DECRYPT_STEPS,
    ENCRYPT_STEPS,
    Keyring,
    add_active_kek,
    decrypt_file,
    encrypt_file,
    kek_usage,
    load_keyring,
    recover,
    retire,
    rewrap_tree,
)
from scratchwarden.errors import KeyMaterialError

SIZE = 300_000

_CHILD = r"""
import os, signal, sys
from daemon import crypto
op, keyring_path, path, kill_at = sys.argv[1:5]
kr = crypto.load_keyring(keyring_path)
def hook(step):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
if op == "encrypt":
    crypto.encrypt_file(path, kr, hooks=hook)
elif op == "decrypt":
    crypto.decrypt_file(path, kr, hooks=hook)
else:
    crypto.rewrap_file(path, kr, hooks=hook)
"""


def _run_child(op: str, keyring_path: Path, path: Path, kill_at: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD, op, str(keyring_path), str(path),
                           kill_at], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _no_data_lost(plain: Path, data: bytes, keyring: Keyring, check_dir: Path) -> None:
    enc = plain.with_name(plain.name + ".swenc")
    plain_ok = plain.exists() and plain.read_bytes() == data
    enc_ok = False
    if enc.exists():
        out = check_dir / f"check-{len(os.listdir(check_dir))}"
        enc_ok = decrypt_file(enc, keyring, out).read_bytes() == data
    assert plain_ok or enc_ok


@pytest.mark.parametrize("step", ENCRYPT_STEPS)
def test_sigkill_during_encrypt(step: str, keyring_path: Path, keyring: Keyring,
                                data_dir: Path, tmp_path: Path) -> None:
    plain = data_dir / "report.pdf"
    data = os.urandom(SIZE)
    plain.write_bytes(data)
    _run_child("encrypt", keyring_path, plain, step)
    _no_data_lost(plain, data, keyring, tmp_path)

    report = recover(data_dir, keyring)
    assert not report.conflicts
    names = os.listdir(data_dir)
    if ENCRYPT_STEPS.index(step) < ENCRYPT_STEPS.index("renamed"):
        assert names == ["report.pdf"] and plain.read_bytes() == data
        assert len(report.removed_temp) == 1
    else:
        assert names == ["report.pdf.swenc"]
        assert decrypt_file(data_dir / "report.pdf.swenc", keyring).read_bytes() == data


@pytest.mark.parametrize("step", DECRYPT_STEPS)
def test_sigkill_during_decrypt(step: str, keyring_path: Path, keyring: Keyring,
                                data_dir: Path, tmp_path: Path) -> None:
    plain = data_dir / "t.csv"
    data = os.urandom(SIZE)
    plain.write_bytes(data)
    enc = encrypt_file(plain, keyring)
    _run_child("decrypt", keyring_path, enc, step)
    _no_data_lost(plain, data, keyring, tmp_path)

    report = recover(data_dir, keyring, prefer="plaintext")
    assert not report.conflicts
    names = os.listdir(data_dir)
    if DECRYPT_STEPS.index(step) < DECRYPT_STEPS.index("renamed"):
        assert names == ["t.csv.swenc"]
        assert decrypt_file(enc, keyring).read_bytes() == data
    else:
        assert names == ["t.csv"] and plain.read_bytes() == data


@pytest.mark.parametrize("step", ["slot-written", "old-slot-cleared"])
def test_sigkill_during_rewrap(step: str, keyring_path: Path, keyring: Keyring,
                               data_dir: Path, tmp_path: Path) -> None:
    plain = data_dir / "k.bin"
    data = os.urandom(SIZE)
    plain.write_bytes(data)
    enc = encrypt_file(plain, keyring)
    old_id = keyring.active_id
    rotated = add_active_kek(keyring_path)
    _run_child("rewrap", keyring_path, enc, step)

    # decryptable by either keyring generation right after the kill
    assert decrypt_file(enc, rotated, tmp_path / "a").read_bytes() == data
    if step == "slot-written":
        assert set(kek_usage([data_dir]).by_kek) == {old_id, rotated.active_id}
        assert decrypt_file(enc, keyring, tmp_path / "b").read_bytes() == data
        with pytest.raises(KeyMaterialError, match="found 1"):
            retire(keyring_path, old_id, roots=[data_dir])
    rewrap_tree([data_dir], rotated)  # re-running the rotation finishes it
    assert set(kek_usage([data_dir]).by_kek) == {rotated.active_id}
    new_only = retire(keyring_path, old_id, roots=[data_dir])
    assert decrypt_file(enc, new_only).read_bytes() == data
    assert load_keyring(keyring_path) == new_only


def test_recover_keeps_both_when_they_differ(keyring: Keyring, data_dir: Path) -> None:
    """The plaintext was written again after a crash: nothing is deleted."""
    plain = data_dir / "x"
    plain.write_bytes(b"first version")
    enc = encrypt_file(plain, keyring)
    plain.write_bytes(b"second version, newer")
    report = recover(data_dir, keyring)
    assert report.conflicts and report.conflicts[0][0] == "x"
    assert "differs" in report.conflicts[0][1] or "longer" in report.conflicts[0][1]
    assert "version" not in report.conflicts[0][1]
    assert sorted(os.listdir(data_dir)) == ["x", "x.swenc"] and enc.exists()


def test_recover_keeps_both_when_ciphertext_unverifiable(keyring: Keyring,
                                                         data_dir: Path) -> None:
    plain = data_dir / "y"
    plain.write_bytes(b"data")
    enc = encrypt_file(plain, keyring)
    plain.write_bytes(b"data")
    other = Keyring("kek-other", {"kek-other": os.urandom(32)})
    report = recover(data_dir, other)
    assert report.conflicts and "does not verify" in report.conflicts[0][1]
    assert sorted(os.listdir(data_dir)) == ["y", "y.swenc"] and enc.exists()
