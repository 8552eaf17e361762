"""Credential recognizers: one small declarative class per kind of secret.

Modelled on detect-secrets' plugins and Presidio's predefined recognizers: each
class is data (``ENTITY``, ``PATTERNS``, ``CONTEXT``) plus, where a regex alone
is too loose, a ``validate_result`` (structure proves it: a JWT header that
decodes to JSON with ``alg``, a GitHub token whose CRC32 checks) or an
``invalidate_result`` (placeholders such as ``changeme`` or ``${VAR}``).

Two things differ from Presidio's ``PatternRecognizer`` and are why
``SecretRecognizer.analyze`` is our own:

- A pattern may name a group ``secret``; the finding then covers only that
  group. ``password = "hunter22"`` reports the value, never the key name, so a
  redaction or a fingerprint is of the credential alone.
- A regex timeout fails closed: Presidio logs it and returns nothing (the file
  would look clean); we raise ``Unscannable("timeout")``.

Every regex is written to run in linear time on hostile input: quantifiers are
bounded (and possessive where the next token cannot be the same character),
there are no nested quantifiers, and a token that may start anywhere inside a
run is anchored with a look-behind so only the run's first character starts a
match. Regexes are compiled case-sensitively; key names use ``(?i:...)``.

Nothing here logs, stores or formats a matched value.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Iterator
from typing import ClassVar

import regex
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts

from scratchwarden.errors import Unscannable

REGEX_TIMEOUT_SECONDS = 30.0
"""Per pattern and text; far above what a linear regex needs on a 1 MB chunk."""

VALUE_GROUP = "secret"
"""A pattern's named group that delimits the reported value."""

_FLAGS = regex.MULTILINE | regex.VERSION0

# An assignment operator between a key and its value, with an optional closing
# quote of the key (``"password": ...``) and bounded spaces around it.
_ASSIGN = r"""["']?[ \t]{0,16}(?::=|=>|==|=|:)[ \t]{0,16}"""
# ... or, for a key name that is specific enough, plain spaces
# (``aws configure set aws_secret_access_key VALUE``).
_ASSIGN_OR_SPACE = r"""(?:["']?[ \t]{0,3}(?::=|=>|==|=|:)[ \t]{0,3}|[ \t]{1,3})"""


