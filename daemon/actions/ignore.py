"""Which paths the watcher and reconcile walks must not scan as new files.

The enforcer renames ``x`` to ``x.swenc`` and keeps the inventory row (it
follows the file: ``Store.mark_renamed``). Scanning the ciphertext would
replace the row's findings with "nothing found" (random bytes) and change the
decision. Temp files of daemon.crypto and of quarantine copies are transient.
A reconcile walk should still count a ``*.swenc`` file as present (mark it
seen), or it would end the row as vanished."""

from __future__ import annotations

import posixpath

from daemon.crypto import SUFFIX
from daemon.crypto.recovery import TMP_RE


def is_ciphertext(path: str) -> bool:
    return path.endswith(SUFFIX)


def is_transient(path: str) -> bool:
    name = posixpath.basename(path)
    return bool(TMP_RE.match(name)) or (name.startswith(".") and name.endswith(".data.tmp"))


def not_scanned(path: str) -> bool:
    """True for files the scanner must skip (see module doc)."""
    return is_ciphertext(path) or is_transient(path)
