"""Folding findings into what the inventory keeps: exact counts, bounded
locations and fingerprints, refusal of anything that is not an HMAC."""

from __future__ import annotations

import pytest

from inventory.summarize import MAX_LOCATIONS, fingerprints, summarize
from scratchwarden.errors import InventoryError
from scratchwarden.observations import Finding


def f(kind: str, start: int, score: float = 0.5, fp: str | None = None,
      rec: str = "R", locator: str | None = None) -> Finding:
    return Finding(kind, start, start + 3, score, rec, locator=locator, fingerprint=fp)


def test_summary_per_type_is_exact_and_bounded() -> None:
    findings = [f("EMAIL_ADDRESS", i * 10, score=i / 100, rec=f"R{i % 2}") for i in range(50)]
    findings.append(f("US_SSN", 5, locator="sheet2"))
    email, ssn = summarize(reversed(findings))
    assert (email.entity_type, email.count, email.max_score) == ("EMAIL_ADDRESS", 50, 0.49)
    assert email.recognizers == ["R0", "R1"]
    assert len(email.locations) == MAX_LOCATIONS
    assert email.locations[0] == {"start": 0, "end": 3, "locator": None}
    assert ssn.locations == [{"start": 5, "end": 8, "locator": "sheet2"}]


def test_fingerprints_are_counted_and_normalised() -> None:
    a, b = "A" * 64, "b" * 64
    got = fingerprints([f("X", 0, fp=a), f("X", 1, fp=a.lower()), f("Y", 2, fp=b), f("Z", 3)])
    assert got == {("X", "a" * 64): 2, ("Y", b): 1}


def test_fingerprints_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inventory.summarize.MAX_FINGERPRINTS", 3)
    got = fingerprints([f("X", i, fp=f"{i:064x}") for i in range(10)] + [f("X", 99, fp="0" * 64)])
    assert len(got) == 3 and got[("X", "0" * 64)] == 2


@pytest.mark.parametrize("bad", ["123-45-6789", "g" * 64, "a" * 63, "a" * 65, ""])
def test_non_hmac_fingerprint_is_refused_without_echo(bad: str) -> None:
    with pytest.raises(InventoryError) as info:
        fingerprints([f("US_SSN", 0, fp=bad)])
    assert bad == "" or bad not in str(info.value)


@pytest.mark.parametrize("bad", ["", "john@example.org", "A" * 65, "WITH SPACE"])
def test_odd_entity_types_are_refused(bad: str) -> None:
    with pytest.raises(InventoryError, match="expected an entity type"):
        summarize([f(bad, 0)])