class SecretRecognizer(PatternRecognizer):
    """A Presidio pattern recognizer declared by class attributes.

    Subclasses set ``ENTITY``, ``PATTERNS`` and ``CONTEXT``. Validation follows
    Presidio: ``validate_result`` True raises the score to 1.0, False drops the
    match, None keeps the pattern's score; ``invalidate_result`` True drops it.
    Both receive only the reported value (the ``secret`` group).
    """

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[Pattern, ...]]
    CONTEXT: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=_FLAGS,
        )
        self.label = type(self).__name__
        self._compiled = [(p, regex.compile(p.regex, _FLAGS)) for p in self.PATTERNS]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Findings of ``ENTITY`` in ``text``. ``regex_flags`` is ignored: the
        patterns are written for exact case and their own flags."""
        if entities and self.ENTITY not in entities:
            return []
        results = [
            result
            for pattern, compiled in self._compiled
            for result in self._results(pattern, compiled, text)
        ]
        found: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return found

    def spans(self, compiled: regex.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
        """Where ``compiled`` finds a secret: the ``secret`` group if the
        pattern has one and it took part, else the whole match."""
        has_group = VALUE_GROUP in compiled.groupindex
        for match in compiled.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
            if has_group and match.start(VALUE_GROUP) >= 0:
                yield match.span(VALUE_GROUP)
            else:
                yield match.span()

    def _results(
        self, pattern: Pattern, compiled: regex.Pattern[str], text: str
    ) -> Iterator[RecognizerResult]:
        try:
            for start, end in self.spans(compiled, text):
                if start == end:
                    continue
                result = self._scored(pattern, text[start:end], start, end)
                if result is not None:
                    yield result
        except TimeoutError as e:
            raise Unscannable(
                "timeout",
                f"{self.label} pattern {pattern.name!r} ran longer than "
                f"{REGEX_TIMEOUT_SECONDS:g} s",
            ) from e

    def _scored(
        self, pattern: Pattern, value: str, start: int, end: int
    ) -> RecognizerResult | None:
        validated = self.validate_result(value)
        score = pattern.score
        if validated is not None:
            score = self.MAX_SCORE if validated else self.MIN_SCORE
        if self.invalidate_result(value) or documentation_example(value):
            score = self.MIN_SCORE
        if score <= self.MIN_SCORE:
            return None
        explanation = AnalysisExplanation(
            recognizer=self.label,
            original_score=pattern.score,
            pattern_name=pattern.name,
            pattern=pattern.regex,
            validation_result=validated,  # type: ignore[arg-type]  # None: not validated
            textual_explanation=f"Detected by `{self.label}` using pattern `{pattern.name}`",
            regex_flags=_FLAGS,
        )
        explanation.score = score
        return RecognizerResult(
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.label,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return _all_same_char(pattern_text)


# --------------------------------------------------------------------------- shared checks


def _all_same_char(value: str) -> bool:
    """``xxxxxxxx``-style fillers: the longest ``_``/``-``-separated part of
    the value (the random part of ``ghp_xxxx``) is one repeated character."""
    core = max(value.replace("-", "_").split("_"), key=len)
    return len(set(core)) <= 1


_DOC_MARKER = regex.compile(r"(?i)example|sample|dummy|placeholder|redacted", _FLAGS)
_DOC_MAX_CHARS = 512
_RUN = 6
"""This many consecutive ascending characters (``123456``, ``abcdef``), in the
value or in its letters or digits alone (``a1b2c3d4e5f6``), mark a typed-in
stand-in: a random token holds such a run with a chance of about one in
62^5 per position."""


def documentation_example(value: str) -> bool:
    """Values that documentation and templates show in place of a secret:
    one marked as such (AWS's ``AKIAIOSFODNN7EXAMPLE``, ``sk_live_sample...``),
    one whose random part is a filler (``xxxx``, ``0000``) or a typed run
    (``1234567890abcdef``), or one drawn from three characters or fewer."""
    if len(value) > _DOC_MAX_CHARS:
        return False  # a key block: its body is checked by its recognizer
    if _DOC_MARKER.search(value) is not None:
        return True
    core = max(value.replace("-", "_").replace(".", "_").split("_"), key=len)
    if len(core) >= 12 and len(set(core.lower())) <= 3:
        return True
    letters = "".join(c for c in value if c.isalpha())
    digits = "".join(c for c in value if c.isdigit())
    return max(_ascending_run(value), _ascending_run(letters), _ascending_run(digits)) >= _RUN


def _ascending_run(value: str) -> int:
    """The longest run of characters each one code point after the last."""
    best = run = 1
    for a, b in zip(value, value[1:], strict=False):
        run = run + 1 if ord(b) - ord(a) == 1 and b.isalnum() else 1
        best = max(best, run)
    return best if value else 0


def not_a_secret(value: str) -> bool:
    """True when a value some recognizer matched is a stand-in, not a secret:
    a documentation example or filler (:func:`documentation_example`), a
    template or variable reference, or a placeholder word."""
    return documentation_example(value) or _is_placeholder(value, 1)


def _mixed_case_random(value: str) -> bool:
    """A random base64 secret of 40+ chars has both cases; a hex digest does not."""
    return any(c.islower() for c in value) and any(c.isupper() for c in value)


_PLACEHOLDER_WORDS = frozenset({
    "changeme", "change_me", "change-me", "changeit", "password", "passwd", "passphrase",
    "secret", "example", "sample", "dummy", "placeholder", "redacted", "removed", "hidden",
    "masked", "none", "null", "nil", "true", "false", "undefined", "empty", "required",
    "optional", "string", "todo", "fixme", "default", "foobar", "notused", "unused",
    "api_key", "apikey", "token", "secret_key", "client_secret", "access_token",
    "your_password", "yourpassword", "your_api_key", "your_token", "your_secret",
})

# Whole-value shapes that stand for a secret without being one.
_PLACEHOLDER_RE = regex.compile(
    r"""<[^<>\r\n]{0,256}>"""                        # <password>
    r"""|\[[^\[\]\r\n]{0,256}\]"""                   # [REDACTED]
    r"""|\$\{[^{}\r\n]{0,256}\}"""                   # ${DB_PASSWORD}
    r"""|\$\([^()\r\n]{0,256}\)"""                   # $(pass show db)
    r"""|\$[A-Za-z_][A-Za-z0-9_]{0,255}"""           # $DB_PASSWORD
    r"""|%\([A-Za-z0-9_]{0,256}\)s"""                # %(password)s
    r"""|%[A-Za-z_][A-Za-z0-9_]{0,255}%"""           # %PASSWORD%
    r"""|\{\{[^\r\n]{0,256}\}\}"""                   # {{ password }}
    r"""|\{[A-Za-z_][A-Za-z0-9_.]{0,255}\}"""        # {password}
    r"""|[xX*•#._\-]{1,256}"""                       # xxxx, ****, ----
    r"""|(?i:your|enter|insert|replace|put)[ _\-][^\r\n]{0,250}"""   # your_password_here
    r"""|[^\r\n]{0,250}(?i:[ _\-]here)"""            # token_goes_here
    r"""|(?:/|~/|\./)[A-Za-z0-9_./\-]{0,255}"""      # a path, e.g. PWD=/home/user
    r"""|[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\r\n]{0,256}""",  # a URL (credentials: own pattern)
    _FLAGS,
)

# Values that refer to a secret kept elsewhere (code, templates).
_REFERENCE_RE = regex.compile(
    r"""\.\.\.|…|os\.environ|getenv|process\.env|\$\{\{|vault:|secretKeyRef"""
    r"""|^\$[{(]|^\{\{"""                      # ${VAR, $(cmd, {{ var (cut by the bare form)
    r"""|^[A-Za-z_][A-Za-z_]{0,100}[.(\[]""",  # settings.X, get_password(), env["X"]
    _FLAGS,
)


def _is_placeholder(value: str, min_len: int) -> bool:
    """True for values that are not a secret: too short, fillers, templates,
    variable references, or well-known stand-in words."""
    stripped = value.strip()
    return (
        len(stripped) < min_len
        or _all_same_char(stripped)
        or stripped.lower() in _PLACEHOLDER_WORDS
        or _PLACEHOLDER_RE.fullmatch(stripped) is not None
        or (_REFERENCE_RE.search(stripped) is not None
            and not random_enough(stripped, 20, 3.5))  # "s.<random>" is a token, not a path
    )


def _assignment_patterns(
    label: str, key: str, quoted_score: float, bare_score: float
) -> tuple[Pattern, ...]:
    """``<key> = "value"`` / ``'value'`` / bare value, for .env, YAML, JSON,
    shell and source code. ``key`` must match the END of the key name."""
    head = key + _ASSIGN
    return (
        Pattern(f"{label} (double-quoted)",
                head + r'"(?P<secret>[^"\r\n]{1,256}+)"', quoted_score),
        Pattern(f"{label} (single-quoted)",
                head + r"'(?P<secret>[^'\r\n]{1,256}+)'", quoted_score),
        Pattern(f"{label} (bare)",
                head + r"""(?P<secret>[^\s"'`,;}\]]{1,256}+)""", bare_score),
    )


# --------------------------------------------------------------------------- AWS


class AwsAccessKeyIdRecognizer(SecretRecognizer):
    """AWS access key ids: a 4-letter kind prefix and 16 upper-case base32-ish chars."""

    ENTITY = "AWS_ACCESS_KEY_ID"
    PATTERNS = (
        Pattern(
            "aws access key id",
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",
            0.85,
        ),
    )
    CONTEXT = ("aws", "access", "key", "id", "credentials", "iam")


_B64_40 = r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"


class AwsSecretAccessKeyRecognizer(SecretRecognizer):
    """AWS secret access keys: 40 base64 chars, only next to AWS context (a key
    name naming them, or an access key id on the same line), because 40 random
    chars alone are anything."""

    ENTITY = "AWS_SECRET_ACCESS_KEY"
    PATTERNS = (
        Pattern(
            "aws secret key assignment",
            r"(?i:aws)[A-Za-z0-9_.\-]{0,20}(?i:secret)[A-Za-z0-9_.\-]{0,20}"
            + _ASSIGN_OR_SPACE + r"""["']?""" + _B64_40,
            0.9,
        ),
        Pattern(
            "secret access key assignment",
            r"(?i:secret[_.\-]?access[_.\-]?key)" + _ASSIGN_OR_SPACE + r"""["']?""" + _B64_40,
            0.85,
        ),
        Pattern(
            "secret after access key id",
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])[^\r\n]{1,100}?" + _B64_40,
            0.7,
        ),
    )
    CONTEXT = ("aws", "secret", "access", "key", "credentials")

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return _all_same_char(pattern_text) or not _mixed_case_random(pattern_text)


