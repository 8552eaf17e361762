"""A labeled PII set of realistic agent-scratch documents, generated from a seed.

Independent of the development set (presidio's synthetic sentences): other
templates (mail threads, chat transcripts, tool-call JSON caches, CSV
exports, agent logs, meeting notes, extracted forms), other formats (.txt,
.md, .json, .csv, .log) and other locales (names, streets, cities, postcodes
and phone numbers of en_US, en_GB, en_AU, de_DE, fr_FR, es_ES, it_IT, nl_NL,
drawn by Faker). Each document is built piece by piece, so every planted
value's span is known exactly. Nothing here is a real person's data.

The same seed gives the same set with the same Faker release (pinned in the
``test`` extra); the set is regenerated, never committed. Sample format: the
development set's (``full_text``, ``spans`` with ``entity_type``,
``start_position``, ``end_position``) plus ``file_name``.

A mail thread is a message pasted into a text file (as agents forward
them); a raw ``.eml`` is read as mail, its findings located by header and
part, not by file offset, so it cannot be scored here.

Gold labels: PERSON, STREET_ADDRESS (the street line), GPE (a city or
country), ZIP_CODE, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN (US
documents), IBAN_CODE, IP_ADDRESS.

Run: ``.venv/bin/python benchmarks/scratch_pii_set.py [--seed N] [--docs N]``
prints a summary (counts per label and kind), never a value.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

SEED = 20261207
DOCS = 600
LOCALES = ("en_US", "en_GB", "en_AU", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")


class Doc:
    """Text built piece by piece, with the span of every planted value."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[dict[str, Any]] = []

    def add(self, text: str) -> Doc:
        self.parts.append(text)
        self.length += len(text)
        return self

    def ent(self, label: str, value: str) -> Doc:
        self.spans.append({"entity_type": label, "start_position": self.length,
                           "end_position": self.length + len(value)})
        return self.add(value)

    def sample(self) -> dict[str, Any]:
        return {"full_text": "".join(self.parts), "spans": self.spans,
                "file_name": self.file_name}


class Person:
    """One fake person of one locale, with everything a document may mention."""

    def __init__(self, fake: Any, rng: random.Random, locale: str) -> None:
        self.locale = locale
        self.first, self.last = fake.first_name(), fake.last_name()
        self.name = f"{self.first} {self.last}"
        user = "".join(c for c in f"{self.first}.{self.last}".lower() if c.isascii()
                       and (c.isalnum() or c == "."))
        self.email = f"{user or 'user'}{rng.randint(1, 99)}@{fake.free_email_domain()}"
        self.phone = valid_phone(fake, locale)
        self.street = fake.street_address()
        self.city = fake.city()
        self.postcode = fake.postcode()
        self.state = fake.state_abbr() if locale == "en_US" else ""
        self.card = fake.credit_card_number(card_type=rng.choice(("visa16", "mastercard",
                                                                   "amex", "discover")))
        self.iban = fake.iban()
        self.ip = fake.ipv4_public()
        self.ssn = fake.ssn() if locale == "en_US" else ""


def valid_phone(fake: Any, locale: str, tries: int = 50) -> str:
    """A Faker phone number that is a valid number of the locale's country
    (Faker draws many that are not: no scanner should report those, so they
    would only be noise in the gold labels)."""
    import phonenumbers

    region = locale.split("_")[1]
    for _ in range(tries):
        raw = fake.phone_number()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return str(raw)
    example = phonenumbers.example_number(region)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def address(d: Doc, p: Person, sep: str = ", ") -> Doc:
    """The address block in the locale's order; street, city, postcode labelled."""
    d.ent("STREET_ADDRESS", p.street).add(sep)
    if p.locale == "en_US":
        return d.ent("GPE", p.city).add(f", {p.state} ").ent("ZIP_CODE", p.postcode)
    if p.locale in ("en_GB", "en_AU"):
        return d.ent("GPE", p.city).add(" ").ent("ZIP_CODE", p.postcode)
    return d.ent("ZIP_CODE", p.postcode).add(" ").ent("GPE", p.city)


