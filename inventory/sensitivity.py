"""The sensitivity level of a file, derived from the entity types found in it.
A pure function: no I/O, no policy; the policy may still override per rule.

Levels, lowest to highest: none < internal < confidential < restricted.

* restricted: secrets and credentials, government and financial identifiers —
  one occurrence is enough to cause harm on its own.
* confidential: direct identifiers and contact data of a person (e-mail, phone,
  street address, driver's licence, IP address, date of birth ...), and a
  PERSON name seen together with a quasi-identifier (location, date, NRP, age).
* internal: context that is not personal on its own (ORGANIZATION, LOCATION,
  DATE_TIME, URL, a PERSON name alone ...).

Which type is at which level is declared in ``scratchwarden.entities``.
Fail closed: an entity type we do not know is *confidential*, and one that
looks like a credential (``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``,
``*CREDENTIAL*``) is *restricted*. The scanner's own secret types (its
``SECRET_ENTITIES``) are passed in by the caller as ``restricted=``: inventory
does not import the daemon.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable

from scratchwarden.entities import CONFIDENTIAL, INTERNAL, RESTRICTED, names_at


class Sensitivity(enum.StrEnum):
    NONE = "none"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = (Sensitivity.NONE, Sensitivity.INTERNAL, Sensitivity.CONFIDENTIAL,
          Sensitivity.RESTRICTED)

# Declared once, with every entity type, in the shared catalogue.
RESTRICTED_TYPES = names_at(RESTRICTED)
CONFIDENTIAL_TYPES = names_at(CONFIDENTIAL)
INTERNAL_TYPES = names_at(INTERNAL)

# A PERSON name next to one of these identifies someone: confidential.
QUASI_IDENTIFIERS = frozenset({"LOCATION", "DATE_TIME", "NRP", "AGE"})

_CREDENTIAL_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_KEY_ID")
_CREDENTIAL_WORDS = ("PASSWORD", "CREDENTIAL", "SECRET", "PRIVATE_KEY")


def level_of_type(entity_type: str, restricted: Collection[str] = ()) -> Sensitivity:
    """The level one entity type carries on its own."""
    name = entity_type.upper()
    if name in RESTRICTED_TYPES or name in restricted or _looks_like_credential(name):
        return Sensitivity.RESTRICTED
    if name in CONFIDENTIAL_TYPES:
        return Sensitivity.CONFIDENTIAL
    if name in INTERNAL_TYPES:
        return Sensitivity.INTERNAL
    return Sensitivity.CONFIDENTIAL  # unknown: fail closed


def sensitivity_of(entity_types: Iterable[str],
                   restricted: Collection[str] = ()) -> Sensitivity:
    """The level of a file whose findings have these entity types."""
    names = {t.upper() for t in entity_types}
    if not names:
        return Sensitivity.NONE
    level = max((level_of_type(n, restricted) for n in names), key=lambda s: s.rank)
    if level.rank < Sensitivity.CONFIDENTIAL.rank and "PERSON" in names \
            and names & QUASI_IDENTIFIERS:
        return Sensitivity.CONFIDENTIAL
    return level


def max_level(levels: Iterable[Sensitivity]) -> Sensitivity:
    return max(levels, key=lambda s: s.rank, default=Sensitivity.NONE)


def _looks_like_credential(name: str) -> bool:
    return name.endswith(_CREDENTIAL_SUFFIXES) or any(w in name for w in _CREDENTIAL_WORDS)
