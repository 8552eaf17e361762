"""JSON-lines log shape and the value-field safety net."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from daemon.platform.json_logging import REDACTED, configure_json_logging
from daemon.platform.log_safety import WITHHELD
from scratchwarden.errors import ConfigError

SECRET_LOOKING = "078-05-1120"  # noqa: S105 - a published sample SSN


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buf = io.StringIO()
    configure_json_logging("debug", stream=buf)
    yield buf
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    logging.captureWarnings(False)


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_one_json_object_per_line_with_extras(stream: io.StringIO) -> None:
    log = logging.getLogger("scratchwarden.test")
    log.info("scanned %d files\nin a batch", 3, extra={"queued": 5, "root": "/srv/agents"})
    (doc,) = _lines(stream)
    assert doc["level"] == "info"
    assert doc["logger"] == "scratchwarden.test"
    assert doc["msg"] == "scanned 3 files\nin a batch"  # escaped: still one line
    assert doc["queued"] == 5 and doc["root"] == "/srv/agents"
    assert isinstance(doc["ts"], str) and str(doc["ts"]).endswith("+00:00")
    assert len(stream.getvalue().splitlines()) == 1


def test_exceptions_are_structured(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("scratchwarden.test").exception("failed")
    (doc,) = _lines(stream)
    exc = doc["exc"]
    assert isinstance(exc, dict)
    assert exc["type"] == "RuntimeError" and exc["message"] == "boom"
    assert "Traceback" in exc["traceback"]


@pytest.mark.parametrize("field", ["value", "matched_text", "text", "snippet", "raw_value",
                                   "CONTEXT", "secret", "match"])
def test_value_named_extras_are_redacted(stream: io.StringIO, field: str) -> None:
    logging.getLogger("scratchwarden.test").warning(
        "finding", extra={field: SECRET_LOOKING, "entity_type": "US_SSN", "start": 4})
    (doc,) = _lines(stream)
    assert doc[field] == REDACTED
    assert doc["entity_type"] == "US_SSN" and doc["start"] == 4
    assert SECRET_LOOKING not in stream.getvalue()


def test_configuring_twice_replaces_the_handler(stream: io.StringIO) -> None:
    second = io.StringIO()
    configure_json_logging("warning", stream=second)
    log = logging.getLogger("scratchwarden.test")
    log.info("hidden")
    log.warning("shown")
    assert stream.getvalue() == ""
    assert [d["msg"] for d in _lines(second)] == ["shown"]


def test_text_bearing_third_party_loggers_are_capped(stream: io.StringIO) -> None:
    logging.getLogger("presidio-analyzer").warning("context words: %s", SECRET_LOOKING)
    assert SECRET_LOOKING not in stream.getvalue()


def test_a_library_error_keeps_its_template_and_loses_its_arguments(
        stream: io.StringIO) -> None:
    lib = logging.getLogger("presidio-analyzer")
    lib.error("Failed to validate text %s", SECRET_LOOKING)  # as IbanRecognizer does
    lib.error(f"Did not find word '{SECRET_LOOKING}'")  # an f-string: withheld whole
    try:
        raise ValueError(f"bad {SECRET_LOOKING}")
    except ValueError:
        lib.exception("recognizer failed: %r", SECRET_LOOKING)
    assert SECRET_LOOKING not in stream.getvalue()
    msgs = [str(d["msg"]) for d in _lines(stream)]
    assert len(msgs) == 3 and all(m.endswith(WITHHELD) for m in msgs)
    assert msgs[0].startswith("Failed to validate text %s")
    assert msgs[1].startswith("message ") and "(ValueError)" in msgs[2]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected a log level"):
        configure_json_logging("loud", stream=io.StringIO())


def test_a_plain_console_handler_is_replaced_not_doubled(stream: io.StringIO) -> None:
    import sys

    root = logging.getLogger()
    plain = logging.StreamHandler(sys.stderr)
    root.addHandler(plain)
    configure_json_logging("info", stream=stream)
    assert plain not in root.handlers
    assert sum(1 for h in root.handlers if h.formatter.__class__.__name__ ==
               "JsonLinesFormatter") == 1
