"""Credentials of hundreds of services, from a maintained rule catalogue.

The dependency is ``kingfisher-secret-scanner`` (import ``kingfisher_sdk``,
Apache-2.0): an in-process Rust/Vectorscan engine with ~490 bundled rules,
offline (docs/adr/0010-secret-catalogue.md says why this one and what it
costs). This module is the only place that touches it. What crosses from the
library into scratchwarden is a rule id, a confidence and byte offsets:

* the scanner is built with ``redact=True``, so the library's findings do not
  even hold the matched value; the offsets are turned into character offsets
  here and the pipeline fingerprints the text there, as for every recognizer;
* helper findings the library marks invisible are dropped;
* a value that our own placeholder and documentation-example checks reject
  (``secrets.not_a_secret``) is dropped, whatever the library says;
* the compiled rule database is cached only where the caller says
  (``cache_dir``, the state dir), never under ``~/.cache``; with no cache dir
  it is compiled in memory, once per process (what either costs is measured by
  ``benchmarks/catalogue_cost.py``: docs/perf/2026-12-07-detection.md).

Every finding is of type ``CREDENTIAL``; its ``recognizer`` is
``kingfisher:<rule id>`` (a fixed name from the library's catalogue, never a
value). A library failure on a text fails the text (``Unscannable``), never
silently: the file is recorded unscannable with the reason.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from daemon.scan.recognizers.secrets import CATALOGUE_ENTITY, not_a_secret
from scratchwarden.errors import ConfigError, Unscannable

ENTITY = CATALOGUE_ENTITY
NAME = "kingfisher"
SCAN_TIMEOUT_SECONDS = 30.0
SCORES = {"high": 0.9, "medium": 0.75, "low": 0.5}
"""Our score for the library's confidence of a rule."""
CACHE_ENV = "SCRATCHWARDEN_RULE_CACHE"
"""Directory for the compiled rule database (the daemon sets it to its state dir)."""


def available() -> bool:
    """True when the catalogue dependency is installed."""
    try:
        import kingfisher_sdk  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def _scanner(cache_dir: str | None) -> Any:
    """One compiled scanner per process and cache dir: the rules are
    immutable, and every detector a process builds shares them (compiling
    costs seconds, a test session builds dozens of detectors)."""
    try:
        from kingfisher_sdk import Rules, Scanner
    except ImportError as e:
        raise ConfigError("expected the secret catalogue package kingfisher-secret-scanner "
                          "to be installed; it is not") from e
    try:
        rules = (Rules(cache=False) if cache_dir is None
                 else Rules(cache=True, cache_dir=cache_dir))
        return Scanner(rules, redact=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise ConfigError(f"expected the secret catalogue's bundled rules to load: "
                          f"{type(e).__name__}") from None


class CatalogueRecognizer(EntityRecognizer):
    """Presidio recognizer for ``CREDENTIAL``, backed by the rule catalogue.
    The library is loaded on first use (``load``), so building a detector
    that is never asked for secrets costs nothing."""

    def __init__(self, cache_dir: str | None = None) -> None:
        self._cache_dir = cache_dir
        self._scan: Any = None
        super().__init__(supported_entities=[ENTITY], name=NAME, supported_language="en",
                         context=[])

    def load(self) -> None:
        """Nothing: Presidio calls this while building the registry; the
        rules are loaded on the first text (``_scanner``)."""

    def _scanner(self) -> Any:
        if self._scan is None:
            cache = self._cache_dir if self._cache_dir is not None else os.environ.get(CACHE_ENV)
            self._scan = _scanner(cache)
        return self._scan

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """``CREDENTIAL`` findings in ``text`` (character offsets, no value).

        Raises:
            ConfigError: the catalogue package or its bundled rules cannot be loaded.
            Unscannable: the library ran longer than ``SCAN_TIMEOUT_SECONDS``
                (``timeout``).
        """
        if entities and ENTITY not in entities:
            return []
        scanner = self._scanner()
        data = text.encode("utf-8", "surrogatepass")
        try:
            found = scanner.scan(data, timeout=SCAN_TIMEOUT_SECONDS)
        except TimeoutError as e:
            raise Unscannable("timeout", f"the secret catalogue ran longer than "
                                         f"{SCAN_TIMEOUT_SECONDS:g} s") from e
        chars = _CharOffsets(text, data)
        results = []
        for f in found:
            result = self._result(f, chars, text)
            if result is not None:
                results.append(result)
        kept: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return kept

    def _result(self, finding: Any, chars: _CharOffsets, text: str) -> RecognizerResult | None:
        if not finding.visible:
            return None
        where = finding.location
        start, end = chars.at(int(where["start_offset"])), chars.at(int(where["end_offset"]))
        if start >= end or not_a_secret(text[start:end]):
            return None
        label = f"{NAME}:{finding.rule_id}"
        return RecognizerResult(
            entity_type=ENTITY, start=start, end=end,
            score=SCORES.get(str(finding.confidence), SCORES["low"]),
            analysis_explanation=None,  # type: ignore[arg-type]  # none is built
            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: label,
                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})


class _CharOffsets:
    """Byte offset in the UTF-8 encoding of a text -> character offset."""

    def __init__(self, text: str, data: bytes) -> None:
        self._ascii = len(text) == len(data)
        self._text = text
        self._starts: list[int] | None = None

    def at(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        if self._starts is None:
            sizes = (len(c.encode("utf-8", "surrogatepass")) for c in self._text)
            self._starts = list(itertools.accumulate(sizes, initial=0))
        return bisect.bisect_left(self._starts, byte_offset)
