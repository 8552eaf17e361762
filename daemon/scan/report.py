"""How ``scratchwarden scan`` prints findings: as JSON fields, or one line per
finding the way secret scanners print them (``path:line:column: TYPE``), so
an editor or a CI log links to the place. Never a value: type, place, score,
recognizer."""

from __future__ import annotations

from typing import Any

import click

from inventory.records import FileObservation, Finding


def finding_json(f: Finding) -> dict[str, Any]:
    """A finding's JSON fields; ``line``/``column``/``offset`` for text
    formats (position in the file), beside the unit ``locator``."""
    out: dict[str, Any] = {"entity_type": f.entity_type, "start": f.start, "end": f.end,
                           "score": f.score, "recognizer": f.recognizer, "locator": f.locator}
    if f.line is not None:
        out.update(line=f.line, column=f.column, offset=f.offset)
    return out


def finding_line(path: str, f: Finding) -> str:
    """``path:line:column: TYPE score recognizer`` for a positioned finding;
    else ``path: TYPE score recognizer [locator]`` (documents, archives)."""
    tail = f"{f.entity_type} {f.score:.2f} {f.recognizer}"
    if f.line is not None:
        return f"{path}:{f.line}:{f.column}: {tail}"
    where = f" [{f.locator}]" if f.locator else ""
    return f"{path}: {tail}{where}"


class LinesOut:
    """``scan --format lines``: one line per finding at or above the threshold;
    files that could not be scanned are reported on stderr with the reason."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.hits = 0

    def add(self, obs: FileObservation) -> None:
        kept = [f for f in obs.findings if f.score >= self.threshold]
        self.hits += bool(kept)
        for f in sorted(kept, key=lambda f: (f.offset if f.offset is not None else f.start)):
            click.echo(finding_line(obs.path, f))
        if obs.status.value != "scanned":
            click.echo(f"{obs.path}: {obs.status.value} ({obs.reason})", err=True)

    def close(self, summary: dict[str, int]) -> None:
        pass
