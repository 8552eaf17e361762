"""Encrypting and decrypting one file: streaming (memory bounded by one chunk,
whatever the file size) and crash-safe.

Encrypted files get a suffix: ``report.pdf`` becomes ``report.pdf.swenc``, so
plaintext and ciphertext can coexist until the ciphertext is durable, and a
crash leaves either the plaintext, or both (``recover`` settles that), or the
finished ciphertext, never neither. ``encrypt_file`` steps, each reported to
``hooks`` (crash tests SIGKILL the process at each one)::

    tmp-created        .<name>.swenc.<16 hex>.swenc-tmp created 0600, same dir
    tmp-written        header, key slot, all chunks written
    tmp-synced         source unchanged (dev/ino/size/mtime/ctime/nlink), tmp fsynced
    renamed            tmp -> <name>.swenc (never clobbering: RENAME_NOREPLACE)
    dir-synced         directory fsynced: the ciphertext is durable
    plaintext-removed  source re-checked unchanged, then unlinked
    done               directory fsynced

``decrypt_file`` mirrors it (``.swdec-tmp``, ``ciphertext-removed``). Every
chunk is authenticated before its plaintext is written to the temp file, and the
temp file only gets the real name after the last chunk and the length check.

Refused (``UnsafePath``): a symlink, a non-regular file, a file with more than
one hard link (never modified in place: the other name may lie outside the
root). All operations are relative to a directory fd opened with O_NOFOLLOW on
its final component; the components above are the caller's to check against
its roots (``daemon.platform.files.is_within``).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from daemon.crypto.envelope import ChunkCipher, new_data_key, new_nonce_prefix, wrap_data_key
from daemon.crypto.format import (
    DEFAULT_CHUNK_SIZE,
    EMPTY_SLOT,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    SUFFIX,
    TAG_SIZE,
    FileHeader,
    header_hash,
)
from daemon.crypto.keys import Keyring
from daemon.crypto.slots import read_envelope, unlock
from daemon.platform.files import open_dir, rename_noreplace, temp_file_at
from scratchwarden.errors import CiphertextError, FileError, UnsafePath

Hook = Callable[[str], None]
ENCRYPT_STEPS = ("tmp-created", "tmp-written", "tmp-synced", "renamed", "dir-synced",
                 "plaintext-removed", "done")
DECRYPT_STEPS = ("tmp-created", "tmp-written", "tmp-synced", "renamed", "dir-synced",
                 "ciphertext-removed", "done")
ENC_TMP_SUFFIX = ".swenc-tmp"
DEC_TMP_SUFFIX = ".swdec-tmp"
_NAME_MAX = 255
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _no_hook(step: str) -> None:
    """Default hook: nothing."""


def tmp_name(target: str, suffix: str) -> str:
    """Hidden, unique, recognisable by ``recover``; the name part is cut so
    the result stays within NAME_MAX."""
    return f".{target[:200]}.{secrets.token_hex(8)}{suffix}"


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_nlink)


def open_regular(dir_fd: int, name: str, *, single_link: bool) -> tuple[int, os.stat_result]:
    """Open ``name`` in ``dir_fd`` read-only without following a symlink, and
    refuse anything but a regular file (and, for files we will replace, a file
    with other hard links).

    Raises:
        UnsafePath: a symlink, not a regular file, or hard-linked when ``single_link``.
    """
    try:
        fd = os.open(name, _READ_FLAGS | getattr(os, "O_NOATIME", 0), dir_fd=dir_fd)
    except PermissionError:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafePath("symlink", f"{name}: expected a regular file, found a "
                                        "symbolic link") from e
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (single_link and st.st_nlink != 1):
        os.close(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath("not-regular-file", f"{name}: expected a regular file")
        raise UnsafePath("hardlinked", f"{name}: expected 1 hard link, found {st.st_nlink}; "
                                       "a hard-linked file is never modified in place")
    return fd, st


def check_unchanged(fd: int, dir_fd: int, name: str, before: os.stat_result) -> None:
    """Whether the open file is still the one ``before`` describes.

    Raises:
        FileError: its size, mtime, inode or links changed (``changed-during-encryption``).
    """
    now = os.fstat(fd)
    try:
        named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        named = None
    if (_identity(now) != _identity(before) or named is None
            or (named.st_dev, named.st_ino) != (before.st_dev, before.st_ino)):
        raise FileError("changed-during-encryption",
                        f"{name}: size/mtime/inode/links changed while it was processed; "
                        "left as it is, retry when idle")


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _read_exact(fd: int, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = os.read(fd, size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _io_error(e: OSError, what: str) -> FileError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return FileError("no-space", f"{what}: {e.strerror}; the original is untouched")
    return FileError("io-error", f"{what}: {e.strerror}")


# --- encryption --------------------------------------------------------------

def _write_encrypted(src: int, dst: int, st: os.stat_result, keyring: Keyring,
                     chunk_size: int) -> None:
    header = FileHeader(chunk_size, new_nonce_prefix(), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, st.st_size, st.st_mtime_ns)
    raw = header.pack()
    hhash = header_hash(raw)
    data_key = new_data_key()
    slot = wrap_data_key(*keyring.active(), data_key, hhash)
    cipher = ChunkCipher(data_key, header, hhash)
    with os.fdopen(dst, "wb", closefd=False) as out:
        out.write(raw + slot.pack() + EMPTY_SLOT)
        for index in range(header.chunk_count()):
            want = header.chunk_plain_len(index)
            plain = _read_exact(src, want)
            if len(plain) != want:
                raise FileError("changed-during-encryption", "the file shrank while read")
            out.write(cipher.seal(index, plain))
        if os.read(src, 1):
            raise FileError("changed-during-encryption", "the file grew while read")


def encrypt_file(path: str | os.PathLike[str], keyring: Keyring, *,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, hooks: Hook | None = None) -> Path:
    """Encrypt ``path`` to ``path.swenc`` under the keyring's active KEK and
    remove the plaintext once the ciphertext is durable. Returns the new path.

    Raises:
        FileError: the name already ends in the suffix, would be too long, the file changed
            meanwhile, the target appeared, or I/O failed (the original is untouched).
        UnsafePath: a symlink, a special or a hard-linked file.
    """
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    src = Path(path)
    name, target = src.name, src.name + SUFFIX
    if name.endswith(SUFFIX):
        raise FileError("already-encrypted", f"{src}: name already ends in {SUFFIX}")
    if len(os.fsencode(target)) > _NAME_MAX:
        raise FileError("name-too-long", f"{src}: {target!r} would exceed {_NAME_MAX} bytes")
    hook = hooks or _no_hook
    try:
        dir_fd = open_dir(src.parent)
    except OSError as e:
        raise _io_error(e, f"open directory {src.parent}") from e
    try:
        _encrypt_in(dir_fd, name, target, keyring, chunk_size, hook)
    except OSError as e:
        raise _io_error(e, f"encrypt {src}") from e
    finally:
        os.close(dir_fd)
    return src.with_name(target)


def _encrypt_in(dir_fd: int, name: str, target: str, keyring: Keyring, chunk_size: int,
                hook: Hook) -> None:
    src_fd, before = open_regular(dir_fd, name, single_link=True)
    try:
        if _exists(dir_fd, target):
            raise FileError("target-exists", f"{target} already exists; run recover() on "
                                             "the directory to settle an interrupted run")
        tmp = tmp_name(target, ENC_TMP_SUFFIX)
        with temp_file_at(dir_fd, tmp) as tmp_fd:
            hook("tmp-created")
            _write_encrypted(src_fd, tmp_fd, before, keyring, chunk_size)
            hook("tmp-written")
            check_unchanged(src_fd, dir_fd, name, before)
            os.fsync(tmp_fd)
            hook("tmp-synced")
            _rename_into_place(tmp, target, dir_fd)
        hook("renamed")
        os.fsync(dir_fd)
        hook("dir-synced")
        _remove_plaintext(src_fd, dir_fd, name, target, before)
        hook("plaintext-removed")
        os.fsync(dir_fd)
        hook("done")
    finally:
        os.close(src_fd)


def _rename_into_place(tmp: str, target: str, dir_fd: int) -> None:
    try:
        rename_noreplace(dir_fd, tmp, dir_fd, target)
    except FileExistsError as e:
        raise FileError("target-exists", f"{target} appeared while writing; left it as "
                                         "it is") from e


def _remove_plaintext(src_fd: int, dir_fd: int, name: str, target: str,
                      before: os.stat_result) -> None:
    """Unlink the plaintext only if it is still the file we encrypted; if it
    changed after the ciphertext was written, the ciphertext is stale: drop it."""
    try:
        check_unchanged(src_fd, dir_fd, name, before)
    except FileError:
        os.unlink(target, dir_fd=dir_fd)
        os.fsync(dir_fd)
        raise
    os.unlink(name, dir_fd=dir_fd)


# --- decryption --------------------------------------------------------------

def iter_plaintext(fd: int, keyring: Keyring) -> Iterator[bytes]:
    """Yield the authenticated plaintext of an open encrypted file, chunk by
    chunk. Raises ``CiphertextError`` on any mismatch, including truncation and
    trailing bytes (checked up front from the authenticated header size, and
    again at the end).

    Raises:
        CiphertextError: a chunk does not authenticate, the file is cut short or has trailing bytes.
        KeyMaterialError: no KEK of the keyring opens a key slot.
    """
    env = read_envelope(fd)
    data_key, _ = unlock(env, keyring)
    header = env.header
    expected, found = header.encrypted_size(), os.fstat(fd).st_size
    if found != expected:
        code = "truncated" if found < expected else "trailing-data"
        raise CiphertextError(code, f"expected {expected} bytes for {header.size} plaintext "
                                    f"bytes, found {found}")
    cipher = ChunkCipher(data_key, header, env.hhash)
    offset = expected - header.size - TAG_SIZE * header.chunk_count()
    for index in range(header.chunk_count()):
        size = header.chunk_plain_len(index) + TAG_SIZE
        sealed = os.pread(fd, size, offset)
        if len(sealed) != size:
            raise CiphertextError("truncated", f"chunk {index} is cut short")
        offset += size
        yield cipher.open(index, sealed)
    if os.pread(fd, 1, offset):
        raise CiphertextError("trailing-data", "bytes after the last chunk")


def decrypt_file(path: str | os.PathLike[str], keyring: Keyring,
                 out_path: str | os.PathLike[str] | None = None, *,
                 hooks: Hook | None = None) -> Path:
    """Restore the plaintext of ``path`` (bytes, mode, mtime; owner when root).

    Without ``out_path``: restore in place, ``x.swenc`` -> ``x``, removing the
    ciphertext once the plaintext is durable. With ``out_path``: write there and
    keep the ciphertext. Never overwrites an existing file.

    Raises:
        FileError: the name does not end in the suffix, the target exists, or I/O failed.
        CiphertextError: the file does not verify (nothing is written).
        KeyMaterialError: no KEK of the keyring opens it.
    """
    src = Path(path)
    if out_path is None:
        if not src.name.endswith(SUFFIX) or src.name == SUFFIX:
            raise FileError("not-encrypted-name", f"{src}: expected a name ending in {SUFFIX}")
        out = src.with_name(src.name[: -len(SUFFIX)])
    else:
        out = Path(out_path)
    hook = hooks or _no_hook
    try:
        src_dir = open_dir(src.parent)
        try:
            out_dir = open_dir(out.parent)
        except BaseException:
            os.close(src_dir)
            raise
    except OSError as e:
        raise _io_error(e, f"open directories for {src}") from e
    try:
        _decrypt_in(src_dir, src.name, out_dir, out.name, keyring, out_path is None, hook)
    except OSError as e:
        raise _io_error(e, f"decrypt {src}") from e
    finally:
        os.close(src_dir)
        os.close(out_dir)
    return out


def _decrypt_in(src_dir: int, name: str, out_dir: int, out_name: str, keyring: Keyring,
                remove_src: bool, hook: Hook) -> None:
    src_fd, before = open_regular(src_dir, name, single_link=False)
    try:
        env = read_envelope(src_fd)
        if _exists(out_dir, out_name):
            raise FileError("target-exists", f"{out_name} already exists; not overwriting it")
        tmp = tmp_name(out_name, DEC_TMP_SUFFIX)
        with temp_file_at(out_dir, tmp) as tmp_fd:
            hook("tmp-created")
            with os.fdopen(tmp_fd, "wb", closefd=False) as out:
                for plain in iter_plaintext(src_fd, keyring):
                    out.write(plain)
            _restore_metadata(tmp_fd, env.header)
            hook("tmp-written")
            os.fsync(tmp_fd)
            hook("tmp-synced")
            _rename_into_place(tmp, out_name, out_dir)
        hook("renamed")
        os.fsync(out_dir)
        hook("dir-synced")
        if remove_src:
            check_unchanged(src_fd, src_dir, name, before)
            os.unlink(name, dir_fd=src_dir)
            hook("ciphertext-removed")
            os.fsync(src_dir)
        hook("done")
    finally:
        os.close(src_fd)


def _restore_metadata(fd: int, header: FileHeader) -> None:
    """Owner first (chown clears set-id bits), then mode, then times."""
    if os.geteuid() == 0:
        os.fchown(fd, header.uid, header.gid)
    os.fchmod(fd, header.mode)
    os.utime(fd, ns=(header.mtime_ns, header.mtime_ns))