# --------------------------------------------------------------------------- GCP, Azure


class GcpServiceAccountKeyRecognizer(SecretRecognizer):
    """The secret parts of a GCP service-account key file (JSON): its PEM
    ``private_key`` (newlines JSON-escaped) and its 40-hex ``private_key_id``."""

    ENTITY = "GCP_SERVICE_ACCOUNT_KEY"
    PATTERNS = (
        Pattern(
            "gcp private_key",
            r'"private_key"[ \t]{0,5}:[ \t]{0,5}"(?P<secret>-----BEGIN PRIVATE KEY-----'
            r"[A-Za-z0-9+/=\\]{40,16384}+-----END PRIVATE KEY-----(?:\\n)?)\"",
            0.9,
        ),
        Pattern(
            "gcp private_key_id",
            r'"private_key_id"[ \t]{0,5}:[ \t]{0,5}"(?P<secret>[a-f0-9]{40})"',
            0.7,
        ),
    )
    CONTEXT = ("service_account", "gserviceaccount", "client_email", "project_id")

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return _all_same_char(pattern_text) if len(pattern_text) == 40 else False


_B64_88 = r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{86}==)(?![A-Za-z0-9/+=])"


class AzureStorageKeyRecognizer(SecretRecognizer):
    """Azure storage account keys: 64 random bytes, 88 base64 chars ending
    ``==``, in a connection string or under a key name naming them."""

    ENTITY = "AZURE_STORAGE_KEY"
    PATTERNS = (
        Pattern("azure connection string AccountKey",
                r"(?i:AccountKey)[ \t]{0,3}=[ \t]{0,3}" + _B64_88, 0.9),
        Pattern(
            "azure storage key assignment",
            r"(?i:key)(?<=(?i:(?:azure|storage|account)[A-Za-z0-9_.\-]{0,30}key))[0-9]?"
            + _ASSIGN + r"""["']?""" + _B64_88,
            0.8,
        ),
    )
    CONTEXT = ("azure", "storage", "account", "accountkey", "windows")

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return _all_same_char(pattern_text[:-2]) or not _mixed_case_random(pattern_text)


