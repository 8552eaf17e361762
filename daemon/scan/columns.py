"""Structured data by meaning: a CSV column or a JSON key whose name and
sampled values say what it holds is classified once, and its cells are then
validated, not read by NER one by one.

Why: an agent's export is a table (``name,email,phone,address``). Cell by
cell, the detector runs NER on every name and city (most of a CSV's cost)
and still misses what a model cannot tell from one cell ("Jordan" alone, a
bare 9-digit number). The column's name says it; its sampled values confirm
it. So:

1. per column (CSV) or per key path with indices blanked (JSON, NDJSON:
   ``$.users[*].email``), up to ``SAMPLE`` non-empty values are sampled;
2. :func:`classify`: the column's normalised name matches one type's name
   rule and at least ``MIN_SHARE`` of the sampled values pass that type's
   validator; or, with no name rule, every sampled value passes a strict
   structural validator (e-mail, IBAN, card number with Luhn, IP address);
3. each cell of a classified column that passes the validator is a finding
   of the column's type (recognizer ``ColumnClassifier``) and is not
   scanned further; a cell that does not pass is scanned like any other.

Validators are exclusive on purpose: a name cell is 1-4 alphabetic words, an
address cell holds no ``@`` and no 7+-digit run, so a cell holding another
kind of value as well fails its validator and is scanned in full.

Pure functions: no I/O, nothing logged; values are only tested, never kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

SAMPLE = 64
MIN_SHARE = 0.8
MIN_VALUES_ONLY = 8
NAME_SCORE = 0.9
VALUES_SCORE = 0.85
RECOGNIZER = "ColumnClassifier"

Validator = Callable[[str], bool]

_EMAIL = re.compile(r"[^@\s<>(),;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){1,8}"
                    r"[A-Za-z]{2,24}")
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-/]{7,24}(?:\s?(?:x|ext\.?)\s?[0-9]{1,6})?")
_SSN = re.compile(r"([0-9]{3})-?([0-9]{2})-?([0-9]{4})")
_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")
_DATE = re.compile(r"(?:[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.]"
                   r"[0-9]{2,4})(?:[T ][0-9:.]{4,15}Z?)?")
_LONG_DIGITS = re.compile(r"[0-9][0-9 \-]{5,}[0-9]")
_TOKEN = re.compile(r"[^\s,;]{21,}|(?=[^\s,;]*[0-9])(?=[^\s,;]*[A-Za-z])[^\s,;]{9,}")
"""A word that could be a credential: 21+ characters, or 9+ mixing letters
and digits (house numbers like ``12B`` and postcodes like ``SW1A`` are short)."""


_PLAIN_LOCAL = re.compile(r"[A-Za-z][A-Za-z.'_+\-]{0,40}[0-9]{0,4}")


def is_email(v: str) -> bool:
    """An e-mail address whose local part is a name-like word with at most a
    4-digit suffix: nothing else can hide in it (other addresses are left to
    the detector)."""
    return _EMAIL.fullmatch(v) is not None and \
        _PLAIN_LOCAL.fullmatch(v.split("@", 1)[0]) is not None


def is_phone(v: str) -> bool:
    if _PHONE_CHARS.fullmatch(v) is None:
        return False
    return 7 <= sum(c.isdigit() for c in v) <= 15


def is_ssn(v: str) -> bool:
    m = _SSN.fullmatch(v)
    if m is None:
        return False
    area, group, serial = m.groups()
    return area not in ("000", "666") and not area.startswith("9") \
        and group != "00" and serial != "0000"


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def is_card(v: str) -> bool:
    digits = v.replace(" ", "").replace("-", "")
    return digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19 and luhn(digits)


def is_iban(v: str) -> bool:
    s = v.replace(" ", "").upper()
    # ASCII only: str.isalnum/isdigit admit letters and digits of any script
    # ("Ã", "²"), which int(c, 36) refuses
    if not (15 <= len(s) <= 34 and s.isascii() and s[:2].isalpha() and s[2:4].isdigit()
            and s.isalnum()):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return False
    return True


def is_name(v: str) -> bool:
    """1-4 alphabetic words (particles allowed), at least one capitalised;
    no digit, no ``@``."""
    words = v.split()
    if not 1 <= len(words) <= 4 or len(v) > 60 or any(c.isdigit() or c == "@" for c in v):
        return False
    return (all(_WORD.fullmatch(w.strip(",")) and len(w) <= 24 for w in words)
            and any(w[0].isupper() for w in words))


def is_place(v: str) -> bool:
    return is_name(v) and len(v) <= 40


def is_address(v: str) -> bool:
    """A street line or block: letters and a number, no ``@``, no 7+-digit run
    (a phone or an id would fail, and the cell is then scanned in full)."""
    return (5 <= len(v) <= 160 and "@" not in v and any(c.isdigit() for c in v)
            and _WORD.search(v) is not None and _LONG_DIGITS.search(v) is None
            and _TOKEN.search(v) is None)


def is_date(v: str) -> bool:
    return _DATE.fullmatch(v) is not None


@dataclass(frozen=True, slots=True)
class ColumnRule:
    entity: str
    name: re.Pattern[str]
    valid: Validator
    values_only: bool = False  # strict enough to classify a column by its values alone
    min_values: int = 1        # an ambiguous name needs this many sampled values


def _n(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Order matters: the first rule whose name matches is the column's candidate
# ("email_address" is an e-mail, "ip_address" an IP, "address" a street).
RULES: tuple[ColumnRule, ...] = (
    ColumnRule("EMAIL_ADDRESS", _n(r"e_?mail|(?:^|_)mail(?:_|$)"), is_email, True),
    ColumnRule("IP_ADDRESS", _n(r"(?:^|_)ip(?:_|$)|ip_?addr|remote_addr|client_ip|ipv[46]"),
               is_ip, True),
    ColumnRule("US_SSN", _n(r"(?:^|_)ssn(?:_|$)|social_?sec"), is_ssn),
    ColumnRule("CREDIT_CARD",
               _n(r"credit_?card|card_?(?:number|num|no)|(?:^|_)cc_?num|(?:^|_)pan$"),
               is_card, True),
    ColumnRule("IBAN_CODE", _n(r"iban"), is_iban, True),
    ColumnRule("PHONE_NUMBER", _n(r"phone|mobile|(?:^|_)cell(?:_|$)|(?:^|_)tel(?:ephone)?(?:_|$)"
                                  r"|(?:^|_)fax(?:_|$)|msisdn"), is_phone),
    ColumnRule("DATE_OF_BIRTH", _n(r"(?:^|_)dob(?:_|$)|birth|(?:^|_)born(?:_|$)"), is_date),
    ColumnRule("ADDRESS", _n(r"address|street|(?:^|_)addr(?:_|$)|address_?line|(?:^|_)line_?1$"),
               is_address),
    ColumnRule("PERSON", _n(r"(?:first|last|given|family|full|middle|sur|maiden|display|contact"
                            r"|customer|patient|employee|client|user|account|card_?holder"
                            r"|holder|owner|recipient|sender)_?name|^(?:customer|patient"
                            r"|employee|recipient|sender|cardholder|assignee|reviewer|approver"
                            r"|(?:account_|sales_)?manager|agent_name|account_owner|sales_rep)$"),
               is_name),
    # "name", "owner", "author", "contact" also name pipelines, teams and
    # products ("Nightly Build"): only many name-like values decide.
    ColumnRule("PERSON", _n(r"^(?:name|owner|author|contact)$"), is_name, min_values=5),
    ColumnRule("LOCATION", _n(r"(?:^|_)(?:city|town|country|state|province|region|county)"
                              r"(?:_|$)"), is_place),
)

NOT_A_PERSON = re.compile(
    r"(?:^|_)(?:product|item|sku|category|categories|department|status|type|kind|plan|tier"
    r"|brand|model|colou?r|size|sector|industry|company|organi[sz]ation|vendor|supplier"
    r"|manufacturer|currency|unit|level|priority|tag|label|team|project|service|region_code"
    r"|country_code|language|locale|channel|source|method|stage|phase)(?:_?name)?$")
"""Column names that say the values are not people or places (``product``,
``category``, ``company_name``): NER's person/place guesses in such a column
are dropped (spaCy reads "Desk Lamp" in a product column as a person)."""
QUIET = ""
"""The entity type of a ``Segment.known`` span that marks a quiet cell: not a
finding; NER's person/place findings inside it are dropped."""
NER_GUESSES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})
"""What a quiet cell's name rules out."""

