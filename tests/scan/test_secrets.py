"""Secret recognizers: table-driven positive and negative cases per recognizer,
embedded the way secrets really appear (.env, JSON, YAML, shell history, Python,
logs), plus Presidio integration, fail-closed timeouts and hostile input.

Every secret here is synthetic: AWS's documented example key pair, or tokens
generated from a seeded RNG. Assertions compare offsets, never values, and
case ids name the case, so a failure prints no secret."""

from __future__ import annotations

import base64
import binascii
import json
import random
import string
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest
from presidio_analyzer import AnalyzerEngine, Pattern, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

from daemon.scan.recognizers import secrets as sec
from scratchwarden.errors import Unscannable

RNG = random.Random(20261122)
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def b64_of(n_bytes: int) -> str:
    return base64.b64encode(RNG.randbytes(n_bytes)).decode()


def github_token(prefix: str = "ghp_") -> str:
    body = rand(30)
    crc = binascii.crc32(body.encode())
    digits = ""
    while crc:
        crc, r = divmod(crc, 62)
        digits = sec._BASE62[r] + digits
    return prefix + body + digits.rjust(6, "0")


def b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def pem(kind: str = "RSA ", lines: int = 20, width: int = 64) -> str:
    body = "".join(b64_of(48) for _ in range(lines * width // 64 + 1))
    rows = [body[i:i + width] for i in range(0, lines * width, width)]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(rows) + \
        f"\n-----END {kind}PRIVATE KEY-----"


AWS_ID = "AKIA" + rand(16, string.ascii_uppercase + "234567")
AWS_SECRET = rand(20, ALNUM) + rand(20, B64)
AWS_DOC_ID = "AKIAIOSFODNN7EXAMPLE"                      # AWS's documented example
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105  (AWS docs example)
AZURE_KEY = b64_of(64)
RSA_PEM = pem()
PKCS8_PEM = pem("")
EC_PEM = pem("EC ", lines=3)
OPENSSH_PEM = pem("OPENSSH ", lines=7, width=70)
GH_TOKEN = github_token()
GH_BAD_CRC = GH_TOKEN[:-1] + ("A" if GH_TOKEN[-1] != "A" else "B")
GH_SERVER = github_token("ghs_")
GH_FINE = "github_pat_" + rand(22) + "_" + rand(59)
GL_TOKEN = "glpat-" + rand(20, ALNUM + "_-")
GL_RUNNER = "GR1348941" + rand(20)
SLACK_BOT = f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}"
SLACK_USER = f"xoxp-{rand(12, string.digits)}-{rand(12, string.digits)}-" \
             f"{rand(13, string.digits)}-{rand(32, '0123456789abcdef')}"
SLACK_HOOK = f"https://hooks.slack.com/services/T{rand(8, string.ascii_uppercase)}/" \
             f"B{rand(8, string.ascii_uppercase)}/{rand(24)}"
STRIPE_LIVE = "sk_live_" + rand(24)
STRIPE_RESTRICTED = "rk_live_" + rand(99)
STRIPE_TEST = "sk_test_" + rand(24)
STRIPE_WHSEC = "whsec_" + rand(32)
JWT = ".".join([b64url({"alg": "HS256", "typ": "JWT"}),
                b64url({"sub": "1234567890", "name": "Synthetic", "iat": 1516239022}),
                rand(43, ALNUM + "-_")])
GCP_KEY_ID = rand(40, "0123456789abcdef")
GCP_JSON = json.dumps({
    "type": "service_account", "project_id": "demo-project",
    "private_key_id": GCP_KEY_ID, "private_key": PKCS8_PEM + "\n",
    "client_email": "bot@demo-project.iam.gserviceaccount.com",
    "client_id": "123456789012345678901",
}, indent=2)
GCP_ESCAPED_PEM = json.dumps(PKCS8_PEM + "\n")[1:-1]
PASSWORD = "S3cure!" + rand(10)
API_KEY = rand(24, "0123456789abcdef")


@dataclass(frozen=True)
class Case:
    """``values``: the substrings the recognizer must report, in order of
    appearance (each located at its first occurrence after the previous)."""

    id: str
    entity: str
    text: str = field(repr=False)
    values: tuple[str, ...] = field(default=(), repr=False)

    def spans(self) -> list[tuple[int, int]]:
        out, pos = [], 0
        for value in self.values:
            start = self.text.index(value, pos)
            out.append((start, start + len(value)))
            pos = start + len(value)
        return out


def pos(id: str, entity: str, text: str, *values: str) -> Case:
    return Case(id, entity, text, values)


def neg(id: str, entity: str, text: str) -> Case:
    return Case(id, entity, text, ())


CASES = [
    # ---------------------------------------------------------------- AWS access key id
    pos("aws-id-dotenv", "AWS_ACCESS_KEY_ID", f"AWS_ACCESS_KEY_ID={AWS_ID}\nREGION=eu-west-1\n",
        AWS_ID),
    pos("aws-id-credentials-ini", "AWS_ACCESS_KEY_ID",
        f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n", AWS_ID),
    pos("aws-id-csv", "AWS_ACCESS_KEY_ID",
        f"User name,Access key ID,Secret access key\nbob,{AWS_ID},{AWS_SECRET}\n", AWS_ID),
    pos("aws-id-sts-json", "AWS_ACCESS_KEY_ID",
        json.dumps({"Credentials": {"AccessKeyId": "ASIA" + AWS_ID[4:]}}), "ASIA" + AWS_ID[4:]),
    neg("aws-id-lowercase", "AWS_ACCESS_KEY_ID", f"id={AWS_ID.lower()}"),
    neg("aws-id-inside-word", "AWS_ACCESS_KEY_ID", f"X{AWS_ID}X"),
    neg("aws-id-too-short", "AWS_ACCESS_KEY_ID", f"key {AWS_ID[:-1]} here"),
    # ---------------------------------------------------------------- AWS secret access key
    pos("aws-secret-dotenv", "AWS_SECRET_ACCESS_KEY",
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n", AWS_SECRET),
    pos("aws-secret-credentials-ini", "AWS_SECRET_ACCESS_KEY",
        f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n",
        AWS_SECRET),
    pos("aws-secret-iam-json", "AWS_SECRET_ACCESS_KEY",
        json.dumps({"AccessKey": {"UserName": "bob", "AccessKeyId": AWS_ID,
                                  "Status": "Active", "SecretAccessKey": AWS_SECRET}}, indent=4),
        AWS_SECRET),
    pos("aws-secret-csv", "AWS_SECRET_ACCESS_KEY",
        f"User name,Access key ID,Secret access key\nbob,{AWS_ID},{AWS_SECRET}\n", AWS_SECRET),
    pos("aws-secret-shell-history", "AWS_SECRET_ACCESS_KEY",
        f"  501  aws configure set aws_secret_access_key {AWS_SECRET}\n  502  aws s3 ls\n",
        AWS_SECRET),
    pos("aws-secret-python", "AWS_SECRET_ACCESS_KEY",
        f's3 = boto3.client("s3", aws_access_key_id="{AWS_ID}",\n'
        f'                  aws_secret_access_key="{AWS_SECRET}")\n', AWS_SECRET),
    neg("aws-secret-no-context", "AWS_SECRET_ACCESS_KEY", f"checksum: {AWS_SECRET}\n"),
    neg("aws-secret-git-sha", "AWS_SECRET_ACCESS_KEY",
        "aws_secret_key = 0123456789abcdef0123456789abcdef01234567\n"),
    neg("aws-secret-41-chars", "AWS_SECRET_ACCESS_KEY",
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}Q\n"),
    neg("aws-secret-template", "AWS_SECRET_ACCESS_KEY",
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n"),
    neg("aws-secret-filler", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY=" + "X" * 40),
    # ---------------------------------------------------------------- GCP service account
    pos("gcp-key-file", "GCP_SERVICE_ACCOUNT_KEY", GCP_JSON, GCP_KEY_ID, GCP_ESCAPED_PEM),
    pos("gcp-key-compact-json", "GCP_SERVICE_ACCOUNT_KEY",
        json.dumps({"private_key": PKCS8_PEM}), json.dumps(PKCS8_PEM)[1:-1]),
    neg("gcp-key-id-not-hex", "GCP_SERVICE_ACCOUNT_KEY",
        json.dumps({"private_key_id": "not-a-key-id-just-a-label-of-40-chars!!"})),
    neg("gcp-other-json", "GCP_SERVICE_ACCOUNT_KEY",
        json.dumps({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"})),
    # ---------------------------------------------------------------- Azure storage key
    pos("azure-connection-string", "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=demo;"
        f"AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net\n", AZURE_KEY),
    pos("azure-appsettings-json", "AZURE_STORAGE_KEY",
        json.dumps({"Storage": {"AccountName": "demo", "StorageKey": AZURE_KEY}}), AZURE_KEY),
    pos("azure-yaml", "AZURE_STORAGE_KEY", f"azure:\n  storage_account_key: '{AZURE_KEY}'\n",
        AZURE_KEY),
    neg("azure-no-context", "AZURE_STORAGE_KEY", f"blob: {AZURE_KEY}\n"),
    neg("azure-wrong-length", "AZURE_STORAGE_KEY", f"AccountKey={AZURE_KEY[2:]}"),
    neg("azure-filler", "AZURE_STORAGE_KEY", "AccountKey=" + "A" * 86 + "=="),
    # ---------------------------------------------------------------- private keys
    pos("pem-rsa-file", "PRIVATE_KEY", RSA_PEM + "\n", RSA_PEM),
    pos("pem-pkcs8-in-yaml", "PRIVATE_KEY",
        "tls:\n  key: |\n" + textwrap.indent(PKCS8_PEM, "    ") + "\n",
        textwrap.indent(PKCS8_PEM, "    ").lstrip()),
    pos("pem-ec-in-log", "PRIVATE_KEY",
        f"2026-11-22T10:00:00Z DEBUG loaded key {EC_PEM} from vault\n", EC_PEM),
    pos("pem-openssh", "PRIVATE_KEY", OPENSSH_PEM + "\n", OPENSSH_PEM),
    pos("pem-escaped-in-gcp-json", "PRIVATE_KEY", GCP_JSON, GCP_ESCAPED_PEM.removesuffix("\\n")),
    pos("pem-encrypted-legacy", "PRIVATE_KEY",
        RSA_PEM.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n"
                        "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n", 1),
        RSA_PEM.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n"
                        "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n", 1)),
    pos("pem-truncated", "PRIVATE_KEY",
        RSA_PEM[:400] + "\n[output truncated]\n", RSA_PEM[:400].rstrip()),
    pos("pem-two-blocks", "PRIVATE_KEY", f"{RSA_PEM}\n\n{EC_PEM}\n", RSA_PEM, EC_PEM),
    neg("pem-documentation", "PRIVATE_KEY",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"),
    neg("pem-public-key", "PRIVATE_KEY",
        RSA_PEM.replace("RSA PRIVATE KEY", "PUBLIC KEY")),
    neg("pem-certificate", "PRIVATE_KEY",
        RSA_PEM.replace("RSA PRIVATE KEY", "CERTIFICATE")),
    # ---------------------------------------------------------------- GitHub
    pos("github-dotenv", "GITHUB_TOKEN", f"GITHUB_TOKEN={GH_TOKEN}\n", GH_TOKEN),
    pos("github-remote-url", "GITHUB_TOKEN",
        f"git remote add origin https://{GH_TOKEN}@github.com/acme/app.git\n", GH_TOKEN),
    pos("github-bad-checksum-still-reported", "GITHUB_TOKEN", f"token: {GH_BAD_CRC}", GH_BAD_CRC),
    pos("github-fine-grained-json", "GITHUB_TOKEN", json.dumps({"auth": GH_FINE}), GH_FINE),
    pos("github-server-token-log", "GITHUB_TOKEN",
        f"INFO using installation token {GH_SERVER} for acme/app\n", GH_SERVER),
    neg("github-too-short", "GITHUB_TOKEN", f"ghp_{rand(35)} "),
    neg("github-placeholder", "GITHUB_TOKEN", "GITHUB_TOKEN=ghp_" + "x" * 36),
    neg("github-inside-identifier", "GITHUB_TOKEN", f"my{GH_TOKEN}"),
    neg("github-unknown-prefix", "GITHUB_TOKEN", f"ghx_{GH_TOKEN[4:]}"),
    # ---------------------------------------------------------------- GitLab
    pos("gitlab-clone-url", "GITLAB_TOKEN",
        f"git clone https://oauth2:{GL_TOKEN}@gitlab.example.com/g/p.git\n", GL_TOKEN),
    pos("gitlab-ci-yaml", "GITLAB_TOKEN", f"variables:\n  PRIVATE_TOKEN: {GL_TOKEN}\n", GL_TOKEN),
    pos("gitlab-runner-registration", "GITLAB_TOKEN",
        f"gitlab-runner register --registration-token {GL_RUNNER}\n", GL_RUNNER),
    neg("gitlab-too-short", "GITLAB_TOKEN", "glpat-abc123"),
    neg("gitlab-placeholder", "GITLAB_TOKEN", "token: glpat-" + "x" * 20),
    # ---------------------------------------------------------------- Slack
    pos("slack-bot-dotenv", "SLACK_TOKEN", f"SLACK_BOT_TOKEN={SLACK_BOT}\n", SLACK_BOT),
    pos("slack-user-python", "SLACK_TOKEN", f'client = WebClient(token="{SLACK_USER}")\n',
        SLACK_USER),
    pos("slack-webhook-shell", "SLACK_TOKEN",
        f"curl -X POST -d '{{\"text\":\"hi\"}}' {SLACK_HOOK}\n", SLACK_HOOK),
    neg("slack-doc-placeholder", "SLACK_TOKEN", "SLACK_BOT_TOKEN=xoxb-your-token-here"),
    neg("slack-filler", "SLACK_TOKEN", "xoxb-1234-xxxxxxxxxxxxxxxx"),
    # ---------------------------------------------------------------- Stripe
    pos("stripe-live-dotenv", "STRIPE_KEY", f"STRIPE_SECRET_KEY={STRIPE_LIVE}\n", STRIPE_LIVE),
    pos("stripe-restricted-python", "STRIPE_KEY", f'stripe.api_key = "{STRIPE_RESTRICTED}"\n',
        STRIPE_RESTRICTED),
    pos("stripe-test-and-webhook-yaml", "STRIPE_KEY",
        f"stripe:\n  key: {STRIPE_TEST}\n  webhook_secret: {STRIPE_WHSEC}\n",
        STRIPE_TEST, STRIPE_WHSEC),
    neg("stripe-publishable", "STRIPE_KEY", f"pk_live_{rand(24)}"),
    neg("stripe-too-short", "STRIPE_KEY", "sk_live_abc"),
    # ---------------------------------------------------------------- JWT
    pos("jwt-auth-header-log", "JWT",
        f'127.0.0.1 - - "GET /api" 200 Authorization: Bearer {JWT}\n', JWT),
    pos("jwt-json", "JWT", json.dumps({"id_token": JWT, "expires_in": 3600}), JWT),
    neg("jwt-header-not-json", "JWT",
        f"eyJub3QganNvbg.{b64url({'sub': 'x'})}.{rand(43)}"),
    neg("jwt-header-without-alg", "JWT",
        f"{b64url({'typ': 'JWT'})}.{b64url({'sub': 'x'})}.{rand(43)}"),
    neg("jwt-two-segments", "JWT", ".".join(JWT.split(".")[:2])),
    # ---------------------------------------------------------------- password assignments
    pos("pw-dotenv", "PASSWORD_ASSIGNMENT", f"DB_USER=app\nDB_PASSWORD={PASSWORD}\n", PASSWORD),
    pos("pw-yaml-quoted", "PASSWORD_ASSIGNMENT", f'db:\n  password: "{PASSWORD}"\n', PASSWORD),
    pos("pw-json-passphrase", "PASSWORD_ASSIGNMENT",
        json.dumps({"user": "bob", "passphrase": "correct horse battery staple"}),
        "correct horse battery staple"),
    pos("pw-python-kwarg", "PASSWORD_ASSIGNMENT",
        f"conn = psycopg.connect(host='db', password='{PASSWORD}')\n", PASSWORD),
    pos("pw-shell-flag", "PASSWORD_ASSIGNMENT",
        f"  88  mysql -u root --password {PASSWORD} shop\n", PASSWORD),
    pos("pw-shell-export", "PASSWORD_ASSIGNMENT", f"export PGPASSWORD='{PASSWORD}'\n", PASSWORD),
    pos("pw-url", "PASSWORD_ASSIGNMENT",
        f"DATABASE_URL=postgres://app:{PASSWORD}@db.internal:5432/app\n", PASSWORD),
    pos("pw-ini-suffix-digit", "PASSWORD_ASSIGNMENT", f"[smtp]\npassword2 = {PASSWORD}\n",
        PASSWORD),
    neg("pw-env-reference", "PASSWORD_ASSIGNMENT", 'password = os.environ["DB_PASSWORD"]\n'),
    neg("pw-template", "PASSWORD_ASSIGNMENT", "password: ${DB_PASSWORD}\n"),
    neg("pw-jinja", "PASSWORD_ASSIGNMENT", '"password": "{{ db_password }}"'),
    neg("pw-shell-var", "PASSWORD_ASSIGNMENT", "export PGPASSWORD=$DB_PASS\n"),
    neg("pw-changeme", "PASSWORD_ASSIGNMENT", "password=changeme\n"),
    neg("pw-angle-placeholder", "PASSWORD_ASSIGNMENT", '{"password": "<password>"}'),
    neg("pw-masked", "PASSWORD_ASSIGNMENT", "2026-11-22 login ok user=bob password=********\n"),
    neg("pw-xxx", "PASSWORD_ASSIGNMENT", "PASSWORD=xxxxxxxx\n"),
    neg("pw-function-call", "PASSWORD_ASSIGNMENT", "password = get_password(user)\n"),
    neg("pw-attribute", "PASSWORD_ASSIGNMENT", "password = settings.DB_PASSWORD\n"),
    neg("pw-type-annotation", "PASSWORD_ASSIGNMENT", "    password: str\n"),
    neg("pw-too-short", "PASSWORD_ASSIGNMENT", "password=abc\n"),
    neg("pw-pwd-is-a-path", "PASSWORD_ASSIGNMENT", "PWD=/home/alice/project\n"),
    neg("pw-passwordless", "PASSWORD_ASSIGNMENT", "passwordless: enabled\n"),
    neg("pw-bypass", "PASSWORD_ASSIGNMENT", 'bypass = "maintenance-mode"\n'),
    neg("pw-key-not-last", "PASSWORD_ASSIGNMENT",
        "password_reset_url: https://example.com/reset\n"),
    neg("pw-url-without-credentials", "PASSWORD_ASSIGNMENT", "see http://example.com:8080/x\n"),
    neg("pw-your-password-here", "PASSWORD_ASSIGNMENT", "password: your_password_here\n"),
    # ---------------------------------------------------------------- API key assignments
    pos("api-dotenv", "API_KEY_ASSIGNMENT", f"OPENAI_API_KEY=sk-proj-{API_KEY}\n",
        f"sk-proj-{API_KEY}"),
    pos("api-yaml", "API_KEY_ASSIGNMENT", f"service:\n  api_key: '{API_KEY}'\n", API_KEY),
    pos("api-json-client-secret", "API_KEY_ASSIGNMENT",
        json.dumps({"client_id": "web", "client_secret": API_KEY}), API_KEY),
    pos("api-django-secret-key", "API_KEY_ASSIGNMENT",
        f"SECRET_KEY = 'django-insecure-{API_KEY}'\n", f"django-insecure-{API_KEY}"),
    pos("api-bearer-log", "API_KEY_ASSIGNMENT",
        f"DEBUG request headers: Authorization: Bearer {API_KEY}\n", API_KEY),
    pos("api-basic-auth-shell", "API_KEY_ASSIGNMENT",
        'curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA==" https://api.example.com\n',
        "dXNlcjpwYXNzd29yZA=="),
    neg("api-placeholder", "API_KEY_ASSIGNMENT", 'api_key = "your_api_key_here"\n'),
    neg("api-template", "API_KEY_ASSIGNMENT", "API_KEY=${API_KEY}\n"),
    neg("api-llm-stream-token", "API_KEY_ASSIGNMENT", '{"token": "Hello", "logprob": -0.1}'),
    neg("api-llm-token-word", "API_KEY_ASSIGNMENT", '{"token": "information"}'),
    neg("api-max-tokens", "API_KEY_ASSIGNMENT", '{"max_tokens": 4096, "temperature": 0}'),
    neg("api-boolean", "API_KEY_ASSIGNMENT", "secret: true\n"),
    neg("api-prose-value", "API_KEY_ASSIGNMENT", '"secret": "the quick brown fox jumps"'),
    neg("api-attribute", "API_KEY_ASSIGNMENT", "api_key = settings.OPENAI_API_KEY\n"),
    neg("api-bearer-variable", "API_KEY_ASSIGNMENT", 'curl -H "Authorization: Bearer $TOKEN"\n'),
    neg("api-elided", "API_KEY_ASSIGNMENT", 'api_key: "sk-...abcd"\n'),
]

BY_ENTITY = {r.supported_entities[0]: r for r in sec.secret_recognizers()
             if type(r).__module__ == sec.__name__}
"""This module's recognizers (one per type); ``credentials.py``'s have their
own table in tests/scan/test_credentials.py, the catalogue in
tests/scan/test_catalogue.py."""


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recognizer_table(case: Case) -> None:
    recognizer = BY_ENTITY[case.entity]
    results = recognizer.analyze(case.text, entities=[case.entity], nlp_artifacts=None)
    found = sorted((r.start, r.end) for r in results)
    assert found == case.spans(), f"{case.id}: reported spans differ"
    assert all(r.entity_type == case.entity and 0.4 <= r.score <= 1.0 for r in results)


def test_case_ids_unique_and_every_entity_has_positive_and_negative_cases() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    for entity in BY_ENTITY:
        kinds = {bool(c.values) for c in CASES if c.entity == entity}
        assert kinds == {True, False}, entity


def test_registry_is_declarative_and_complete() -> None:
    recognizers = [r for r in sec.secret_recognizers() if isinstance(r, sec.SecretRecognizer)]
    entities = [e for r in sec.secret_recognizers() for e in r.supported_entities]
    assert frozenset(entities) == sec.SECRET_ENTITIES
    assert sec.SECRET_ENTITIES >= {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GCP_SERVICE_ACCOUNT_KEY",
        "AZURE_STORAGE_KEY", "PRIVATE_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "SLACK_TOKEN",
        "STRIPE_KEY", "JWT", "PASSWORD_ASSIGNMENT", "API_KEY_ASSIGNMENT"}
    for r in recognizers:
        assert isinstance(r, sec.SecretRecognizer)
        assert r.PATTERNS and r.CONTEXT and r.supported_language == "en"
    assert sec.secret_recognizers()[0] is not recognizers[0]  # fresh instances


def test_other_entities_are_not_reported() -> None:
    text = f"AWS_ACCESS_KEY_ID={AWS_ID}"
    assert BY_ENTITY["AWS_ACCESS_KEY_ID"].analyze(text, entities=["PERSON"]) == []
    assert len(BY_ENTITY["AWS_ACCESS_KEY_ID"].analyze(text, entities=[])) == 1


def test_github_checksum_raises_score_to_certain() -> None:
    rec = BY_ENTITY["GITHUB_TOKEN"]
    assert sec.github_checksum_ok(GH_TOKEN) and not sec.github_checksum_ok(GH_BAD_CRC)
    [good] = rec.analyze(f"t={GH_TOKEN}", entities=["GITHUB_TOKEN"])
    [bad] = rec.analyze(f"t={GH_BAD_CRC}", entities=["GITHUB_TOKEN"])
    assert good.score == 1.0 and bad.score == pytest.approx(0.85)


def test_jwt_with_json_header_is_certain() -> None:
    [result] = BY_ENTITY["JWT"].analyze(JWT, entities=["JWT"])
    assert result.score == 1.0
    assert result.analysis_explanation.validation_result is True


def test_results_and_explanations_never_carry_the_value() -> None:
    for case in CASES:
        for result in BY_ENTITY[case.entity].analyze(case.text, entities=[case.entity]):
            value = case.text[result.start:result.end]
            shown = " ".join([repr(result), str(result), str(result.to_dict()),
                              str(result.analysis_explanation.to_dict())])
            assert value not in shown, case.id


def test_regex_timeout_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Catastrophic(sec.SecretRecognizer):
        ENTITY = "TEST_SLOW"
        PATTERNS = (Pattern("exponential", r"(?:a|aa)+c", 0.5),)
        CONTEXT = ("x",)

    monkeypatch.setattr(sec, "REGEX_TIMEOUT_SECONDS", 0.05)
    with pytest.raises(Unscannable) as info:
        Catastrophic().analyze("a" * 60, entities=[])
    assert info.value.reason == "timeout"
    assert "a" * 10 not in str(info.value)


def _no_op_analyzer() -> AnalyzerEngine:
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}],
    }).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in sec.secret_recognizers():
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def test_presidio_analyzer_engine_end_to_end() -> None:
    text = (
        f"# .env of an agent session\nAWS_ACCESS_KEY_ID={AWS_ID}\n"
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\nDB_PASSWORD={PASSWORD}\n"
        f"SLACK_BOT_TOKEN={SLACK_BOT}\nSESSION={JWT}\n"
    )
    analyzer = _no_op_analyzer()
    assert set(analyzer.get_supported_entities("en")) == sec.SECRET_ENTITIES
    results = analyzer.analyze(text, language="en", score_threshold=0.4)
    got = {(r.entity_type, r.start, r.end) for r in results}
    for entity, value in [("AWS_ACCESS_KEY_ID", AWS_ID), ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
                          ("PASSWORD_ASSIGNMENT", PASSWORD), ("SLACK_TOKEN", SLACK_BOT),
                          ("JWT", JWT)]:
        start = text.index(value)
        assert (entity, start, start + len(value)) in got, entity
    only = analyzer.analyze(text, language="en", entities=["JWT"])
    assert [r.entity_type for r in only] == ["JWT"]


BENIGN = """\
import os

def connect(password: str | None = None) -> None:
    password = password or os.environ["DB_PASSWORD"]
    token = request.headers.get("X-Token")
    secret = vault.read(path)

{"model": "gpt-4o", "usage": {"prompt_tokens": 1024, "completion_tokens": 256},
 "choices": [{"message": {"role": "assistant", "content": "Set your password in settings."}}]}
commit 0123456789abcdef0123456789abcdef01234567
Author: Alice <alice@example.com>
sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
Reset your password: https://example.com/account/password?step=1
api_key = None
"""


def test_benign_text_has_no_secret_findings() -> None:
    results = _no_op_analyzer().analyze(BENIGN, language="en", score_threshold=0.4)
    assert [(r.entity_type, r.start, r.end) for r in results] == []


ADVERSARIAL = [
    "a", "=", " ", "-----BEGIN ", "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n", "-----END PRIVATE KEY-----",
    "eyJ", ".eyJaaaaa", "AKIAIOSFODNN7EXAMPLE ", "password=", "password: \"", "x://u:",
    "aws_secret=", "xoxb-1-", "ghp_", '"private_key": "-----BEGIN PRIVATE KEY-----',
    "AccountKey=", "${", "Authorization: Bearer ",
]

_CHILD = """
import json, sys
from daemon.scan.recognizers.secrets import SecretRecognizer, secret_recognizers
# our own regexes; the catalogue library is measured on its own (test_catalogue.py)
recognizers = [r for r in secret_recognizers() if isinstance(r, SecretRecognizer)]
for unit in json.loads(sys.stdin.read()):
    text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    for recognizer in recognizers:
        recognizer.analyze(text, entities=[])
    print("done", flush=True)
"""
GROUPS = [ADVERSARIAL[i::4] for i in range(4)]


@pytest.mark.parametrize("units", GROUPS, ids=[f"group{i}" for i in range(len(GROUPS))])
def test_one_megabyte_of_hostile_input_completes(units: list[str]) -> None:
    """No catastrophic backtracking: every recognizer finishes 1 MB of each
    repeated hostile unit. Run in a child so a hang is killed, not waited on;
    the 60 s bound is generous (linear patterns take a few seconds here)."""
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(units),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["done"] * len(units)
