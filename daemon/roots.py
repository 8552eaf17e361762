"""Root patterns such as ``/srv/agents/{tenant}/sessions/{session}``.

A pattern's static prefix (``/srv/agents``) is what the daemon watches; a
concrete path under it matches when its leading components fill every
placeholder (one path component each). The placeholders become labels on the
asset; ``{session}`` names the session."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class RootMatch:
    pattern: str
    root_dir: str            # the concrete directory the pattern matched
    labels: dict[str, str]


@dataclass(frozen=True)
class RootPattern:
    pattern: str

    @property
    def base(self) -> str:
        """The longest leading directory without a placeholder."""
        parts = self.pattern.rstrip("/").split("/")
        static: list[str] = []
        for p in parts:
            if "{" in p:
                break
            static.append(p)
        return "/".join(static) or "/"

    @property
    def depth(self) -> int:
        return len(self.pattern.rstrip("/").split("/"))

    def _regex(self) -> re.Pattern[str]:
        out, pos = "", 0
        for m in _PLACEHOLDER.finditer(self.pattern.rstrip("/")):
            out += re.escape(self.pattern[pos:m.start()]) + f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        out += re.escape(self.pattern.rstrip("/")[pos:])
        return re.compile(out + r"(?=/|$)")

    def match(self, path: str) -> RootMatch | None:
        """Match ``path`` (a file or directory at or below a root dir)."""
        m = self._regex().match(os.path.normpath(path))
        if not m:
            return None
        labels = {k: v for k, v in m.groupdict().items() if v not in (".", "..")}
        if len(labels) != len(m.groupdict()):
            return None
        return RootMatch(self.pattern, m.group(0), labels)


def match_any(patterns: list[RootPattern], path: str) -> RootMatch | None:
    for p in patterns:
        hit = p.match(path)
        if hit:
            return hit
    return None
