"""The one place scratchwarden touches other libraries' private names.

Some fast paths re-implement a library's own loop or read its internals
(docs/adr/0003, 0006). Each such use is here, behind a version check against
the range it was tested with; outside that range, or when a name is gone,
the accessor says so (``None``, ``False``) and the caller takes the public
path, slower but exact. tests/scan/test_foreign.py compares each fast path
with its public path.

* phone matching (``recognizers/pii.py``): ``phonenumbers.phonenumbermatcher``'s
  ``_PATTERN`` and siblings, ``PhoneNumberMatcher._parse_and_verify``,
  ``phonenumberutil._extract_possible_number`` / ``_PLUS_CHARS_PATTERN``.
  Public path: ``PhoneNumberMatcher`` iterated as published, short numbers
  dropped after (``pii.public_matches``).
* trigger windows (``windows.py``): ``re._parser``, ``re._compiler``. Public
  path: no windows, the recognizer runs on the whole chunk.
* zip ratio while inflating (``extract/archives.py``): ``ZipExtFile``'s
  ``_compress_left`` and ``_decompressor``. Public path: the declared
  compressed size (the ratio check comes at the member's end).
* offline public-suffix list (``detect.py``, ``lean.py``): the module global
  ``tldextract.tldextract.TLD_EXTRACTOR``, ``tldextract.remote.lenient_netloc``.
  Public path: the environment variable alone; e-mail verdicts cached per
  matched string.

DOCX tables (``extract/documents.py``) are walked by python-docx's XML
element classes' public names (each ``w:tc`` once, whatever its grid span),
and the daemon's watcher (``daemon/node/watch.py``) uses watchdog's public
API only: neither has anything here.

Presidio's own seams are used where it has them: the context rule is a
``ContextAwareEnhancer`` (``fastcontext.FastContextEnhancer``) and the phone
recognizer is swapped with ``RecognizerRegistry.remove_recognizer``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata
from typing import IO, Any

import phonenumbers

Version = tuple[int, ...]

TESTED: dict[str, tuple[Version, Version]] = {
    "phonenumbers": ((8, 13), (10,)),
    "tldextract": ((5,), (6,)),
}
"""Distribution -> [lowest, highest) release its private names were tested with."""
TESTED_PYTHON: tuple[Version, Version] = ((3, 11), (3, 14))
"""``re._parser``/``re._compiler`` (renamed from ``sre_*`` in 3.11)."""


def parse_version(text: str) -> Version:
    """``"1.2.0rc1"`` -> ``(1, 2, 0)``: leading numeric parts only."""
    parts = []
    for piece in text.split("."):
        digits = piece[:len(piece) - len(piece.lstrip("0123456789"))]
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


def in_range(version: Version, tested: tuple[Version, Version]) -> bool:
    lo, hi = tested
    return lo <= version < hi


def tested(dist: str, version: str | None = None) -> bool:
    """True when the installed (or given) release of ``dist`` is in its tested range."""
    if version is None:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            return False
    return in_range(parse_version(version), TESTED[dist])


# --------------------------------------------------------------------------- re

def _re_internals() -> tuple[Any, Any] | tuple[None, None]:
    if not in_range(tuple(sys.version_info[:2]), TESTED_PYTHON):
        return None, None
    try:
        import re._compiler as compiler
        import re._parser as parser
    except ImportError:
        return None, None
    return parser, compiler


RE_PARSER, RE_COMPILER = _re_internals()
"""``re._parser`` and ``re._compiler``, or ``None`` (then no trigger windows)."""


# --------------------------------------------------------------------------- phonenumbers

_MATCHER_PARTS = ("_PATTERN", "_SECOND_NUMBER_START_PATTERN", "_INNER_MATCHES",
                  "_UNWANTED_END_CHAR_PATTERN", "_SLASH_SEPARATED_DATES", "_TIME_STAMPS",
                  "_TIME_STAMPS_SUFFIX")


def _phone_matcher() -> Any:
    module: Any = phonenumbers.phonenumbermatcher
    if not tested("phonenumbers"):
        return None
    if not all(hasattr(module, n) for n in _MATCHER_PARTS):
        return None
    if not callable(getattr(phonenumbers.PhoneNumberMatcher, "_parse_and_verify", None)):
        return None
    return module


PHONE_MATCHER: Any = _phone_matcher()
"""phonenumbers' matcher module, whose private patterns the shared candidate
search reads; ``None`` outside the tested range (public matcher then)."""
_EXTRACT_POSSIBLE: Any = getattr(phonenumbers.phonenumberutil, "_extract_possible_number", None)
_PLUS_CHARS: Any = getattr(phonenumbers.phonenumberutil, "_PLUS_CHARS_PATTERN", None)


def written_with_plus(candidate: str) -> bool | None:
    """Whether phonenumbers parses ``candidate`` from its own ``+`` country
    code (its ``_extract_possible_number``), or ``None`` when that cannot be
    asked (then the caller keys on the region too: exact, less sharing)."""
    if PHONE_MATCHER is None or _EXTRACT_POSSIBLE is None or _PLUS_CHARS is None:
        return None
    return _PLUS_CHARS.match(_EXTRACT_POSSIBLE(candidate)) is not None


class VerifyingMatcher(phonenumbers.PhoneNumberMatcher):
    """``PhoneNumberMatcher`` whose per-candidate parse (its private
    ``_parse_and_verify``) goes through :meth:`verify`, which subclasses
    override; :meth:`library_verify` is the library's own parse. Used only
    while ``PHONE_MATCHER`` is not ``None``."""

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        return self.verify(candidate, offset)

    def verify(self, candidate: str, offset: int) -> Any:
        return self.library_verify(candidate, offset)

    def library_verify(self, candidate: str, offset: int) -> Any:
        return super()._parse_and_verify(candidate, offset)


# --------------------------------------------------------------------------- zipfile


def zip_consumed(raw: IO[bytes], compress_size: int) -> Callable[[], int]:
    """Compressed bytes of a zip member consumed so far. ``ZipExtFile`` reads
    ahead (its ``_compress_left``) and keeps what the decompressor has not yet
    used (``unconsumed_tail``); without those, the declared compressed size,
    which only makes the ratio check later."""
    if not isinstance(getattr(raw, "_compress_left", None), int):
        return lambda: compress_size

    def consumed() -> int:
        tail = getattr(getattr(raw, "_decompressor", None), "unconsumed_tail", b"")
        return compress_size - int(getattr(raw, "_compress_left", 0)) - len(tail)
    return consumed


# --------------------------------------------------------------------------- tldextract


def make_tldextract_offline() -> None:
    """Make tldextract (Presidio's e-mail validator) work without network or disk.

    The environment variable covers extractors created later; the module-level
    extractor was built at import time, so, in the tested range, it is replaced
    by one that never fetches (no URLs), never caches and uses the bundled
    public suffix snapshot. Idempotent."""
    import os

    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    if not tested("tldextract"):
        return
    import tldextract.tldextract as tld

    current = getattr(tld, "TLD_EXTRACTOR", None)
    if current is None or getattr(current, "_scratchwarden_offline", False):
        return
    offline = tld.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    offline._scratchwarden_offline = True  # type: ignore[attr-defined]
    tld.TLD_EXTRACTOR = offline


def lenient_netloc() -> Callable[[str], str] | None:
    """tldextract's ``remote.lenient_netloc`` (the host part its extraction
    reads), or ``None`` outside the tested range."""
    if not tested("tldextract"):
        return None
    try:
        from tldextract.remote import lenient_netloc as netloc
    except ImportError:
        return None
    return netloc
