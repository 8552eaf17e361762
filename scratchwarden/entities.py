"""The one catalogue of entity types the scanner can report.

Each entry says, once: which recognizers emit the type (the names findings
carry in ``recognizer``), what triggers it, the sensitivity one occurrence
gives a file on its own, and the data class a policy puts it in by default.
Policy lint (is this type known?), sensitivity (how bad is it?), metrics (a
bounded label vocabulary) and the docs read this table; a test fails when a
recognizer emits a type that is not here.

Pure data: this module imports nothing from ``daemon``, ``inventory`` or
``policies`` (all three import it).

Levels: ``restricted`` (one occurrence harms on its own: credentials,
government and financial identifiers), ``confidential`` (direct identifiers
and contact data of a person), ``internal`` (context, not personal alone).
Classes: ``secrets``, ``restricted`` (government/financial identifiers),
``personal``, ``context``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Level = Literal["restricted", "confidential", "internal"]
DataClass = Literal["secrets", "restricted", "personal", "context"]

RESTRICTED: Final = "restricted"
CONFIDENTIAL: Final = "confidential"
INTERNAL: Final = "internal"


@dataclass(frozen=True, slots=True)
class EntityType:
    """One entity type: who emits it, what triggers it, how sensitive it is."""

    name: str
    level: Level
    data_class: DataClass
    recognizers: tuple[str, ...]
    trigger: str
    description: str

    @property
    def is_secret(self) -> bool:
        return self.data_class == "secrets"


def _e(name: str, level: Level, data_class: DataClass, recognizers: str, trigger: str,
       description: str) -> EntityType:
    return EntityType(name, level, data_class, tuple(recognizers.split()), trigger, description)


_P = "presidio"  # a recognizer shipped by presidio-analyzer (the name findings carry)

_TABLE: tuple[EntityType, ...] = (
    # ---------------------------------------------------------------- secrets (ours)
    _e("AWS_ACCESS_KEY_ID", RESTRICTED, "secrets", "AwsAccessKeyIdRecognizer",
       "AKIA/ASIA/... prefix + 16 chars", "AWS access key id"),
    _e("AWS_SECRET_ACCESS_KEY", RESTRICTED, "secrets", "AwsSecretAccessKeyRecognizer",
       "40 base64 chars next to an AWS key name or key id", "AWS secret access key"),
    _e("GCP_SERVICE_ACCOUNT_KEY", RESTRICTED, "secrets", "GcpServiceAccountKeyRecognizer",
       "private_key / private_key_id of a key file", "GCP service-account key"),
    _e("AZURE_STORAGE_KEY", RESTRICTED, "secrets", "AzureStorageKeyRecognizer",
       "88 base64 chars after AccountKey= or a storage key name", "Azure storage key"),
    _e("PRIVATE_KEY", RESTRICTED, "secrets", "PrivateKeyRecognizer",
       "-----BEGIN ... PRIVATE KEY----- with a body", "PEM/OpenSSH/PGP private key block"),
    _e("GITHUB_TOKEN", RESTRICTED, "secrets", "GitHubTokenRecognizer",
       "gh?_ / github_pat_ prefix (CRC32 checked)", "GitHub token"),
    _e("GITLAB_TOKEN", RESTRICTED, "secrets", "GitLabTokenRecognizer",
       "glpat- and other gl*- prefixes", "GitLab token"),
    _e("SLACK_TOKEN", RESTRICTED, "secrets", "SlackTokenRecognizer",
       "xox?- / xapp- prefix, hooks.slack.com URL", "Slack token or webhook"),
    _e("STRIPE_KEY", RESTRICTED, "secrets", "StripeKeyRecognizer",
       "sk_/rk_/whsec_ prefix", "Stripe secret key"),
    _e("JWT", RESTRICTED, "secrets", "JwtRecognizer",
       "eyJ... three segments, header decodes with alg", "signed JSON Web Token"),
    _e("PASSWORD_ASSIGNMENT", RESTRICTED, "secrets",
       "PasswordAssignmentRecognizer CommandPasswordRecognizer",
       "value of a password-like key, a password option or argument, netrc, password in a "
       "URL",
       "a password written into a file"),
    _e("API_KEY_ASSIGNMENT", RESTRICTED, "secrets", "ApiKeyAssignmentRecognizer",
       "random-looking value of a key/token/secret-like key, Authorization header",
       "an API key or token assigned to a named key"),
    _e("PASSWORD_HASH", RESTRICTED, "secrets", "PasswordHashRecognizer",
       "crypt/bcrypt/argon2/PBKDF2 hash formats, Kerberos and NTLM hash dumps",
       "a password hash (crackable offline)"),
    _e("API_TOKEN", RESTRICTED, "secrets", "PrefixedTokenRecognizer UrlSecretRecognizer",
       "short service prefix + 20+ generated chars (both cases, digits, entropy)",
       "an API token of a service without its own recognizer"),
    # ---------------------------------------------------------------- secrets (rule catalogue)
    _e("CREDENTIAL", RESTRICTED, "secrets", "kingfisher",
       "one of the bundled rules of the secret-scanner catalogue (the rule id is the "
       "finding's recognizer)", "a credential of a known service"),
    # ---------------------------------------------------------------- restricted identifiers
    _e("US_SSN", RESTRICTED, "restricted", "UsSsnRecognizer ColumnClassifier", "ddd-dd-dddd",
       "US SSN"),
    _e("US_ITIN", RESTRICTED, "restricted", "UsItinRecognizer", "9dd-dd-dddd", "US ITIN"),
    _e("US_PASSPORT", RESTRICTED, "restricted", "UsPassportRecognizer", "9 digits + context",
       "US passport number"),
    _e("US_BANK_NUMBER", RESTRICTED, "restricted", "UsBankRecognizer", "8-17 digits + context",
       "US bank account number"),
    _e("CREDIT_CARD", RESTRICTED, "restricted",
       "CreditCardRecognizer CardNumberContextRecognizer ColumnClassifier",
       "12-19 digits, Luhn",
       "payment card number"),
    _e("IBAN_CODE", RESTRICTED, "restricted", "IbanRecognizer ColumnClassifier",
       "country code + check digits",
       "IBAN"),
    _e("CRYPTO", RESTRICTED, "restricted", "CryptoRecognizer", "bitcoin address checksum",
       "crypto wallet address"),
    _e("UK_NHS", RESTRICTED, "restricted", "NhsRecognizer", "10 digits, mod 11", "NHS number"),
    _e("MEDICAL_LICENSE", CONFIDENTIAL, "personal", "MedicalLicenseRecognizer",
       "DEA number shape", "medical licence number"),
    # ---------------------------------------------------------------- personal
    _e("PERSON", INTERNAL, "personal",
       "SpacyRecognizer TitledPersonRecognizer ColumnClassifier",
       "NER, a title or label before a name, a name column", "a person's name"),
    _e("EMAIL_ADDRESS", CONFIDENTIAL, "personal", "EmailRecognizer ColumnClassifier",
       "@ + valid domain", "e-mail address"),
    _e("PHONE_NUMBER", CONFIDENTIAL, "personal",
       "PhoneRecognizer InternationalPhoneRecognizer ColumnClassifier",
       "7+ digits parsed by phonenumbers", "phone number"),
    _e("ADDRESS", CONFIDENTIAL, "personal", "StreetAddressRecognizer ColumnClassifier",
       "house number + street word, address column", "street address"),
    _e("US_DRIVER_LICENSE", CONFIDENTIAL, "personal",
       "UsLicenseRecognizer UsDriverLicenseContextRecognizer", "licence shape + context",
       "US driver licence"),
    _e("IP_ADDRESS", CONFIDENTIAL, "personal", "IpRecognizer ColumnClassifier", "IPv4/IPv6",
       "IP address"),
    _e("MAC_ADDRESS", CONFIDENTIAL, "personal", "MacAddressRecognizer", "hex pairs",
       "MAC address"),
    _e("DATE_OF_BIRTH", CONFIDENTIAL, "personal", "ColumnClassifier",
       "a date column named birth/dob", "date of birth"),
    # ---------------------------------------------------------------- context
    _e("LOCATION", INTERNAL, "context", "SpacyRecognizer PlaceRecognizer ColumnClassifier",
       "NER GPE/LOC/FAC, state and country names, a city column", "a place"),
    _e("NRP", INTERNAL, "context", "SpacyRecognizer", "NER NORP",
       "nationality, religious or political group"),
    _e("DATE_TIME", INTERNAL, "context", "SpacyRecognizer DateRecognizer", "NER, date shapes",
       "a date or time"),
    _e("ORGANIZATION", INTERNAL, "context", "SpacyRecognizer", "NER ORG", "an organisation"),
    _e("URL", INTERNAL, "context", "UrlRecognizer", "scheme or domain shape", "a URL"),
    _e("UUID", INTERNAL, "context", "UuidRecognizer", "8-4-4-4-12 hex", "a UUID"),
)

_EXTRA_RESTRICTED = (
    # Presidio recognizers for other countries (not registered for English by
    # default; a policy may name them, and a custom registry may emit them).
    "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "IT_VAT_CODE", "IT_PASSPORT",
    "IT_IDENTITY_CARD", "PL_PESEL", "SG_NRIC_FIN", "SG_UEN", "AU_ABN", "AU_ACN", "AU_TFN",
    "AU_MEDICARE", "IN_PAN", "IN_AADHAAR", "IN_VOTER", "IN_PASSPORT", "IN_GSTIN",
    "FI_PERSONAL_IDENTITY_CODE", "KR_RRN", "TH_TNIN", "UK_NINO", "US_MBI",
)
_EXTRA_PERSONAL = ("IN_VEHICLE_REGISTRATION", "IT_DRIVER_LICENSE")

_ELSEWHERE: tuple[tuple[str, Level, DataClass], ...] = (
    # Names other tools and custom recognizers use for the same things; no
    # recognizer of ours emits them, a policy may still name them.
    ("CRYPTO_KEY", RESTRICTED, "secrets"), ("PASSWORD", RESTRICTED, "secrets"),
    ("API_KEY", RESTRICTED, "secrets"), ("GENERIC_SECRET", RESTRICTED, "secrets"),
    ("CONNECTION_STRING", RESTRICTED, "secrets"), ("BEARER_TOKEN", RESTRICTED, "secrets"),
    ("SECRET", RESTRICTED, "secrets"),
    ("MEDICAL_RECORD_NUMBER", RESTRICTED, "restricted"),
    ("STREET_ADDRESS", CONFIDENTIAL, "personal"), ("UK_DRIVER_LICENSE", CONFIDENTIAL, "personal"),
    ("LICENSE_PLATE", CONFIDENTIAL, "personal"), ("USERNAME", CONFIDENTIAL, "personal"),
    ("AGE", INTERNAL, "context"), ("TITLE", INTERNAL, "context"),
)

ENTITY_TYPES: MappingProxyType[str, EntityType] = MappingProxyType(
    {e.name: e for e in _TABLE}
    | {n: EntityType(n, level, cls, (), "another tool's or a custom recognizer's name", n)
       for n, level, cls in _ELSEWHERE}
    | {n: EntityType(n, RESTRICTED, "restricted", (_P,), "Presidio's country recognizer",
                     "national identifier") for n in _EXTRA_RESTRICTED}
    | {n: EntityType(n, CONFIDENTIAL, "personal", (_P,), "Presidio's country recognizer",
                     "licence or registration") for n in _EXTRA_PERSONAL})
"""Every known entity type by name."""

KNOWN_TYPES: frozenset[str] = frozenset(ENTITY_TYPES)
SECRET_TYPES: frozenset[str] = frozenset(n for n, e in ENTITY_TYPES.items() if e.is_secret)


def names_at(level: Level) -> frozenset[str]:
    """The names of every type of this sensitivity level."""
    return frozenset(n for n, e in ENTITY_TYPES.items() if e.level == level)


def names_in(data_class: DataClass) -> frozenset[str]:
    """The names of every type whose default class is ``data_class``."""
    return frozenset(n for n, e in ENTITY_TYPES.items() if e.data_class == data_class)


def emitted_by(recognizer: str) -> frozenset[str]:
    """The types the recognizer of this name is declared to emit."""
    return frozenset(n for n, e in ENTITY_TYPES.items() if recognizer in e.recognizers)