def mail_thread(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("inbox/forwarded.txt")
    d.add("Forwarding the customer's message below.\n\n---------- Forwarded message ---------\n")
    d.add("From: ").ent("PERSON", a.name).add(" <").ent("EMAIL_ADDRESS", a.email).add(">\n")
    d.add("To: support <").ent("EMAIL_ADDRESS", "help@example.com").add(">\nSubject: ")
    d.add(rng.choice(["Change of address", "Refund request", "Order not delivered"]) + "\n\n")
    d.add(rng.choice(["Hello,", "Hi team,", "Good morning,"]) + "\n\n")
    d.add("Please send the replacement to my new address: ")
    address(d, a).add(".\nYou can reach me on ").ent("PHONE_NUMBER", a.phone)
    d.add(" during office hours. My colleague ").ent("PERSON", b.name)
    d.add(" will pick it up if I am away.\n\n")
    d.add(rng.choice(["Kind regards", "Best", "Thanks"]) + ",\n").ent("PERSON", a.first)
    return d.add("\n")


def transcript(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("transcript.md")
    d.add("# Call transcript\n\n**agent:** Thanks for calling, who am I speaking with?\n")
    d.add("**caller:** This is ").ent("PERSON", a.name).add(".\n")
    d.add("**agent:** Can you confirm the e-mail on the account?\n**caller:** It's ")
    d.ent("EMAIL_ADDRESS", a.email).add(".\n**agent:** And the billing address?\n**caller:** ")
    address(d, a).add(".\n")
    if a.ssn:
        d.add("**agent:** Last, your social security number please.\n**caller:** ")
        d.ent("US_SSN", a.ssn).add("\n")
    d.add("**agent:** I see a payment from ").ent("PERSON", b.name)
    d.add(" last week. Shall I note them as a second contact?\n**caller:** Yes, their number is ")
    d.ent("PHONE_NUMBER", b.phone).add(".\n")
    return d


def tool_json(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("tool-cache/crm_lookup.json")
    j = json.dumps
    d.add('{\n  "tool": "crm_lookup",\n  "request_id": "' + f"{rng.getrandbits(64):016x}")
    d.add('",\n  "result": {\n    "customer": {\n      "full_name": "')
    d.ent("PERSON", a.name).add('",\n      "email": "').ent("EMAIL_ADDRESS", a.email)
    d.add('",\n      "phone": ').add('"').ent("PHONE_NUMBER", a.phone).add('",\n')
    d.add('      "address": {\n        "street": "').ent("STREET_ADDRESS", a.street)
    d.add('",\n        "city": "').ent("GPE", a.city).add('",\n        "postcode": "')
    d.ent("ZIP_CODE", a.postcode).add('"\n      },\n      "payment": {"iban": "')
    d.ent("IBAN_CODE", a.iban).add('"},\n      "last_login_ip": "').ent("IP_ADDRESS", a.ip)
    d.add('"\n    },\n    "account_manager": "').ent("PERSON", b.name)
    d.add(f'",\n    "tier": {j(rng.choice(["gold", "silver"]))}\n  }}\n}}\n')
    return d


def csv_export(rng: random.Random, people: list[Person]) -> Doc:
    d = Doc("exports/customers.csv")
    d.add("customer_id,name,email,phone,street,city,postcode,card_number\n")
    for p in people:
        d.add(f"{rng.randint(10000, 99999)},")
        for label, value in (("PERSON", p.name), ("EMAIL_ADDRESS", p.email),
                             ("PHONE_NUMBER", p.phone), ("STREET_ADDRESS", p.street),
                             ("GPE", p.city), ("ZIP_CODE", p.postcode),
                             ("CREDIT_CARD", p.card)):
            out = io.StringIO()
            csv.writer(out).writerow([value])
            cell = out.getvalue().rstrip("\r\n")
            quoted = cell != value
            d.add('"' if quoted else "").ent(label, value).add('"' if quoted else "")
            d.add(",") if label != "CREDIT_CARD" else d.add("\n")
    return d


def agent_log(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("logs/agent.log")
    t = f"2026-11-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:"
    d.add(f"{t}01Z INFO session started\n{t}02Z INFO lookup customer email=")
    d.ent("EMAIL_ADDRESS", a.email).add(f"\n{t}03Z INFO request from ip=").ent("IP_ADDRESS", a.ip)
    d.add(f"\n{t}04Z WARN retry sending receipt to ").ent("PERSON", a.name)
    d.add(f"\n{t}05Z INFO charged card ending {a.card[-4:]} for order {rng.randint(1000, 9999)}")
    d.add(f"\n{t}06Z INFO escalated to ").ent("PERSON", b.name).add(" (")
    d.ent("EMAIL_ADDRESS", b.email).add(")\n")
    return d


def meeting_notes(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("notes/meeting.txt")
    d.add("Notes from the onboarding call\n\n")
    d.ent("PERSON", a.name).add(" joined from ").ent("GPE", a.city)
    d.add(rng.choice([" and asked about the contract renewal. ",
                      " to discuss the delayed shipment. "]))
    d.add(rng.choice(["She", "He", "They"]) + " wants invoices sent to ")
    d.ent("EMAIL_ADDRESS", a.email).add(" from now on. ")
    d.ent("PERSON", b.first).add(" will follow up by phone on ").ent("PHONE_NUMBER", b.phone)
    d.add(". Action items: update the shipping address to ")
    address(d, a).add(" and refund the last payment to ").ent("IBAN_CODE", a.iban).add(".\n")
    return d


def intake_form(rng: random.Random, a: Person, b: Person) -> Doc:
    d = Doc("extracted/intake-form.txt")
    d.add("APPLICATION FORM (extracted text)\n\nApplicant name: ").ent("PERSON", a.name)
    d.add("\nHome address: ").ent("STREET_ADDRESS", a.street).add("\n              ")
    if a.locale == "en_US":
        d.ent("GPE", a.city).add(f", {a.state} ").ent("ZIP_CODE", a.postcode)
    else:
        d.ent("ZIP_CODE", a.postcode).add(" ").ent("GPE", a.city)
    d.add("\nTelephone: ").ent("PHONE_NUMBER", a.phone).add("\nEmail: ").ent("EMAIL_ADDRESS",
                                                                             a.email)
    if a.ssn:
        d.add("\nSSN: ").ent("US_SSN", a.ssn)
    d.add("\nCard on file: ").ent("CREDIT_CARD", a.card)
    d.add("\nEmergency contact: ").ent("PERSON", b.name).add(", ").ent("PHONE_NUMBER", b.phone)
    return d.add("\n")


Kind = Callable[[random.Random, Person, Person], Doc]
KINDS: tuple[Kind, ...] = (mail_thread, transcript, tool_json, agent_log, meeting_notes,
                           intake_form)


def generate(seed: int = SEED, docs: int = DOCS) -> list[dict[str, Any]]:
    """``docs`` labeled documents; the same seed gives the same set."""
    from faker import Faker

    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, loc in enumerate(LOCALES):
        fakers[loc].seed_instance(seed + i)
    out = []
    for i in range(docs):
        loc = rng.choice(LOCALES)
        people = [Person(fakers[loc], rng, loc) for _ in range(2)]
        if i % 7 == 6:
            rows = [Person(fakers[loc], rng, loc) for _ in range(rng.randint(3, 12))]
            doc = csv_export(rng, rows)
        else:
            doc = rng.choice(KINDS)(rng, *people)
        sample = doc.sample()
        sample["file_name"] = f"session-{i // 50:02d}/{i:04d}-{doc.file_name.replace('/', '-')}"
        out.append(sample)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--docs", type=int, default=DOCS)
    args = ap.parse_args(argv)
    samples = generate(args.seed, args.docs)
    labels = Counter(s["entity_type"] for d in samples for s in d["spans"])
    kinds = Counter(d["file_name"].rsplit("-", 1)[-1] for d in samples)
    chars = sum(len(d["full_text"]) for d in samples)
    print(f"{len(samples)} documents, {chars} chars; labels: {dict(labels)}; kinds: {dict(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
