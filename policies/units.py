"""Durations (``10m``, ``24h``, ``7d``, ``1h30m``) and sizes (``512KiB``, ``10MB``),
parsed strictly: a retention period that parses to something unexpected deletes
data at the wrong time, so anything ambiguous is an error that says why."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
                   "m": timedelta(minutes=1), "s": timedelta(seconds=1)}
_UNIT_ORDER = "wdhms"
_DURATION_PART = re.compile(r"([0-9]+)([a-zA-Z]+)")
_DURATION_HINT = "a duration like 30s, 10m, 24h, 7d, 2w or 1h30m (units w, d, h, m, s)"
_MAX_DURATION = timedelta(days=100 * 366)

_SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE_NAMES = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
_SIZE = re.compile(r"([0-9]+)\s*([A-Za-z]*)")


def parse_duration(text: object) -> timedelta:
    """Parse ``1h30m`` into a timedelta. Units must be in descending order and
    appear once; no bare numbers, months or years (their length varies)."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected {_DURATION_HINT}, found {_kind(text)}")
    s = text.strip()
    if not s:
        raise ValueError(f"expected {_DURATION_HINT}, found an empty string")
    total, pos, last = timedelta(), 0, -1
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        number, unit = m.groups()
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown duration unit {unit!r} in {s!r}; expected {_DURATION_HINT}"
                             + ("; months and years vary in length, use days" if unit in
                                ("mo", "M", "y", "Y") else ""))
        rank = _UNIT_ORDER.index(unit)
        if rank <= last:
            raise ValueError(f"duration {s!r}: units must appear once, largest first")
        last, pos = rank, m.end()
        total += int(number) * _DURATION_UNITS[unit]
    if pos != len(s) or last < 0:
        raise ValueError(f"expected {_DURATION_HINT}, found {s!r}")
    if total > _MAX_DURATION:
        raise ValueError(f"duration {s!r} is longer than 100 years")
    return total


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration` for whole seconds (``1h30m``; days,
    not weeks, as people write retention periods: ``14d``)."""
    seconds = int(abs(delta).total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in _UNIT_ORDER[1:]:
        size = int(_DURATION_UNITS[unit].total_seconds())
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return ("-" if delta < timedelta() else "") + "".join(parts)


def parse_size(value: object) -> int:
    """Bytes from an integer or ``10MB`` / ``512KiB`` (SI and binary units)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 4096, 512KiB or 10MB, found {_kind(value)}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size of zero or more bytes, found {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size like 4096, 512KiB or 10MB, found {_kind(value)}")
    m = _SIZE.fullmatch(value.strip())
    unit = m.group(2).upper() if m else ""
    if not m or (unit and unit not in _SIZE_UNITS):
        raise ValueError(f"expected a size like 4096, 512KiB or 10MB (units {_SIZE_NAMES}), "
                         f"found {value!r}")
    return int(m.group(1)) * _SIZE_UNITS.get(unit, 1)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value} (add a unit)"
    return type(value).__name__
