"""The credential recognizers of ``credentials.py`` and the stand-in filter:
table-driven positive and negative cases, every value synthetic (seeded RNG)
or a documented placeholder. Assertions compare offsets, never print values."""

from __future__ import annotations

import random
import string

import pytest

from daemon.scan.recognizers import credentials as cr
from daemon.scan.recognizers import secrets as sec

RNG = random.Random(20261207)
ALNUM = string.ascii_letters + string.digits
CRYPT = string.ascii_letters + string.digits + "./"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def token(n: int) -> str:
    """A generated token part: both cases and digits guaranteed."""
    while True:
        t = rand(n)
        if sum(c.isupper() for c in t) >= 3 and sum(c.islower() for c in t) >= 3 \
                and sum(c.isdigit() for c in t) >= 3:
            return t


BCRYPT = f"$2b$12${rand(53, CRYPT)}"
SHA512 = f"$6${rand(8, CRYPT)}${rand(86, CRYPT)}"
MD5CRYPT = f"$1${rand(8, CRYPT)}${rand(22, CRYPT)}"
ARGON = f"$argon2id$v=19$m=65536,t=3,p=4${rand(22)}${rand(43)}"
HEX = "0123456789abcdef"
ASREP = f"$krb5asrep$23$user@corp.test:{rand(32, HEX)}${rand(200, HEX)}"
NETPW = rand(12)
HOOK = f"https://hooks.chat.acme-corp.test/webhook/{rand(8, HEX)}-{rand(4, HEX)}/IncomingWebhook/" \
       f"{token(32)}"
BOT = f"{RNG.randint(10**8, 10**10)}:AA{token(33)}"
TOK = token(32)