# --------------------------------------------------------------------------- private keys

_PEM_MAX_BLOCK = 16_384
"""Longest body between BEGIN and END we pair (an 8192-bit RSA key is ~6.5 KB)."""
_PEM_BODY_WINDOW = 512
"""A 40-char base64 run must start within this many chars after the BEGIN line
(room for ``Proc-Type``/``DEK-Info`` headers of an encrypted PEM)."""

_PEM_END_RE = regex.compile(
    r"-----END (?P<kind>[A-Z0-9 ]{0,30})PRIVATE KEY(?: BLOCK)?-----", _FLAGS
)
# A run of 40 base64 chars, started only at the run's first char (linear).
_B64_RUN_RE = regex.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}", _FLAGS)
# A body without its END: base64, whitespace and JSON-escaped newlines.
_PEM_BODY_RE = regex.compile(
    r"(?:[A-Za-z0-9+/=\s]|\\[nr]){0," + str(_PEM_MAX_BLOCK) + "}+", _FLAGS
)


class PrivateKeyRecognizer(SecretRecognizer):
    """PEM / OpenSSH / PGP private key blocks. A BEGIN line counts when a
    base64 body follows it; the finding runs to the matching END line (within
    16 KiB) or, for a truncated block, to the end of the body. ``-----BEGIN
    RSA PRIVATE KEY-----`` followed by ``...`` (documentation) does not count."""

    ENTITY = "PRIVATE_KEY"
    PATTERNS = (
        Pattern(
            "private key block",
            r"-----BEGIN (?P<kind>[A-Z0-9 ]{0,30})PRIVATE KEY(?: BLOCK)?-----",
            0.95,
        ),
    )
    CONTEXT = ("private", "key", "pem", "ssh", "rsa")

    def spans(self, compiled: regex.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
        ends = list(_PEM_END_RE.finditer(text, timeout=REGEX_TIMEOUT_SECONDS))
        end_starts = [m.start() for m in ends]
        covered = 0
        next_run = -1  # start of the first base64 run after the last place searched
        for begin in compiled.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
            if begin.start() < covered:
                continue
            if next_run < begin.end():  # searching on from here keeps the scan linear
                run = _B64_RUN_RE.search(text, begin.end(), timeout=REGEX_TIMEOUT_SECONDS)
                next_run = run.start() if run else len(text) + _PEM_BODY_WINDOW + 1
            if next_run - begin.end() > _PEM_BODY_WINDOW:
                continue
            covered = self._block_end(text, begin, ends, end_starts)
            yield begin.start(), covered

    @staticmethod
    def _block_end(
        text: str, begin: regex.Match[str], ends: list[regex.Match[str]], end_starts: list[int]
    ) -> int:
        """After the END line matching ``begin``, or after the body if none follows."""
        i = bisect.bisect_left(end_starts, begin.end())
        if i < len(ends):
            end = ends[i]
            if (end.start() - begin.end() <= _PEM_MAX_BLOCK
                    and end.group("kind") == begin.group("kind")):
                return int(end.end())
        body = _PEM_BODY_RE.match(text, begin.end(), timeout=REGEX_TIMEOUT_SECONDS)
        return int(begin.end() + len(body.group().rstrip()))

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return False


# --------------------------------------------------------------------------- SaaS tokens

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62_decode(digits: str) -> int:
    value = 0
    for c in digits:
        value = value * 62 + _BASE62.index(c)
    return value


def github_checksum_ok(token: str) -> bool:
    """GitHub's prefixed tokens end in 6 base62 digits of the CRC32 of the
    random part (github.blog 2021-04-05, "behind GitHub's new token formats")."""
    body = token.split("_", 1)[-1]
    random_part, check = body[:-6], body[-6:]
    if len(random_part) < 1 or not check.isalnum() or not check.isascii():
        return False
    return _base62_decode(check) == binascii.crc32(random_part.encode("ascii"))


class GitHubTokenRecognizer(SecretRecognizer):
    """GitHub personal, OAuth, user-to-server, server-to-server and refresh
    tokens (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_``) and fine-grained
    personal tokens (``github_pat_``). A valid CRC32 raises the score to 1.0."""

    ENTITY = "GITHUB_TOKEN"
    PATTERNS = (
        Pattern("github token",
                r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}+(?![A-Za-z0-9_])", 0.85),
        Pattern("github fine-grained token",
                r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])",
                0.9),
    )
    CONTEXT = ("github", "token", "gh", "pat")

    def validate_result(self, pattern_text: str) -> bool | None:
        if not pattern_text.startswith("github_pat_") and github_checksum_ok(pattern_text):
            return True
        return None


