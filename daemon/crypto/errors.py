"""Errors of encryption at rest, as subclasses of the one hierarchy in
``scratchwarden.errors`` (they extend it; they do not replace it).

``CiphertextError`` is a ``FileError``: one encrypted file does not verify
(tampered, truncated, wrong key); the run goes on and the file is left as it is.
A missing KEK is a ``KeyMaterialError`` (operator) instead: every file wrapped
under that KEK is affected, not one.
"""

from __future__ import annotations

from scratchwarden.errors import FileError


class CiphertextError(FileError):
    """An encrypted file failed verification. ``reason`` is a stable code:
    ``bad-magic``, ``bad-header``, ``no-usable-key-slot``, ``key-slot-auth-failed``,
    ``chunk-auth-failed``, ``truncated``, ``trailing-data``. Never carries content."""
