"""Where in a text NER is worth running.

spaCy NER is the costliest step of a scan (docs/facts.md) and only ever finds
names, places, groups and dates written the way people write them: a
capitalised word. Text without one (base64, hex dumps, most log lines, numeric
CSV columns, code in lower case) cannot give NER anything it is asked for, so
it is not sent. What IS sent, line by line (merged into regions):

* a run of two capitalised words ("Jane Roe", "New York");
* a capitalised word after a lower-case word ("moved to Chicago",
  ``name: Alice``, ``"city": "Paris"`` as extracted JSON lines);
* a capitalised word opening a line or a cell (``Alice: can you...`` in a
  transcript, ``3,Alice,alice@...`` in a CSV, a sentence start in prose).

This keeps names inside JSON values and CSV cells (the extractor emits each
value as a ``key: value`` line), while a log line like
``2025-01-02T10:00:00Z INFO GET /api/v1/items 200 12ms`` is skipped. The
trigger is deliberately broad: prose passes whole, and the saving comes from
machine text, not from guessing which sentences matter. A short text (up to
``SHORT_PROSE_CHARS``) that reads as prose goes whole even without a capital:
chat messages are often all lower case, and NER still tags some names there
(measured: +0.004 overall F2 on the synthetic set).

A longer text that reads as prose by those lines (they cover at least
``WHOLE_TEXT_SHARE`` of it) is not sent whole: it is cut into sentences, and a
sentence goes to NER when it holds a name-like capital as above, except that a
capitalised word merely opening the sentence or a line counts only when it is
not an ordinary word of the text, i.e. its lower-case form does not occur in
the text (``The``, ``Please``, ``Report`` open sentences; ``Maria`` rarely
appears as ``maria``). Sentences with nothing NER could tag (numbers, e-mail
addresses, lower-case chatter) are where long prose spends most of its NER
time; adjacent kept sentences are merged so NER keeps their context.

Speaker labels: a line opening with the same capitalised label (``Maria
Lopez: ...``, one to four capitalised words and a colon) on at least
``LABEL_MIN_LINES`` lines is a transcript or chat speaker. Such a label makes
every line look name-bearing, which used to send whole transcripts to NER. A
labelled sentence is now judged by what follows the label; when that holds
nothing name-like, only the label itself (with its colon) goes to NER, so
each speaker is still tagged where it is written."""

from __future__ import annotations

import regex

_CAP = r"\p{Lu}[\p{Ll}\p{M}'’]+"
_NAMEY = regex.compile(
    rf"\b{_CAP}[ \t]*[,;]?[ \t]*{_CAP}\b"           # two capitalised words (not mid-token:
                                                    # base64 and hashes hold ``UqJlbc``)
    rf"|\b\p{{Ll}}{{2,}}[ \t:,\"'=(\-]{{1,4}}{_CAP}\b"  # after a lower-case word
    rf"|(?:^|[,;\t|\"])[ \t]*{_CAP}\b",             # opening a line or a cell
    regex.MULTILINE,
)
_STRONG = regex.compile(
    rf"\b{_CAP}[ \t]*[,;]?[ \t]*{_CAP}\b"           # two capitalised words
    rf"|\b\p{{Ll}}{{2,}}[ \t:,\"'=(\-]{{1,4}}{_CAP}\b"  # after a lower-case word
    rf"|[,;\t|\"][ \t]*{_CAP}\b",                  # opening a cell
)
_OPENING = regex.compile(rf"^[ \t\"'“(\[]*({_CAP})\b", regex.MULTILINE)
_SENTENCE_END = regex.compile(r"[.!?][\"'’”)\]]*[ \t]*\n?[ \t]*|\n[ \t]*\n\s*")
_LOWER_WORD = regex.compile(r"\b\p{Ll}[\p{Ll}\p{M}'’]*")
_LABEL = regex.compile(rf"^[ \t]*((?:{_CAP}[ \t]+){{0,3}}{_CAP}):[ \t]", regex.MULTILINE)
LABEL_MIN_LINES = 3
"""Lines a label must open before it counts as a speaker label."""
MAX_REGION_CHARS = 10_000
WHOLE_TEXT_SHARE = 0.5
"""When regions cover this share of a text, the text reads as prose: NER gets
all of it if it is short, else its sentences that hold a name-like capital."""
SENTENCE_WHOLE_SHARE = 0.85
"""When those sentences cover this share of a text, NER gets all of it."""
SHORT_PROSE_CHARS = 2_000
"""A text at most this long that reads as prose (:func:`reads_as_prose`) goes
to NER whole, capitalised or not: lower-case sentences ("i met john smith in
boston") hold names NER can still tag, and short texts cost little."""
PROSE_LETTER_SHARE = 0.7
PROSE_SPACE_SHARE = 0.08