class GitLabTokenRecognizer(SecretRecognizer):
    """GitLab tokens: personal/project/group (``glpat-``), deploy, runner,
    trigger, feed, OAuth and other ``gl*-`` prefixes, and runner registration
    tokens (``GR1348941``)."""

    ENTITY = "GITLAB_TOKEN"
    PATTERNS = (
        Pattern(
            "gitlab token",
            r"(?<![A-Za-z0-9_\-])(?:glpat|gldt|glrt|glptt|glft|glsoat|glffct|glcbt|glimt"
            r"|glagent|gloas|glwt)-[A-Za-z0-9_\-]{20,64}+"
            r"(?:\.[A-Za-z0-9]{2}\.[A-Za-z0-9]{6,12}+)?(?![A-Za-z0-9_\-])",
            0.85,
        ),
        Pattern("gitlab runner registration token",
                r"(?<![A-Za-z0-9_\-])GR1348941[A-Za-z0-9_\-]{20,64}+(?![A-Za-z0-9_\-])", 0.85),
    )
    CONTEXT = ("gitlab", "token", "private-token", "runner")


class SlackTokenRecognizer(SecretRecognizer):
    """Slack bot/user/app/config/refresh tokens and incoming-webhook URLs."""

    ENTITY = "SLACK_TOKEN"
    PATTERNS = (
        Pattern("slack token",
                r"(?<![A-Za-z0-9\-])xox[abposr]-[0-9]{1,16}-[A-Za-z0-9\-]{8,250}+", 0.85),
        Pattern("slack config/refresh token",
                r"(?<![A-Za-z0-9\-])xoxe(?:\.xox[bp])?-[0-9]-[A-Za-z0-9\-]{20,250}+", 0.85),
        Pattern("slack app token",
                r"(?<![A-Za-z0-9\-])xapp-[0-9]-[A-Za-z0-9\-]{20,250}+", 0.85),
        Pattern(
            "slack webhook url",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{20,48}+",
            0.85,
        ),
    )
    CONTEXT = ("slack", "token", "bot", "webhook")


