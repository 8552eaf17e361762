"""Strict durations and sizes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.units import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("10m", timedelta(minutes=10)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
    ("1h30m", timedelta(hours=1, minutes=30)), ("2w", timedelta(weeks=2)),
    ("30s", timedelta(seconds=30)), ("0s", timedelta(0)),
    ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
])
def test_valid_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize(("value", "message"), [
    (10, "found number 10 (add a unit)"),
    ("10", "found '10'"),
    ("", "found an empty string"),
    ("10min", "unknown duration unit 'min'"),
    ("1mo", "months and years vary in length"),
    ("1y", "months and years vary in length"),
    ("30m1h", "units must appear once, largest first"),
    ("1h1h", "units must appear once, largest first"),
    ("1h 30m", "found '1h 30m'"),
    ("-5m", "found '-5m'"),
    ("1.5h", "found '1.5h'"),
    (True, "found boolean True"),
    ("99999w", "longer than 100 years"),
])
def test_invalid_durations(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=None) as e:
        parse_duration(value)
    assert message in str(e.value)


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (4096, 4096), ("10MB", 10_000_000), ("512KiB", 524_288), ("1 GiB", 2**30),
    ("7b", 7), ("3kb", 3000),
])
def test_sizes(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["10 parsecs", "-1", -1, "1.5MB", True, 2.0, "MB"])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(value)
