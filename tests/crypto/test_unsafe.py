"""What encryption refuses to touch, and files that change under it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.crypto import Keyring, decrypt_file, encrypt_file
from scratchwarden.errors import FileError, UnsafePath

MakeFile = Callable[[str, int], tuple[Path, bytes]]


def test_symlink_is_refused(make_file: MakeFile, keyring: Keyring, data_dir: Path) -> None:
    target, data = make_file("target", 1000)
    (data_dir / "link").symlink_to(target)
    with pytest.raises(UnsafePath) as e:
        encrypt_file(data_dir / "link", keyring)
    assert e.value.reason == "symlink"
    assert target.read_bytes() == data
    assert sorted(os.listdir(data_dir)) == ["link", "target"]


def test_hardlinked_file_is_refused(make_file: MakeFile, keyring: Keyring, data_dir: Path,
                                    tmp_path: Path) -> None:
    path, data = make_file("shared", 1000)
    os.link(path, tmp_path / "outside-root")
    with pytest.raises(UnsafePath) as e:
        encrypt_file(path, keyring)
    assert e.value.reason == "hardlinked" and "found 2" in str(e.value)
    assert path.read_bytes() == data and sorted(os.listdir(data_dir)) == ["shared"]


def test_fifo_and_directory_are_refused_without_blocking(keyring: Keyring,
                                                         data_dir: Path) -> None:
    os.mkfifo(data_dir / "pipe")
    (data_dir / "subdir").mkdir()
    for name in ("pipe", "subdir"):
        with pytest.raises(UnsafePath) as e:
            encrypt_file(data_dir / name, keyring)
        assert e.value.reason == "not-regular-file"


def test_symlinked_parent_directory_is_refused(make_file: MakeFile, keyring: Keyring,
                                               data_dir: Path, tmp_path: Path) -> None:
    path, data = make_file("f", 10)
    (tmp_path / "via").symlink_to(data_dir)
    with pytest.raises(UnsafePath):
        encrypt_file(tmp_path / "via" / "f", keyring)
    assert path.read_bytes() == data


def test_already_encrypted_and_existing_target(make_file: MakeFile, keyring: Keyring,
                                              data_dir: Path) -> None:
    path, data = make_file("r", 10)
    enc = encrypt_file(path, keyring)
    with pytest.raises(FileError) as e:
        encrypt_file(enc, keyring)
    assert e.value.reason == "already-encrypted"
    path.write_bytes(b"new plaintext")
    with pytest.raises(FileError) as e:
        encrypt_file(path, keyring)
    assert e.value.reason == "target-exists"
    with pytest.raises(FileError) as e:
        decrypt_file(enc, keyring)  # would overwrite the new plaintext
    assert e.value.reason == "target-exists"
    assert path.read_bytes() == b"new plaintext"
    assert sorted(os.listdir(data_dir)) == ["r", "r.swenc"]


@pytest.mark.parametrize("step", ["tmp-created", "tmp-written"])
def test_file_changed_while_encrypting(step: str, make_file: MakeFile, keyring: Keyring,
                                       data_dir: Path) -> None:
    path, data = make_file("busy.log", 300_000)

    def append(at: str) -> None:
        if at == step:
            with open(path, "ab") as f:
                f.write(b"more")

    with pytest.raises(FileError) as e:
        encrypt_file(path, keyring, hooks=append)
    assert e.value.reason == "changed-during-encryption"
    assert path.read_bytes() == data + b"more"
    assert sorted(os.listdir(data_dir)) == ["busy.log"]


def test_file_replaced_after_ciphertext_written(make_file: MakeFile, keyring: Keyring,
                                                data_dir: Path) -> None:
    """The name now holds another file: the stale ciphertext is dropped, the
    new file is kept."""
    path, _ = make_file("swap", 1000)

    def swap(at: str) -> None:
        if at == "dir-synced":
            path.unlink()
            path.write_bytes(b"replacement")

    with pytest.raises(FileError) as e:
        encrypt_file(path, keyring, hooks=swap)
    assert e.value.reason == "changed-during-encryption"
    assert path.read_bytes() == b"replacement"
    assert sorted(os.listdir(data_dir)) == ["swap"]