class StripeKeyRecognizer(SecretRecognizer):
    """Stripe secret and restricted API keys and webhook signing secrets.
    Publishable keys (``pk_``) are public by design and not reported."""

    ENTITY = "STRIPE_KEY"
    PATTERNS = (
        Pattern("stripe live key",
                r"(?<![A-Za-z0-9_])[sr]k_live_[A-Za-z0-9]{10,247}+(?![A-Za-z0-9_])", 0.9),
        Pattern("stripe test key",
                r"(?<![A-Za-z0-9_])[sr]k_test_[A-Za-z0-9]{10,247}+(?![A-Za-z0-9_])", 0.6),
        Pattern("stripe webhook secret",
                r"(?<![A-Za-z0-9_])whsec_[A-Za-z0-9]{24,128}+(?![A-Za-z0-9_])", 0.8),
    )
    CONTEXT = ("stripe", "key", "secret", "webhook")


# --------------------------------------------------------------------------- JWT


def _b64url_json(segment: str) -> object:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


class JwtRecognizer(SecretRecognizer):
    """Signed JSON Web Tokens: three base64url segments whose header decodes
    to a JSON object with ``alg``; anything else that merely looks like one is
    dropped."""

    ENTITY = "JWT"
    PATTERNS = (
        Pattern(
            "jwt",
            r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,2048}+\.[A-Za-z0-9_\-]{4,16384}+"
            r"\.[A-Za-z0-9_\-]{16,2048}+(?![A-Za-z0-9_\-])",
            0.6,
        ),
    )
    CONTEXT = ("jwt", "token", "bearer", "authorization", "id_token", "access_token")

    def validate_result(self, pattern_text: str) -> bool | None:
        try:
            header = _b64url_json(pattern_text.split(".", 1)[0])
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(header, dict) and isinstance(header.get("alg"), str)

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return False


