"""Fixtures for the encryption tests: a real keyring file in tmp_path, and a
helper that writes test files with a recognisable (fake) sensitive marker."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.crypto import Keyring, generate_keyring

# A well-known invalid SSN used as a marker: errors must never contain it.
MARKER = b"SSN 078-05-1120"


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    path = keys / "keyring"
    generate_keyring(path)
    return path


@pytest.fixture
def keyring(keyring_path: Path) -> Keyring:
    from daemon.crypto import load_keyring
    return load_keyring(keyring_path)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "scratch"
    d.mkdir()
    return d


@pytest.fixture
def make_file(data_dir: Path) -> Callable[[str, int], tuple[Path, bytes]]:
    def make(name: str, size: int) -> tuple[Path, bytes]:
        data = (MARKER + os.urandom(max(0, size - len(MARKER))))[:size]
        path = data_dir / name
        path.write_bytes(data)
        os.chmod(path, 0o640)
        return path, data
    return make