COLUMN_TYPES: tuple[str, ...] = tuple(dict.fromkeys(r.entity for r in RULES))
"""Every type the classifier can report (all in the entity catalogue)."""


def normalise(name: str) -> str:
    """``"E-Mail Address"`` -> ``"e_mail_address"``; camelCase split."""
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classified column: its type, the score of its cells, the validator."""

    entity: str
    score: float
    valid: Validator


PERSONAL_SIBLINGS = re.compile(
    r"e_?mail|phone|mobile|address|street|birth|(?:^|_)dob(?:_|$)|(?:^|_)ssn(?:_|$)"
    r"|first_?name|last_?name|surname|gender|(?:^|_)age(?:_|$)")
"""Beside an ambiguous ``name``, these say the record is about a person."""
TECHNICAL_SIBLINGS = re.compile(
    r"(?:^|_)(?:schedule|cron|steps?|version|status|state|kind|command|cmd|image|repo"
    r"|repository|branch|commit|sha|url|uri|path|file|enabled|config|settings|timeout"
    r"|retries|runtime|job|pipeline|workflow|package|module|endpoint|method)(?:_|$)")
"""Beside an ambiguous ``name``, these say the record is a thing (a pipeline,
a package, a job): the name is quiet."""


def classify(name: str, sample: Sequence[str], siblings: Iterable[str] = ()) -> Verdict | None:
    """The column's type, from its name and sampled values, or None.
    ``siblings``: the other column names of its records (a JSON object's
    keys, a CSV header), which decide an ambiguous ``name`` with few values."""
    values = [v.strip() for v in sample if v.strip()][:SAMPLE]
    if not values:
        return None
    key = normalise(name)
    for rule in RULES:
        if key and rule.name.search(key):
            ok = sum(rule.valid(v) for v in values) >= MIN_SHARE * len(values)
            if ok and len(set(values)) >= rule.min_values:
                return Verdict(rule.entity, NAME_SCORE, rule.valid)
            if rule.min_values > 1:
                return _by_siblings(rule, ok, [normalise(s) for s in siblings])
            break  # the name names one type; its values say no
    if len(values) >= MIN_VALUES_ONLY:
        for rule in RULES:
            if rule.values_only and all(rule.valid(v) for v in values):
                return Verdict(rule.entity, VALUES_SCORE, rule.valid)
    if key and NOT_A_PERSON.search(key):
        return Verdict(QUIET, 0.0, _no_at_or_long_digits)
    return None


def _by_siblings(rule: ColumnRule, ok: bool, siblings: list[str]) -> Verdict | None:
    """An ambiguous name with too few values: a person's record (an e-mail
    or phone beside it) makes it a name column, a thing's record (a
    schedule, a version, a repo) makes it quiet; else it is scanned as is."""
    if ok and any(PERSONAL_SIBLINGS.search(s) for s in siblings):
        return Verdict(rule.entity, NAME_SCORE, rule.valid)
    if any(TECHNICAL_SIBLINGS.search(s) for s in siblings):
        return Verdict(QUIET, 0.0, _no_at_or_long_digits)
    return None


def _no_at_or_long_digits(value: str) -> bool:
    """A quiet cell holds no e-mail-like ``@`` and no 7+-digit run."""
    return "@" not in value and _LONG_DIGITS.search(value) is None


_INDEX = re.compile(r"\[[0-9]+\]")


def json_group(path: str) -> str:
    """A JSON leaf's column: its path with list indices blanked
    (``$.users[3].email`` -> ``$.users[*].email``)."""
    return _INDEX.sub("[*]", path)


class ColumnBook:
    """Samples values per column until :meth:`decide`, then says which cells
    are known. A column first seen after the decision is not classified."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._samples: dict[str, list[str]] = {}
        self._verdicts: dict[str, Verdict | None] = {}
        self._record: dict[str, str] = {}            # column -> its record group
        self._members: dict[str, set[str]] = {}      # record group -> column names

    def observe(self, column: str, name: str, value: object, record: str = "",
                container: str = "") -> None:
        """One value of ``column`` (named ``name``), in records of group
        ``record``, held under the key ``container`` (JSON: ``steps`` for
        ``$.steps[*].name``; it counts as a sibling name)."""
        if not isinstance(value, str):
            value = str(value)
        self._names.setdefault(column, name)
        if column not in self._record and len(self._record) < 4 * SAMPLE:
            self._record[column] = record
            members = self._members.setdefault(record, set())
            members.add(name)
            if container:
                members.add(container)
        sample = self._samples.setdefault(column, [])
        if len(sample) < SAMPLE and value.strip():
            sample.append(value)

    def decide(self) -> None:
        self._verdicts = {c: classify(self._names[c], s, self._siblings(c))
                          for c, s in self._samples.items()}
        self._samples = {}

    def _siblings(self, column: str) -> set[str]:
        group = self._record.get(column)
        return set() if group is None else self._members[group] - {self._names[column]}

    def known(self, column: str, value: object) -> Verdict | None:
        """The column's verdict when this cell passes its validator, else None."""
        verdict = self._verdicts.get(column)
        if verdict is None or not isinstance(value, str | int):
            return None
        return verdict if verdict.valid(str(value).strip()) else None


def known_span(unit: str, value: str) -> tuple[int, int]:
    """Where the stripped ``value`` sits in ``unit`` (``prefix + value + "\\n"``)."""
    start = len(unit) - 1 - len(value) + (len(value) - len(value.lstrip()))
    return start, start + len(value.strip())
