"""The roots the daemon watches: from the policy (name, owner) and from the
node config (bare patterns). Patterns such as
``/srv/agents/{tenant}/sessions/{session}`` are compiled by the policy
package (``policies.globs.compile_root``), so the daemon and the policy engine
agree on what a path belongs to. A pattern's static prefix is what inotify
watches; the placeholder values become asset labels, ``{session}`` names the
session."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from policies.globs import PLACEHOLDER, compile_root


@dataclass(frozen=True)
class RootMatch:
    root: WatchRoot
    root_dir: str            # the concrete directory the pattern matched
    labels: dict[str, str]

    @property
    def pattern(self) -> str:
        return self.root.pattern

    @property
    def key(self) -> str:
        """What the inventory's ``root`` column holds: the root's name."""
        return self.root.name


@dataclass(frozen=True)
class WatchRoot:
    pattern: str
    name: str = ""
    owner: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.pattern)

    @property
    def base(self) -> str:
        """The longest leading directory without a placeholder."""
        static: list[str] = []
        for part in self.pattern.split("/"):
            if PLACEHOLDER.search(part):
                break
            static.append(part)
        return "/".join(static) or "/"

    def match(self, path: str) -> RootMatch | None:
        """Match a normalised absolute path at or below a root directory; the
        root directory must itself fill every placeholder."""
        if not path.startswith("/") or posixpath.normpath(path) != path:
            return None
        m = compile_root(self.pattern).fullmatch(path)
        if m is None:
            return None
        rest = m.group("__rest") or ""
        root_dir = (path[: len(path) - len(rest)].rstrip("/") or "/") if rest else path
        labels = {k: v for k, v in m.groupdict().items() if k != "__rest"}
        return RootMatch(self, root_dir, labels)


def match_any(roots: list[WatchRoot], path: str) -> RootMatch | None:
    """The deepest matching root (declaration order breaks ties)."""
    best: RootMatch | None = None
    for r in roots:
        hit = r.match(path)
        if hit and (best is None or len(hit.root_dir) > len(best.root_dir)):
            best = hit
    return best


class RootSet:
    """The roots in force, shared by the daemon's roles. A reload replaces the
    whole tuple at once, so a reader sees the old roots or the new ones,
    never a mix."""

    def __init__(self, roots: Sequence[WatchRoot] = ()) -> None:
        self._roots: tuple[WatchRoot, ...] = tuple(roots)

    def __iter__(self) -> Iterator[WatchRoot]:
        return iter(self._roots)

    def __bool__(self) -> bool:
        return bool(self._roots)

    def replace(self, roots: Sequence[WatchRoot]) -> None:
        self._roots = tuple(roots)

    def match(self, path: str) -> RootMatch | None:
        """The deepest root ``path`` lies in, or None."""
        return match_any(list(self._roots), path) if self._roots else None

    def bases(self) -> list[str]:
        """The directories to watch: each root pattern's static prefix, once."""
        return sorted({r.base for r in self._roots})
