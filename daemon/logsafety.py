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


class _CapFilter(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


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