# --------------------------------------------------------------------------- assignments

_PW_KEY = r"(?i:(?:password|passwd|passphrase|(?<![a-z])(?:pass|pwd))[0-9]?)"
# The key name is matched from its last word and checked backwards: a literal
# start lets the engine skip ahead, ~25x faster than trying every alternative at
# every position.
_API_KEY_KEY = (
    r"(?i:key|secret|token)"
    r"(?<=(?i:(?:api|secret|signing|encryption|private)[_.\-]?key|(?:client|app|webhook)"
    r"[_.\-]?secret|(?<![a-z])secret|(?:access|auth|api|bearer|refresh|session|private)"
    r"[_.\-]?token|(?<![a-z])token))[0-9]?"
)
# Any other key name ending in one of these words (``IO_KEY``, ``license_key``,
# ``fbApiKey``, ``ado_pat``): a name this loose says little, so its value must
# look random (:func:`random_enough`).
_LOOSE_KEY = (r"[A-Za-z0-9][_.\-]?(?i:key|secret|token|pat|license|credential|passcode)[0-9]?"
              r"(?![A-Za-z0-9])")  # not a bare ``key=`` (an XML attribute naming a setting)
# A credential in a URL's query string (``?token=...``, ``&api_key=...``).
_QUERY_KEY = (r"[?&](?i:token|access_token|api_key|apikey|key|secret|client_secret|sig"
              r"|signature|auth|password)=")

_CODE_VALUE = regex.compile(
    r"""[A-Za-z_][A-Za-z0-9_.]{0,64}\([^()]{0,64}\)|^[+,#&]|[+,]$|\s[+]\s|&[lg]t;|#\{"""
    r"""|^\\|^\$[A-Za-z_]|^arn:|:$"""
    r"""|^[A-Za-z0-9_.\-]{1,64}/[A-Za-z0-9_.\-]{1,64}/""",
    _FLAGS,
)
"""Quoted values that are code, markup or a path, not a secret: a call or
concatenation (``" + getPassword() + "``), a selector or anchor
(``#add-password``), HTML-escaped text, Ruby interpolation (``#{pw}``), an
escaped quote, a variable (``$DB_PASS...``), an ARN, a label (``Password:``),
a route (``cms/sites/passwords``)."""


def looks_like_code(value: str) -> bool:
    return _CODE_VALUE.search(value) is not None


