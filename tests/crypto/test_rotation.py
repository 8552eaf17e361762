"""KEK rotation rewraps key slots in place (body and file header untouched);
the old KEK can then be retired, and files still decrypt with the new one alone."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.crypto import (
    Keyring,
    decrypt_file,
    encrypt_file,
    kek_usage,
    load_keyring,
    retire,
    rewrap_tree,
    rotate,
)
from daemon.crypto.format import BODY_OFFSET, HEADER_SIZE, SLOT_OFFSETS
from scratchwarden.errors import KeyMaterialError

MakeFile = Callable[[str, int], tuple[Path, bytes]]


def _encrypt_some(make_file: MakeFile, keyring: Keyring, data_dir: Path
                  ) -> dict[Path, bytes]:
    (data_dir / "sub").mkdir()
    originals = {}
    for name, size in [("a.txt", 0), ("b.pdf", 200_000), ("sub/c.json", 70_000)]:
        path, data = make_file(name, size)
        originals[encrypt_file(path, keyring)] = data
    return originals


def test_rotate_rewraps_headers_only_then_retire(make_file: MakeFile, keyring: Keyring,
                                                 keyring_path: Path, data_dir: Path,
                                                 tmp_path: Path) -> None:
    originals = _encrypt_some(make_file, keyring, data_dir)
    old_id = keyring.active_id
    shutil.copy2(keyring_path, tmp_path / "old-keyring")
    before = {p: p.read_bytes() for p in originals}

    report = rotate(keyring_path, [data_dir])
    assert report.active_id != old_id
    assert sorted(report.rewrapped) == sorted(originals) and not report.failed
    for path, raw in before.items():
        after = path.read_bytes()
        assert after[BODY_OFFSET:] == raw[BODY_OFFSET:]          # body unchanged
        assert after[:HEADER_SIZE] == raw[:HEADER_SIZE]          # file header unchanged
        assert after[SLOT_OFFSETS[0]:BODY_OFFSET] != raw[SLOT_OFFSETS[0]:BODY_OFFSET]
    assert set(kek_usage([data_dir]).by_kek) == {report.active_id}

    new_only = retire(keyring_path, old_id, roots=[data_dir])
    assert set(new_only.keys) == {report.active_id}
    assert load_keyring(keyring_path) == new_only
    for path, data in originals.items():
        assert decrypt_file(path, new_only).read_bytes() == data

    old_only = load_keyring(tmp_path / "old-keyring")
    path, _ = make_file("d", 10)
    enc = encrypt_file(path, new_only)
    with pytest.raises(KeyMaterialError, match=report.active_id):
        decrypt_file(enc, old_only)


def test_rewrap_is_idempotent(make_file: MakeFile, keyring: Keyring, keyring_path: Path,
                              data_dir: Path) -> None:
    originals = _encrypt_some(make_file, keyring, data_dir)
    report = rotate(keyring_path, [data_dir])
    again = rewrap_tree([data_dir], load_keyring(keyring_path))
    assert not again.rewrapped and sorted(again.already_current) == sorted(originals)
    assert report.active_id == again.active_id


def test_retire_refuses_while_in_use(make_file: MakeFile, keyring: Keyring,
                                     keyring_path: Path, data_dir: Path) -> None:
    _encrypt_some(make_file, keyring, data_dir)
    old_id = keyring.active_id
    from daemon.crypto import add_active_kek
    add_active_kek(keyring_path)  # new active KEK, but no rewrap yet
    with pytest.raises(KeyMaterialError, match="found 3"):
        retire(keyring_path, old_id, roots=[data_dir])
    with pytest.raises(KeyMaterialError, match="unchecked"):
        retire(keyring_path, old_id)
    assert old_id in load_keyring(keyring_path).keys


def test_hardlinked_ciphertext_is_not_rewrapped_and_blocks_retire(
        make_file: MakeFile, keyring: Keyring, keyring_path: Path, data_dir: Path,
        tmp_path: Path) -> None:
    enc = encrypt_file(make_file("x", 100)[0], keyring)
    os.link(enc, tmp_path / "elsewhere.swenc")
    raw = enc.read_bytes()
    report = rotate(keyring_path, [data_dir])
    assert report.failed and report.failed[0][0] == enc and "1 link" in report.failed[0][1]
    assert enc.read_bytes() == raw
    with pytest.raises(KeyMaterialError, match="could not be read"):
        retire(keyring_path, keyring.active_id, roots=[data_dir])


def test_explicit_file_list_for_retire(make_file: MakeFile, keyring: Keyring,
                                       keyring_path: Path, tmp_path: Path) -> None:
    """Files the inventory knows about outside the scanned roots count too."""
    enc = encrypt_file(make_file("x", 100)[0], keyring)
    from daemon.crypto import add_active_kek
    add_active_kek(keyring_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KeyMaterialError, match="found 1"):
        retire(keyring_path, keyring.active_id, roots=[empty], files=[enc])


def test_retire_refuses_when_a_root_cannot_be_listed(keyring: Keyring, keyring_path: Path,
                                                     tmp_path: Path) -> None:
    from daemon.crypto import add_active_kek
    add_active_kek(keyring_path)
    with pytest.raises(KeyMaterialError, match="could not be read"):
        retire(keyring_path, keyring.active_id, roots=[tmp_path / "no-such-root"])
    assert keyring.active_id in load_keyring(keyring_path).keys
