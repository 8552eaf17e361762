"""JSON-lines logging for the daemon: one object per line on stdout, which
systemd hands to the journal.

Each line carries ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, the
thread name, the structured ``extra={...}`` fields the code passed, and
``exc`` (exception type, message and traceback) when there is one.

The rule (invariant 1): code never passes a detected value to a logger, not in
the message, its arguments nor ``extra``. Log types, counts, offsets, paths and
reason codes. ``RedactValueFields`` is only the safety net behind that rule: it
blanks any extra field whose *name* says it may hold content (``value``,
``text``, ``match``, ``snippet``, ...). It cannot see a value hidden in a
message string; review is what keeps those out. Third-party loggers that can
echo document text are capped by ``daemon.platform.log_safety``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from daemon.platform.log_safety import quiet_third_party
from scratchwarden.errors import ConfigError

REDACTED = "[redacted]"

#: an extra field whose name matches is never written (case-insensitive)
VALUE_FIELD = re.compile(
    r"(^|_)(value|values|text|texts|match|matches|matched|snippet|content|contents|"
    r"context|raw|secret|secrets|token|password|plaintext|sample|excerpt)(_|$)",
    re.IGNORECASE)

#: attributes every LogRecord has; anything else came from ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class RedactValueFields(logging.Filter):
    """Blank extra fields named like content. Never drops the record: losing
    an error line would hide a problem, and the name alone is enough to act."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in extra_fields(record):
            if VALUE_FIELD.search(key):
                setattr(record, key, REDACTED)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record, newline-free (``json.dumps`` escapes them)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "thread": record.threadName,
        }
        for key, value in extra_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            doc["exc"] = {"type": record.exc_info[0].__name__,
                          "message": str(record.exc_info[1]),
                          "traceback": self.formatException(record.exc_info)}
        return json.dumps(doc, default=str, ensure_ascii=False, separators=(",", ":"))


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker type so a second ``configure_json_logging`` replaces, not adds."""


def _replaceable(handler: logging.Handler) -> bool:
    """Ours from an earlier call, or a plain console handler (``basicConfig``,
    a CLI's human-readable one) that would print every line a second time.
    Handlers writing elsewhere (files, pytest's capture) are left alone."""
    if isinstance(handler, _JsonHandler):
        return True
    consoles = {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__}
    return type(handler) is logging.StreamHandler and handler.stream in consoles


def configure_json_logging(level: str | int = "info", *,
                           stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stdout) as JSON lines. Idempotent:
    calling it again replaces the handler (a reload may change the level), and
    a plain console handler installed earlier is replaced too.

    Raises:
        ConfigError: ``level`` is not a known log level.
    """
    numeric = _LEVELS.get(level.lower()) if isinstance(level, str) else level
    if numeric is None:
        raise ConfigError(f"expected a log level among {sorted(_LEVELS)}, found {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if _replaceable(h)]:
        root.removeHandler(old)
    handler = _JsonHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(RedactValueFields())
    root.addHandler(handler)
    root.setLevel(numeric)
    quiet_third_party()
    logging.captureWarnings(True)
    return handler
