"""Settling a directory after an interrupted encryption or decryption (crash,
SIGKILL, power loss): what the daemon's journal replay calls for each
directory it had an operation in flight in. It must not run while an
encryption in that directory is in progress.

Rules, none of which can lose data:

* a temp file (``.<name>.<16 hex>.swenc-tmp`` / ``.swdec-tmp``) is never the
  only copy (the source is removed only after the temp file was renamed), so it
  is deleted;
* ``x`` and ``x.swenc`` both present: the ciphertext is decrypted and compared
  with ``x`` in a stream. Equal: the non-preferred copy is removed (default
  ``prefer="encrypted"`` completes the encryption; a journal that knows a
  decryption was running passes ``prefer="plaintext"``). Not equal, or the
  ciphertext does not verify: both are kept and reported as a conflict.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from daemon.crypto.files import check_unchanged, iter_plaintext, open_regular
from daemon.crypto.format import SUFFIX
from daemon.crypto.keys import Keyring
from daemon.platform.files import open_dir
from scratchwarden.errors import ScratchwardenError

TMP_RE = re.compile(r"\..+\.[0-9a-f]{16}\.sw(enc|dec)-tmp\Z", re.DOTALL)
Prefer = Literal["encrypted", "plaintext"]


@dataclass
class RecoveryReport:
    removed_temp: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)

    def changed(self) -> bool:
        return bool(self.removed_temp or self.completed or self.rolled_back)


def recover(directory: str | os.PathLike[str], keyring: Keyring, *,
            prefer: Prefer = "encrypted") -> RecoveryReport:
    report = RecoveryReport()
    dir_fd = open_dir(directory)
    try:
        names = set(os.listdir(dir_fd))
        for name in sorted(n for n in names if TMP_RE.match(n)):
            os.unlink(name, dir_fd=dir_fd)
            report.removed_temp.append(name)
        for enc in sorted(n for n in names if n.endswith(SUFFIX) and n[: -len(SUFFIX)] in names):
            _settle_pair(dir_fd, enc[: -len(SUFFIX)], enc, keyring, prefer, report)
        if report.changed():
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return report


def recover_tree(root: str | os.PathLike[str], keyring: Keyring, *,
                 prefer: Prefer = "encrypted") -> RecoveryReport:
    """``recover`` for every directory under ``root`` (symlinks not followed)."""
    total = RecoveryReport()
    for dirpath, _dirs, _files in os.walk(root, followlinks=False):
        one = recover(dirpath, keyring, prefer=prefer)
        rel = Path(dirpath).relative_to(root)
        total.removed_temp += [str(rel / n) for n in one.removed_temp]
        total.completed += [str(rel / n) for n in one.completed]
        total.rolled_back += [str(rel / n) for n in one.rolled_back]
        total.conflicts += [(str(rel / n), why) for n, why in one.conflicts]
    return total


def _settle_pair(dir_fd: int, plain: str, enc: str, keyring: Keyring, prefer: Prefer,
                 report: RecoveryReport) -> None:
    try:
        plain_fd, plain_st = open_regular(dir_fd, plain, single_link=True)
    except (ScratchwardenError, OSError) as e:
        report.conflicts.append((plain, f"plaintext not settleable: {e}"))
        return
    try:
        enc_fd, enc_st = open_regular(dir_fd, enc, single_link=True)
    except (ScratchwardenError, OSError) as e:
        os.close(plain_fd)
        report.conflicts.append((plain, f"ciphertext not settleable: {e}"))
        return
    try:
        why = _difference(enc_fd, plain_fd, keyring)
        if why:
            report.conflicts.append((plain, why))
        elif prefer == "encrypted":
            check_unchanged(plain_fd, dir_fd, plain, plain_st)
            os.unlink(plain, dir_fd=dir_fd)
            report.completed.append(plain)
        else:
            check_unchanged(enc_fd, dir_fd, enc, enc_st)
            os.unlink(enc, dir_fd=dir_fd)
            report.rolled_back.append(plain)
    except ScratchwardenError as e:
        report.conflicts.append((plain, str(e)))
    finally:
        os.close(plain_fd)
        os.close(enc_fd)


def _difference(enc_fd: int, plain_fd: int, keyring: Keyring) -> str:
    """Empty when the ciphertext verifies and decrypts to exactly the plaintext;
    else why not (never the content)."""
    offset = 0
    try:
        for chunk in iter_plaintext(enc_fd, keyring):
            if os.pread(plain_fd, len(chunk), offset) != chunk:
                return f"plaintext differs from the ciphertext near byte {offset}"
            offset += len(chunk)
    except ScratchwardenError as e:
        return f"ciphertext does not verify: {e}"
    if os.pread(plain_fd, 1, offset):
        return "plaintext is longer than the ciphertext's content"
    return ""
