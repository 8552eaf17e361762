"""Fold a scan's findings into what the inventory keeps: per entity type a
count, the best score, the recognizers and the first few locations; and the
distinct fingerprints. Pure functions, no SQL.

Bounds (an agent's CSV can hold a million e-mail addresses): at most
``MAX_LOCATIONS`` locations per type, and at most ``MAX_FINGERPRINTS`` distinct
fingerprints per file; counts stay exact.

A fingerprint must look like what the scanner promises — a lowercase hex
keyed HMAC-SHA256, 64 characters. Anything else is refused, so a scanner bug
that passes a raw value cannot put it into the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from scratchwarden.errors import InventoryError
from scratchwarden.observations import Finding

MAX_LOCATIONS = 20
MAX_FINGERPRINTS = 10_000
MAX_ENTITY_TYPE = 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENTITY = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class TypeSummary:
    entity_type: str
    count: int
    max_score: float
    recognizers: list[str]
    locations: list[dict[str, int | str | None]]


def summarize(findings: Iterable[Finding]) -> list[TypeSummary]:
    by_type: dict[str, list[Finding]] = {}
    for f in findings:
        by_type.setdefault(check_entity_type(f.entity_type), []).append(f)
    return [_summary(t, fs) for t, fs in sorted(by_type.items())]


def _summary(entity_type: str, findings: list[Finding]) -> TypeSummary:
    ordered = sorted(findings, key=lambda f: (f.locator or "", f.start, f.end))
    locations = [_location(f) for f in ordered[:MAX_LOCATIONS]]
    return TypeSummary(entity_type, len(findings), max(f.score for f in findings),
                       sorted({f.recognizer for f in findings}), locations)


def _location(f: Finding) -> dict[str, int | str | None]:
    """Where a finding is: offsets in its unit, the unit's locator, and (text
    formats) its line, column and offset in the file. Never a value."""
    where: dict[str, int | str | None] = {"start": f.start, "end": f.end, "locator": f.locator}
    if f.line is not None:
        where.update(line=f.line, column=f.column, offset=f.offset)
    return where


def fingerprints(findings: Iterable[Finding]) -> dict[tuple[str, str], int]:
    """Distinct (entity type, hmac) pairs with their counts, bounded."""
    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        if f.fingerprint is None:
            continue
        key = (f.entity_type, check_fingerprint(f.entity_type, f.fingerprint))
        if key in counts or len(counts) < MAX_FINGERPRINTS:
            counts[key] = counts.get(key, 0) + 1
    return counts


def check_fingerprint(entity_type: str, fingerprint: str) -> str:
    """``value`` if it is a keyed HMAC fingerprint (64 hex characters).

    Raises:
        InventoryError: anything else (never echoed: it could be a value).
    """
    value = fingerprint.lower()
    if not _HEX64.fullmatch(value):
        # Never echo the string: it might be the very value we must not store.
        raise InventoryError(f"finding of type {entity_type}: expected a 64-character hex "
                             f"HMAC fingerprint, found {len(fingerprint)} characters that are "
                             f"not one; refusing to store it")
    return value


def check_entity_type(entity_type: str) -> str:
    """``value`` if it is an entity type name.

    Raises:
        InventoryError: anything else (never echoed).
    """
    if not _ENTITY.fullmatch(entity_type):
        raise InventoryError(f"finding: expected an entity type of letters, digits and _ (at most "
                             f"{MAX_ENTITY_TYPE}), found {len(entity_type)} characters that "
                             f"are not one")
    return entity_type
