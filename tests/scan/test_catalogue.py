"""The rule-catalogue recognizer (kingfisher): what crosses from the library
is a type, character offsets and a rule id; stand-ins are dropped; a failure
fails the text; the rules load offline and cache only where told.

Every credential here is synthetic (seeded RNG) in a public format; no test
prints one."""

from __future__ import annotations

import os
import random
import shutil
import string
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daemon.scan.recognizers import catalogue as cat
from scratchwarden.errors import Unscannable

REPO = Path(__file__).resolve().parents[2]
RNG = random.Random(20261207)
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


# An Anthropic-style key: a format none of the project's own recognizers knows.
ANTHROPIC = "sk-ant-api03-" + rand(93, ALNUM + "_-") + "AA"


@pytest.fixture(scope="module")
def recognizer() -> cat.CatalogueRecognizer:
    return cat.CatalogueRecognizer()


def test_a_family_only_the_catalogue_knows(recognizer: cat.CatalogueRecognizer) -> None:
    text = f"ANTHROPIC_API_KEY={ANTHROPIC}\n"
    results = recognizer.analyze(text, [cat.ENTITY])
    start = text.index(ANTHROPIC)
    assert [(r.entity_type, r.start, r.end) for r in results] == \
        [(cat.ENTITY, start, start + len(ANTHROPIC))]
    name = results[0].recognition_metadata["recognizer_name"]
    assert name.startswith("kingfisher:") and ANTHROPIC not in name


def test_offsets_are_characters_not_bytes(recognizer: cat.CatalogueRecognizer) -> None:
    """Byte offsets from the library become character offsets: text before the
    key with multi-byte characters must not shift the span."""
    text = f"clé privée ☃ ü: {ANTHROPIC} fin"
    (r,) = recognizer.analyze(text, [cat.ENTITY])
    assert text[r.start:r.end] == ANTHROPIC


def test_placeholders_are_dropped(recognizer: cat.CatalogueRecognizer) -> None:
    filler = "sk-ant-api03-" + "x" * 93 + "AA"
    assert recognizer.analyze(f"key={filler}", [cat.ENTITY]) == []


def test_not_asked_for_credentials_costs_nothing() -> None:
    fresh = cat.CatalogueRecognizer()
    assert fresh.analyze(f"k={ANTHROPIC}", ["EMAIL_ADDRESS"]) == []
    assert fresh._scan is None  # the rules were never loaded


def test_no_value_in_the_library_findings(recognizer: cat.CatalogueRecognizer) -> None:
    """The scanner is built redacting: the library's own finding does not hold
    the value either (so no accidental repr or log of it can leak it)."""
    native = recognizer._scanner().scan(f"k={ANTHROPIC}".encode())
    assert native
    for f in native:
        assert ANTHROPIC not in repr(f) and ANTHROPIC not in str(f.to_dict())
        assert f.secret != ANTHROPIC


def test_a_library_timeout_fails_the_text(recognizer: cat.CatalogueRecognizer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Slow:
        def scan(self, data: bytes, timeout: float | None = None) -> list[object]:
            raise TimeoutError("slow")

    monkeypatch.setattr(recognizer, "_scan", Slow())
    with pytest.raises(Unscannable) as info:
        recognizer.analyze("anything", [cat.ENTITY])
    assert info.value.reason == "timeout"


def test_the_detector_reports_catalogue_findings_once() -> None:
    """A Slack token is known to both our recognizer and the catalogue: it is
    reported once, as SLACK_TOKEN; an Anthropic key as CREDENTIAL."""
    from daemon.scan.detect import Detector

    slack = f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}"
    text = f"SLACK={slack}\nANTHROPIC={ANTHROPIC}\n"
    found = Detector(use_ner=False).detect(text)
    at = {(f.start, f.end): f.entity_type for f in found}
    s = text.index(slack)
    assert at[(s, s + len(slack))] == "SLACK_TOKEN"
    assert [f for f in found if f.entity_type == "CREDENTIAL"
            and f.start == s] == []
    a = text.index(ANTHROPIC)
    assert at[(a, a + len(ANTHROPIC))] == "CREDENTIAL"


@pytest.mark.slow
def test_hostile_input_stays_bounded(recognizer: cat.CatalogueRecognizer) -> None:
    """The library is linear on hostile repetitions too (measured ~1.7 MB/s at
    worst, ~10 MB/s on ordinary text): 200 KB of each repeated unit completes,
    in the 100 KB chunks the detector hands it."""
    for unit in ("a", "-----BEGIN PRIVATE KEY-----", "eyJ", "x://u:", "sk-ant-api03-",
                 "AKIA", "ghp_", "password=", "xoxb-1-"):
        text = (unit * (200_000 // len(unit) + 1))[:200_000]
        for i in range(0, len(text), 100_000):
            recognizer.analyze(text[i:i + 100_000], [cat.ENTITY])


_OFFLINE_PROBE = textwrap.dedent("""
    import socket, sys
    class NoNetwork(socket.socket):
        def connect(self, *a, **k):
            raise OSError("network blocked by test")
        connect_ex = connect
    socket.socket = NoNetwork
    sys.path.insert(0, sys.argv[1])
    from daemon.scan.recognizers.catalogue import CatalogueRecognizer
    key = sys.argv[2]
    r = CatalogueRecognizer(cache_dir=sys.argv[3])
    found = r.analyze("k=" + key, ["CREDENTIAL"])
    assert [(x.start, x.end) for x in found] == [(2, 2 + len(key))], len(found)
    print("OK")
""")


@pytest.mark.slow
def test_rules_load_offline_and_cache_only_where_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cache = tmp_path / "state" / "rules"
    cache.mkdir(parents=True, mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KF_", "XDG_CACHE", cat.CACHE_ENV))}
    env["HOME"] = str(home)
    cmd = [sys.executable, "-c", _OFFLINE_PROBE, str(REPO), ANTHROPIC, str(cache)]
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "-n", *cmd]               # no network namespace at all
    for _ in range(2):  # compiles and stores, then loads from the cache
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "OK"
    assert any(cache.iterdir()), "the compiled rules were not cached where told"
    assert not (home / ".cache").exists(), "something wrote under ~/.cache"
    assert ANTHROPIC not in proc.stderr