def ner_regions(text: str, max_chars: int = MAX_REGION_CHARS) -> list[tuple[int, int]]:
    """``(start, end)`` spans of ``text`` (whole lines, merged when adjacent,
    each at most about ``max_chars``) that contain a capitalised word NER could
    tag. Empty when there is none."""
    if len(text) <= min(SHORT_PROSE_CHARS, max_chars) and reads_as_prose(text):
        return [(0, len(text))]
    regions: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _NAMEY.search(text, pos)
        if m is None:
            break
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end + 1
        if regions and start <= regions[-1][1] and end - regions[-1][0] <= max_chars:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
        pos = end
    covered = sum(e - s for s, e in regions)
    if regions and len(text) <= max_chars and covered >= WHOLE_TEXT_SHARE * len(text):
        if len(text) <= SHORT_PROSE_CHARS:
            return [(0, len(text))]
        return sentence_regions(text, max_chars)
    return regions


def sentence_regions(text: str, max_chars: int = MAX_REGION_CHARS) -> list[tuple[int, int]]:
    """``(start, end)`` runs of whole sentences of ``text`` (prose) that hold a
    capitalised word NER could tag (see the module docstring); the whole text
    when they cover at least ``SENTENCE_WHOLE_SHARE`` of it."""
    ordinary: set[str] | None = None
    labels = speaker_labels(text)
    regions: list[tuple[int, int]] = []
    for start, end in _sentences(text):
        sentence = text[start:end]
        label = _LABEL.match(sentence) if labels else None
        if label is not None and label.group(1) not in labels:
            label = None
        body = sentence[label.end():] if label is not None else sentence
        if not _STRONG.search(body):
            if ordinary is None:
                ordinary = set(_LOWER_WORD.findall(text))
            if all(m.group(1).lower() in ordinary for m in _OPENING.finditer(body)):
                if label is None:
                    continue
                end = start + label.end(1) + 1          # the label and its colon only
        if regions and start == regions[-1][1] and end - regions[-1][0] <= max_chars:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    if sum(e - s for s, e in regions) >= SENTENCE_WHOLE_SHARE * len(text):
        return [(0, len(text))]
    return regions


def speaker_labels(text: str) -> frozenset[str]:
    """The labels (``Maria Lopez``) opening at least ``LABEL_MIN_LINES`` lines."""
    counts: dict[str, int] = {}
    for m in _LABEL.finditer(text):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return frozenset(k for k, n in counts.items() if n >= LABEL_MIN_LINES)


def _sentences(text: str) -> list[tuple[int, int]]:
    """Contiguous ``(start, end)`` spans covering ``text``, each ending after a
    sentence end (``.``, ``!``, ``?``, closing quotes, the following blank) or a
    blank line. Line breaks inside a sentence (wrapped PDF text) do not cut it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def reads_as_prose(text: str) -> bool:
    """True when ``text`` is mostly letters and spaces (at least
    ``PROSE_LETTER_SHARE`` of it) AND is cut into words by whitespace (at least
    ``PROSE_SPACE_SHARE``: words of ~12 letters on average at most). Logs,
    numeric CSV and hex dumps fail the first test; base64 and other unbroken
    letter runs fail the second."""
    if not text:
        return False
    spaces = sum(c.isspace() for c in text)
    letters = sum(c.isalpha() for c in text)
    return (spaces >= PROSE_SPACE_SHARE * len(text)
            and letters + spaces >= PROSE_LETTER_SHARE * len(text))


def prose_fraction(text: str) -> float:
    """Share of ``text`` inside NER regions (for benchmarks and tests)."""
    if not text:
        return 0.0
    return sum(e - s for s, e in ner_regions(text)) / len(text)
