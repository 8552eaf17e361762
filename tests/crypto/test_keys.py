"""Keyring loading, saving and the permission checks on key material."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from daemon.crypto import Keyring, add_active_kek, generate_keyring, load_credential, load_keyring
from daemon.crypto.keys import format_keyring_text
from scratchwarden.errors import KeyMaterialError


def test_generate_file_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring"
    kr = generate_keyring(path)
    assert re.fullmatch(r"kek-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}", kr.active_id)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = load_keyring(path)
    assert loaded == kr and len(loaded.active()[1]) == 32


def test_repr_never_shows_key_material(tmp_path: Path) -> None:
    kr = generate_keyring(tmp_path / "keyring")
    key = kr.active()[1]
    text = repr(kr) + str(kr)
    assert kr.active_id in text
    assert base64.b64encode(key).decode() not in text and key.hex() not in text


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    generate_keyring(tmp_path / "keyring")
    with pytest.raises(KeyMaterialError, match="refusing"):
        generate_keyring(tmp_path / "keyring")
    generate_keyring(tmp_path / "kdir", directory=True)
    with pytest.raises(KeyMaterialError, match="refusing"):
        generate_keyring(tmp_path / "kdir", directory=True)


def test_directory_keyring_round_trip_and_rotation(tmp_path: Path) -> None:
    kdir = tmp_path / "kdir"
    first = generate_keyring(kdir, directory=True)
    assert sorted(os.listdir(kdir)) == ["active", f"{first.active_id}.kek"]
    second = add_active_kek(kdir)
    assert second.active_id != first.active_id
    assert load_keyring(kdir) == second
    assert set(second.keys) == {first.active_id, second.active_id}
    for name in os.listdir(kdir):
        assert os.stat(kdir / name).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700, 0o660])
def test_key_file_with_loose_mode_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring"
    generate_keyring(path)
    os.chmod(path, mode)
    with pytest.raises(KeyMaterialError, match=f"expected mode 0400 or 0600, found {mode:04o}"):
        load_keyring(path)


def test_key_file_mode_0400_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "keyring"
    kr = generate_keyring(path)
    os.chmod(path, 0o400)
    assert load_keyring(path) == kr


def test_key_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    path = tmp_path / "keyring"
    generate_keyring(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(KeyMaterialError, match="expected owner uid 0, found 65534"):
        load_keyring(path)


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    generate_keyring(real)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(KeyMaterialError, match="symlink"):
        load_keyring(tmp_path / "link")


def test_key_dir_checks(tmp_path: Path) -> None:
    kdir = tmp_path / "kdir"
    kr = generate_keyring(kdir, directory=True)
    os.chmod(kdir / f"{kr.active_id}.kek", 0o644)
    with pytest.raises(KeyMaterialError, match="found 0644"):
        load_keyring(kdir)
    os.chmod(kdir / f"{kr.active_id}.kek", 0o600)
    os.chmod(kdir, 0o777)  # noqa: S103 -- the unsafe mode under test
    with pytest.raises(KeyMaterialError, match="not writable by group/others"):
        load_keyring(kdir)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


KEY = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(("text", "message"), [
    (f"version 1\nkek a {KEY}\n", "expected an 'active ID' line"),
    (f"version 1\nactive b\nkek a {KEY}\n", "active KEK 'b' is not in the keyring"),
    (f"active a\nkek a {KEY}\n", "expected 'version 1'"),
    ("version 1\nactive a\nkek a !!!notbase64\n", ":3: expected base64"),
    (f"version 1\nactive a\nkek a {base64.b64encode(b'k' * 16).decode()}\n",
     "expected a 32-byte key, found 16"),
    (f"version 1\nactive a\nkek a {KEY}\nkek a {KEY}\n", "listed twice"),
    (f"version 1\nactive a\nkek a {KEY} extra\n", ":3: expected 'version N'"),
    (f"version 1\nactive ../x\nkek ../x {KEY}\n", "KEK id '../x'"),
])
def test_malformed_keyring_is_refused_without_echoing_keys(tmp_path: Path, text: str,
                                                           message: str) -> None:
    with pytest.raises(KeyMaterialError) as e:
        load_keyring(_write(tmp_path / "keyring", text))
    assert message in str(e.value)
    assert KEY not in str(e.value)


def test_systemd_credential(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o500)
    kr = Keyring("kek-a", {"kek-a": os.urandom(32)})
    path = creds / "scratchwarden-keyring"
    path.write_text(format_keyring_text(kr))
    os.chmod(path, 0o400)
    assert load_credential("scratchwarden-keyring", {"CREDENTIALS_DIRECTORY": str(creds)}) == kr
    with pytest.raises(KeyMaterialError, match="CREDENTIALS_DIRECTORY is not set"):
        load_credential("scratchwarden-keyring", {})
    with pytest.raises(KeyMaterialError, match="plain file name"):
        load_credential("../keyring", {"CREDENTIALS_DIRECTORY": str(creds)})
    with pytest.raises(KeyMaterialError, match="not found"):
        load_credential("missing", {"CREDENTIALS_DIRECTORY": str(creds)})


def test_keyring_refuses_retiring_the_active_kek() -> None:
    kr = Keyring("kek-a", {"kek-a": os.urandom(32), "kek-b": os.urandom(32)})
    with pytest.raises(KeyMaterialError, match="is active"):
        kr.without("kek-a")
    assert set(kr.without("kek-b").keys) == {"kek-a"}
    with pytest.raises(KeyMaterialError, match="no KEK 'kek-c'"):
        kr.without("kek-c")