# (id, recognizer, text, reported value or None)
CASES: list[tuple[str, type[sec.SecretRecognizer], str, str | None]] = [
    ("bcrypt-in-shadow-line", cr.PasswordHashRecognizer, f"alice:{BCRYPT}:19000:0:99999:7:::",
     BCRYPT),
    ("sha512-crypt", cr.PasswordHashRecognizer, f"root:{SHA512}:18000::", SHA512),
    ("md5-crypt-json", cr.PasswordHashRecognizer, f'{{"hash": "{MD5CRYPT}"}}', MD5CRYPT),
    ("argon2-phc", cr.PasswordHashRecognizer, f"pw_hash = '{ARGON}'", ARGON),
    ("kerberos-asrep", cr.PasswordHashRecognizer, f"{ASREP}\n", ASREP),
    ("hash-too-short", cr.PasswordHashRecognizer, f"$2b$12${rand(20, CRYPT)}", None),
    ("dollar-amounts", cr.PasswordHashRecognizer, "paid $1$ and then $6$ more", None),
    ("netrc", cr.CommandPasswordRecognizer, f"machine api.example.test\n  login bot\n"
     f"  password {NETPW}\n", NETPW),
    ("psexec-options", cr.CommandPasswordRecognizer,
     f"psexec \\\\host -u CORP\\admin -p {NETPW} cmd", NETPW),
    ("powershell-password", cr.CommandPasswordRecognizer,
     f"Connect-VIServer -Server vc -User admin -Password {NETPW}", NETPW),
    ("network-credential", cr.CommandPasswordRecognizer,
     f'new NetworkCredential("svc@corp.test", "{NETPW}");', NETPW),
    ("password-in-a-sentence", cr.CommandPasswordRecognizer,
     f"The default password for user 'ops' is '{NETPW}'.", NETPW),
    ("config-entry", cr.CommandPasswordRecognizer,
     f'<add key="SmtpPassword" value="{NETPW}"/>', NETPW),
    ("option-variable", cr.CommandPasswordRecognizer, "psexec -u User -p $Password cmd", None),
    ("option-placeholder", cr.CommandPasswordRecognizer, "run -u admin -p <password>", None),
    ("mkdir-p", cr.CommandPasswordRecognizer, "mkdir -p build/out && ssh -p 22 host", None),
    ("prefixed-token", cr.PrefixedTokenRecognizer, f"key: tvq-{TOK}\n", f"tvq-{TOK}"),
    ("prefixed-token-two-parts", cr.PrefixedTokenRecognizer, f"dp.st.{TOK}", f"dp.st.{TOK}"),
    ("long-identifier", cr.PrefixedTokenRecognizer,
     "test_handlesVeryLongCamelCaseNamesWithoutFailing_2", None),
    ("subresource-integrity", cr.PrefixedTokenRecognizer, f"sha384-{TOK}", None),
    ("lowercase-hex", cr.PrefixedTokenRecognizer, f"sgp_{rand(40, '0123456789abcdef')}", None),
    ("webhook-url", cr.UrlSecretRecognizer, f"url: {HOOK}\n", HOOK),
    ("webhook-docs-url", cr.UrlSecretRecognizer,
     "see https://docs.example.test/webhooks/getting-started-with-incoming", None),
    ("bot-token", cr.UrlSecretRecognizer, f"BOT={BOT}\n", BOT),
    ("timestamp-colon", cr.UrlSecretRecognizer, "1700000000:" + "a" * 35, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_credential_table(case: tuple[str, type[sec.SecretRecognizer], str, str | None]) -> None:
    name, cls, text, value = case
    results = cls().analyze(text, entities=[cls.ENTITY])
    spans = sorted((r.start, r.end) for r in results)
    if value is None:
        assert spans == [], f"{name}: expected nothing"
    else:
        start = text.index(value)
        assert spans == [(start, start + len(value))], f"{name}: reported spans differ"


@pytest.mark.parametrize("value", [
    "AKIAIOSFODNN7EXAMPLE",                          # AWS documentation
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",      # AWS documentation
    "sk_live_1234567890abcdefghij",                  # typed run
    "px-api-a1b2c3d4-e5f6-g7h8-i8j0-k0l3m3n4o0p5",   # interleaved typed run
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",       # filler
    "abababababababababab",                          # three characters or fewer
])
def test_documentation_examples_are_not_secrets(value: str) -> None:
    assert sec.documentation_example(value)
    assert sec.not_a_secret(value)


def test_generated_values_are_secrets() -> None:
    for _ in range(200):
        value = token(40)
        assert not sec.documentation_example(value)


def test_documentation_keys_are_not_reported_by_the_detector() -> None:
    """The issue's example: AWS's documented key pair is reported at no score."""
    from daemon.scan.detect import Detector

    text = ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    assert Detector(use_ner=False).detect(text) == []


@pytest.mark.parametrize("text,value", [
    ("  fbApiKey:            \"{v}\",", "{v}"),                 # aligned YAML/JS
    ("dotnet nuget push x --api-key {v} -s src", "{v}"),           # an option
    ("SECRET_KEY = '{v}'", "{v}"),                                  # a generated Django key
])
def test_api_key_assignment_shapes(text: str, value: str) -> None:
    v = token(30) + "!%(^x"
    text, value = text.format(v=v), value.format(v=v)
    results = sec.ApiKeyAssignmentRecognizer().analyze(text, ["API_KEY_ASSIGNMENT"])
    start = text.index(value)
    assert any((r.start, r.end) == (start, start + len(value)) for r in results)


def test_code_is_not_a_credential() -> None:
    for text in ('api_key = "" + getKey() + ""', 'token: "#{token}"', "secret = settings.X"):
        assert sec.ApiKeyAssignmentRecognizer().analyze(text, ["API_KEY_ASSIGNMENT"]) == []


def test_random_enough() -> None:
    assert sec.random_enough(rand(40, "0123456789abcdef"))
    assert not sec.random_enough("a" * 37 + "end")
    assert not sec.random_enough("correct horse battery staple 42")
    assert not sec.random_enough("abcdefghijklmnopqrst")  # no digit