def random_enough(value: str, min_len: int = 16, min_bits: float = 3.0) -> bool:
    """A generated secret, not a word or a name: long enough, letters and
    digits both, no blank, and at least ``min_bits`` of Shannon entropy per
    character (a 40-char hex key has ~3.7, ``aaaa...end`` ~0.5, an English
    word ~2.5-3)."""
    if len(value) < min_len or any(c.isspace() for c in value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return shannon_bits(value) >= min_bits


def shannon_bits(value: str) -> float:
    """Shannon entropy of the characters of ``value``, bits per character."""
    import math
    from collections import Counter

    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


class PasswordAssignmentRecognizer(SecretRecognizer):
    """A value assigned to a password-like key (``DB_PASSWORD=...``,
    ``"password": "..."``, ``--password ...``) or the password in a URL
    (``postgres://user:...@host``). Only the value is reported."""

    ENTITY = "PASSWORD_ASSIGNMENT"
    PATTERNS = (
        *_assignment_patterns("password", _PW_KEY, 0.7, 0.45),
        Pattern(
            "password command-line flag",
            r"""(?<![A-Za-z0-9\-])--(?i:password|passwd|pass)[ \t]{1,3}["']?"""
            r"""(?P<secret>[^\s"'\-][^\s"']{0,255}+)""",
            0.5,
        ),
        Pattern(
            "password in url",
            r"""(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@"'<>]{1,128}+:"""
            r"""(?P<secret>[^\s:/@"'<>]{1,256}+)@""",
            0.7,
        ),
    )
    CONTEXT = ("password", "passwd", "credentials", "login")
    MIN_LENGTH: ClassVar[int] = 6

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return _is_placeholder(pattern_text, self.MIN_LENGTH) or looks_like_code(pattern_text)


class ApiKeyAssignmentRecognizer(SecretRecognizer):
    """A value assigned to an API-key/token/secret-like key, or the credential
    of an ``Authorization:`` header. Only the value is reported."""

    ENTITY = "API_KEY_ASSIGNMENT"
    PATTERNS = (
        *_assignment_patterns("api key", _API_KEY_KEY, 0.7, 0.45),
        Pattern(
            "authorization header",
            r"""(?i:authorization)["']?[ \t]{0,3}[:=][ \t]{0,3}["']?"""
            r"""(?i:bearer|token|basic|ssws|apikey)[ \t]{1,3}"""
            r"""(?P<secret>[A-Za-z0-9._~+/\-]{8,4096}+={0,3})""",
            0.7,
        ),
        Pattern("credential command-line option",
                r"""(?<![A-Za-z0-9\-])--?(?i:api-?key|access-?token|auth-?token|token|secret"""
                r"""|client-?secret)(?:[ \t]{1,3}|=)["']?(?P<secret>[^\s"'\-][^\s"']{7,255}+)""",
                0.6),
        Pattern("credential in a url query",
                _QUERY_KEY + r"(?P<secret>[A-Za-z0-9._~+/%\-]{16,512}+)", 0.6),
        *(Pattern(f"{p.name}, loose key", p.regex, p.score - 0.1)
          for p in _assignment_patterns("key-like name", _LOOSE_KEY, 0.7, 0.55)),
    )
    CONTEXT = ("api", "key", "token", "secret", "authorization")
    MIN_LENGTH: ClassVar[int] = 8

    def _scored(self, pattern: Pattern, value: str, start: int, end: int
                ) -> RecognizerResult | None:
        if pattern.name.endswith("loose key") and not random_enough(value.strip()):
            return None
        return super()._scored(pattern, value, start, end)

    def invalidate_result(self, pattern_text: str) -> bool | None:
        value = pattern_text.strip()
        looks_random = (any(c.isdigit() for c in value) or len(value) >= 16) and \
            shannon_bits(value) >= 2.5
        return (_is_placeholder(value, self.MIN_LENGTH) or not looks_random
                or any(c.isspace() for c in value) or looks_like_code(value))


# --------------------------------------------------------------------------- registry

_RECOGNIZERS: tuple[type[SecretRecognizer], ...] = (
    AwsAccessKeyIdRecognizer,
    AwsSecretAccessKeyRecognizer,
    GcpServiceAccountKeyRecognizer,
    AzureStorageKeyRecognizer,
    PrivateKeyRecognizer,
    GitHubTokenRecognizer,
    GitLabTokenRecognizer,
    SlackTokenRecognizer,
    StripeKeyRecognizer,
    JwtRecognizer,
    PasswordAssignmentRecognizer,
    ApiKeyAssignmentRecognizer,
)

CATALOGUE_ENTITY = "CREDENTIAL"
"""The type of every finding of the rule catalogue (``catalogue.py``)."""

SECRET_ENTITIES: frozenset[str] = frozenset(cls.ENTITY for cls in _RECOGNIZERS) | {
    "PASSWORD_HASH", "API_TOKEN", CATALOGUE_ENTITY}
"""Every type :func:`secret_recognizers` emits (a test compares them)."""


def secret_recognizers() -> list[EntityRecognizer]:
    """A fresh instance of every secret recognizer, to add to a Presidio
    registry: ours (this module's and ``credentials.py``'s), then the
    catalogue's (its rules load on first use)."""
    from daemon.scan.recognizers.catalogue import CatalogueRecognizer
    from daemon.scan.recognizers.credentials import CREDENTIAL_RECOGNIZERS

    return [*(cls() for cls in (*_RECOGNIZERS, *CREDENTIAL_RECOGNIZERS)),
            CatalogueRecognizer()]
