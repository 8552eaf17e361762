"""Third-party loggers that can carry file text are capped, whatever the
verbosity asked for: presidio-analyzer's DEBUG output prints the context words
around each result (detected values among them), spaCy and tldextract may echo
input. Our own loggers never receive a value (invariant 1); these guards keep
the libraries from breaking it for us. Chatty-but-harmless loggers (alembic,
apscheduler) are kept at WARNING so operators see what matters."""

from __future__ import annotations

import logging

# loggers that may print document text: never below ERROR
TEXT_BEARING = ("presidio-analyzer", "presidio_analyzer", "spacy", "tldextract", "thinc",
                "pypdf", "docx")
# loggers that are merely chatty
CHATTY = ("alembic", "apscheduler", "filelock", "urllib3", "watchdog")


WITHHELD = "[arguments withheld: a library message may quote file text]"


class _CapFilter(logging.Filter):
    """Drops records below ``level``; strips what passes of anything that can
    quote file text. Presidio logs at ERROR too, with the value as an argument
    (``IbanRecognizer``: "Failed to validate text %s"), and library exceptions
    quote it ("Did not find word '<value>'"). What is kept: the logger, the
    message template (never its arguments; a message without arguments may be
    an f-string of text, so it is withheld too) and the exception type."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return False
        template = str(record.msg) if record.args else "message"
        exc = record.exc_info[0] if record.exc_info else None
        kind = f" ({exc.__name__})" if exc is not None else ""
        record.msg = f"{template}{kind} {WITHHELD}"
        record.args = None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def quiet_third_party() -> None:
    """Idempotent. A filter (not only a level) so that a later ``setLevel`` by
    the library itself cannot re-open the tap."""
    for name in TEXT_BEARING:
        lg = logging.getLogger(name)
        lg.setLevel(logging.ERROR)
        if not any(isinstance(f, _CapFilter) for f in lg.filters):
            lg.addFilter(_CapFilter(logging.ERROR))
    for name in CHATTY:
        lg = logging.getLogger(name)
        if lg.level == logging.NOTSET or lg.level < logging.WARNING:
            lg.setLevel(logging.WARNING)
