"""More credential recognizers, same model as ``secrets.py``: password hashes,
passwords handed to commands and APIs, and random tokens behind a short
service prefix.

The formats come from public specifications and manuals: crypt(3) and its
modular ``$id$`` prefixes (MD5-crypt, bcrypt, SHA-crypt, scrypt, yescrypt),
the PHC string format (argon2, pbkdf2), Kerberos roast outputs; the netrc
file format; the documented arguments of Windows' PsExec, PowerShell
cmdlets and .NET's ``NetworkCredential``/``DirectoryEntry``. No rule or
pattern of another scanner is copied.

Nothing here logs, stores or formats a matched value.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from daemon.scan.recognizers.secrets import (
    SecretRecognizer,
    _is_placeholder,
    looks_like_code,
    random_enough,
)

_B64C = r"[A-Za-z0-9./]"  # crypt's base64 alphabet


class PasswordHashRecognizer(SecretRecognizer):
    """Password hashes in the formats crypt(3) and password crackers use: one
    leaked hash is a password recovered offline. The whole hash is reported."""

    ENTITY = "PASSWORD_HASH"
    PATTERNS = (
        Pattern("md5-crypt / apr1",
                rf"(?<![\w$])\$(?:1|apr1)\${_B64C}{{1,8}}\${_B64C}{{22}}(?![\w./])", 0.85),
        Pattern("bcrypt", rf"(?<![\w$])\$2[abxy]?\$[0-9]{{2}}\${_B64C}{{53}}(?![\w./])", 0.9),
        Pattern("sha-crypt",
                rf"(?<![\w$])\$[56]\$(?:rounds=[0-9]{{1,9}}\$)?{_B64C}{{1,16}}\$"
                rf"{_B64C}{{43}}(?:{_B64C}{{43}})?(?![\w./])", 0.9),
        Pattern("scrypt / yescrypt / cisco type 8-9",
                rf"(?<![\w$])\$(?:7|8|9|y|gy)\${_B64C}{{1,64}}(?:\${_B64C}{{1,64}}){{1,2}}"
                r"(?![\w./$])", 0.8),
        Pattern("phc argon2 / pbkdf2",
                r"(?<![\w$])\$(?:argon2(?:id|i|d)|pbkdf2(?:-sha(?:1|256|512))?)"
                r"(?:\$[A-Za-z0-9=,+./\-]{1,128}){2,4}", 0.9),
        Pattern("kerberos roast",
                r"(?<![\w$])\$krb5(?:asrep|tgs|pa)\$[0-9]{1,2}\$[^\s$]{0,256}\$?"
                r"[0-9a-fA-F$]{32,8192}+", 0.9),
    )
    CONTEXT = ("hash", "password", "shadow", "passwd", "crypt")

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return False


_VALUE = r"""(?P<secret>[^\s"'`]{1,256}+)"""
_QUOTED_VALUE = r"""["'](?P<secret>[^"'\r\n]{1,256}+)["']"""
_ARG = r"""(?:"[^"\r\n]{0,256}"|'[^'\r\n]{0,256}'|[^\s"',]{1,256})"""


class CommandPasswordRecognizer(SecretRecognizer):
    """A password given to a program or an API rather than assigned to a key:
    a netrc entry (``machine H login U password P``), a command's user and
    password options (``-u U -p P``, ``-Password P``), the password argument
    of .NET's ``NetworkCredential(user, password)`` and
    ``DirectoryEntry(path, user, password)``, and a password quoted in a
    sentence (``the password is 'P'``). Only the password is reported."""

    ENTITY = "PASSWORD_ASSIGNMENT"
    PATTERNS = (
        Pattern("netrc login and password",
                r"(?<![A-Za-z0-9_\-])(?i:login)[ \t]{1,8}[^\s]{1,128}\s{1,40}(?i:password)"
                r"[ \t]{1,8}" + _VALUE, 0.7),
        Pattern("key word then quoted password",
                r"(?<![A-Za-z0-9_\-])(?i:password|passwd)[ \t]{1,8}" + _QUOTED_VALUE, 0.6),
        Pattern("user option then password option",
                r"(?<![A-Za-z0-9_])-(?i:u|user)[ \t]{1,4}[^\s]{1,128}[ \t]{1,4}-(?i:p)[ \t]{1,4}"
                + _VALUE, 0.6),
        Pattern("password option, single dash",
                r"(?<![A-Za-z0-9_\-])-(?i:password|passwd|pwd)[ \t:]{1,4}" + _VALUE, 0.55),
        Pattern("NetworkCredential(user, password)",
                r"NetworkCredential[ \t]*\([ \t]*" + _ARG + r"[ \t]*,[ \t]*" + _QUOTED_VALUE,
                0.7),
        Pattern("DirectoryEntry(path, user, password)",
                r"DirectoryEntry[ \t]*\([ \t]*" + _ARG + r"[ \t]*,\s{0,20}" + _ARG
                + r"[ \t]*,\s{0,20}" + _QUOTED_VALUE, 0.7),
        Pattern("config entry naming a password",
                r"""(?i:key)[ \t]*=[ \t]*"[^"\r\n]{0,64}(?i:password|passwd|pwd)"""
                r"""[^"\r\n]{0,32}"\s{1,8}"""
                r"""(?i:value)[ \t]*=[ \t]*"(?P<secret>[^"\r\n]{1,256}+)\"""", 0.7),
        Pattern("password quoted in a sentence",
                r"(?<![A-Za-z0-9_\-])(?i:password)(?:[ \t][^\r\n.:=]{0,48}?)?[ \t](?i:is|was)"
                r"[ \t]{1,4}[\"'“‘](?P<secret>[^\"'”’\r\n\s]{3,64})[\"'”’]", 0.55),
    )
    CONTEXT = ("password", "credentials", "login", "psexec", "netrc")
    MIN_LENGTH: ClassVar[int] = 4

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return (_is_placeholder(pattern_text, self.MIN_LENGTH)
                or looks_like_code(pattern_text) or pattern_text.startswith("%"))


_NOT_TOKEN_PREFIX = frozenset({
    "sha1", "sha256", "sha384", "sha512", "md5", "blake2b", "blake3", "base64", "data",
    "www", "http", "https", "com", "org", "net", "html", "json", "test", "tests", "src",
    "lib", "get", "set", "is", "has", "on", "to", "the", "my", "self", "this", "id",
})


class PrefixedTokenRecognizer(SecretRecognizer):
    """A generated token behind a short service prefix, the shape most API
    keys issued since ~2020 take (``<service>_<random>``, ``<svc>-<random>``,
    ``<svc>.<kind>.<random>``): reported when the random part looks
    generated (letters of both cases and digits, 20+ characters, entropy
    >= 4 bits per character), so a long identifier in code is not one."""

    ENTITY = "API_TOKEN"
    PATTERNS = (
        Pattern("prefixed random token",
                r"(?<![A-Za-z0-9_\-.])(?P<prefix>[a-z][a-z0-9]{1,9}|[A-Z]{2,6})"
                r"(?:[_\-.][a-z]{2,6})?[_\-.](?P<secret_part>[A-Za-z0-9_\-]{20,200}+)"
                r"(?![A-Za-z0-9_\-])", 0.5),
    )
    CONTEXT = ("token", "key", "api", "secret", "auth")

    def spans(self, compiled, text):  # type: ignore[no-untyped-def]
        for match in compiled.finditer(text, timeout=30.0):
            if match.group("prefix").lower() in _NOT_TOKEN_PREFIX:
                continue
            if _generated(match.group("secret_part")):
                yield match.span()

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return False


class UrlSecretRecognizer(SecretRecognizer):
    """Credentials that are a whole URL or an id-and-secret pair: an incoming
    webhook URL whose path holds a generated secret (anyone holding the URL
    can post), and a bot token of the form ``<numeric id>:<generated
    secret>``. The whole URL or token is reported."""

    ENTITY = "API_TOKEN"
    PATTERNS = (
        Pattern("webhook url with a secret path",
                r"""(?i:https?)://[A-Za-z0-9.\-]{3,253}(?::[0-9]{1,5})?/[^\s"'<>`]{0,200}?"""
                r"""(?i:webhooks?|hooks|incomingwebhook)/(?P<tail>[^\s"'<>`]{20,400}+)""", 0.6),
        Pattern("numeric id and generated secret",
                r"(?<![\w:])[0-9]{8,12}:(?P<tail>[A-Za-z0-9_\-]{30,60})(?![\w\-])", 0.55),
    )
    CONTEXT = ("webhook", "token", "bot", "url")

    def spans(self, compiled, text):  # type: ignore[no-untyped-def]
        for match in compiled.finditer(text, timeout=30.0):
            parts = match.group("tail").replace("@", "/").replace(":", "/").split("/")
            if any(random_enough(p.replace("-", ""), 16, 3.0) for p in parts):
                yield match.span()

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return False


def _generated(part: str) -> bool:
    """Letters of both cases and digits, 3+ of each, and >= 4 bits/char."""
    upper = sum(c.isupper() for c in part)
    lower = sum(c.islower() for c in part)
    digit = sum(c.isdigit() for c in part)
    return min(upper, lower, digit) >= 3 and random_enough(part, 20, 4.0)


CREDENTIAL_RECOGNIZERS: tuple[type[SecretRecognizer], ...] = (
    PasswordHashRecognizer,
    CommandPasswordRecognizer,
    PrefixedTokenRecognizer,
    UrlSecretRecognizer,
)
