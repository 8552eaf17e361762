"""The sensitivity level derived from entity types: pure, table-driven."""

from __future__ import annotations

import pytest

from inventory.sensitivity import Sensitivity, level_of_type, max_level, sensitivity_of

R, C, INT, N = (Sensitivity.RESTRICTED, Sensitivity.CONFIDENTIAL, Sensitivity.INTERNAL,
              Sensitivity.NONE)


@pytest.mark.parametrize("types,level", [
    ([], N),
    (["ORGANIZATION"], INT),
    (["LOCATION", "DATE_TIME", "URL"], INT),
    (["PERSON"], INT),
    (["PERSON", "LOCATION"], C),
    (["PERSON", "EMAIL_ADDRESS"], C),
    (["EMAIL_ADDRESS"], C),
    (["PHONE_NUMBER", "ORGANIZATION"], C),
    (["IP_ADDRESS"], C),
    (["US_DRIVER_LICENSE"], C),
    (["US_SSN"], R),
    (["CREDIT_CARD", "PERSON"], R),
    (["IBAN_CODE"], R),
    (["CRYPTO"], R),
    (["US_PASSPORT"], R),
    (["US_BANK_NUMBER"], R),
    (["PRIVATE_KEY"], R),
    (["AWS_ACCESS_KEY_ID"], R),
    (["AWS_SECRET_ACCESS_KEY"], R),
    (["GITHUB_TOKEN"], R),
    (["JWT"], R),
    (["PASSWORD"], R),
    (["DB_PASSWORD_ASSIGNMENT"], R),     # unknown, looks like a credential
    (["ACME_INTERNAL_TOKEN"], R),        # unknown *_TOKEN
    (["HUGGINGFACE_KEY"], R),            # unknown *_KEY
    (["SOMETHING_NEW"], C),              # unknown: fail closed, above internal
    (["email_address"], C),              # case does not matter
])
def test_levels(types: list[str], level: Sensitivity) -> None:
    assert sensitivity_of(types) == level


def test_caller_supplied_restricted_types() -> None:
    assert level_of_type("ACME_BADGE") == C
    assert level_of_type("ACME_BADGE", restricted={"ACME_BADGE"}) == R
    assert sensitivity_of(["ORGANIZATION", "ACME_BADGE"], restricted={"ACME_BADGE"}) == R


def test_order_and_max() -> None:
    assert [s.rank for s in (N, INT, C, R)] == [0, 1, 2, 3]
    assert max_level([INT, R, C]) == R
    assert max_level([]) == N
    assert R.value == "restricted"
