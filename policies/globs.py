"""Path globs and root patterns: validation and matching, as pure string work.

Glob syntax (one syntax for rules, root excludes and red lines):

* ``*`` any characters except ``/``; ``?`` one character except ``/``;
* ``[abc]``, ``[a-z]``, ``[!abc]`` a character class (never matches ``/``);
* ``**`` as a whole path segment: zero or more directories (``a/**/b``,
  ``**/x``, ``dir/**``);
* a pattern without ``/`` matches the base name at any depth (``*.csv``);
  one starting with ``/`` matches the absolute path; any other matches the path
  relative to the root directory; ``~/`` (red lines only) is the agent's home.

Brace expansion is not supported (list patterns separately): ``{name}`` is
reserved for placeholders.
"""

from __future__ import annotations

import functools
import re

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RESERVED_LABELS = frozenset({"root", "path"})


def check_glob(pattern: str, *, placeholders: frozenset[str] = frozenset(),
               allow_home: bool = False) -> str:
    """Return ``pattern`` if valid, else raise ``ValueError`` saying what is wrong.

    ``placeholders`` are the ``{name}`` forms allowed in this context."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("expected a non-empty glob pattern")
    body = pattern
    if pattern.startswith("~"):
        if not allow_home:
            raise ValueError(f"glob {pattern!r}: '~' (home) is only allowed in red-line paths")
        if pattern != "~" and not pattern.startswith("~/"):
            raise ValueError(f"glob {pattern!r}: '~user' is not supported; use '~/'")
    for m in PLACEHOLDER.finditer(pattern):
        if m.group(1) not in placeholders:
            allowed = ", ".join(f"{{{p}}}" for p in sorted(placeholders)) or "none here"
            raise ValueError(f"glob {pattern!r}: unknown placeholder {m.group(0)} "
                             f"(allowed: {allowed})")
    body = PLACEHOLDER.sub("x", pattern)
    if "{" in body or "}" in body:
        raise ValueError(f"glob {pattern!r}: braces are not supported; list each pattern")
    if "\x00" in body:
        raise ValueError(f"glob {pattern!r}: contains a NUL character")
    for segment in body.split("/"):
        if "**" in segment and segment != "**":
            raise ValueError(f"glob {pattern!r}: '**' must be a whole path segment "
                             f"(like a/**/b), found {segment!r}")
    _translate(body)  # raises on an unbalanced '['
    return pattern


def _class_end(glob: str, start: int) -> int:
    """Index just after the ``]`` closing the class opened at ``start`` (in one
    path segment: a class never spans a ``/``)."""
    i = start + 1
    if i < len(glob) and glob[i] == "!":
        i += 1
    if i < len(glob) and glob[i] == "]":
        i += 1
    while i < len(glob) and glob[i] != "]":
        i += 1
    if i >= len(glob):
        raise ValueError(f"glob {glob!r}: '[' at position {start + 1} is never closed by ']'")
    return i + 1


def _class_regex(body: str) -> str:
    negate = body.startswith("!")
    inner = body[1:] if negate else body
    escaped = inner.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
    return f"[^/{escaped}]" if negate else f"(?!/)[{escaped}]"


@functools.lru_cache(maxsize=4096)
def _translate(glob: str) -> str:
    out: list[str] = []
    segments = glob.split("/")
    for n, segment in enumerate(segments):
        last = n == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        i = 0
        while i < len(segment):
            c = segment[i]
            if c == "*":
                out.append("[^/]*")
                i += 1
            elif c == "?":
                out.append("[^/]")
                i += 1
            elif c == "[":
                end = _class_end(segment, i)
                out.append(_class_regex(segment[i + 1:end - 1]))
                i = end
            else:
                out.append(re.escape(c))
                i += 1
        if not last:
            out.append("/")
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def compile_glob(glob: str) -> re.Pattern[str]:
    """A full-match regex for an already-checked glob without placeholders."""
    return re.compile(_translate(glob), re.DOTALL)


def glob_matches(pattern: str, path: str, relative: str | None) -> bool:
    """Match ``pattern`` against a file: slash-free patterns against the base
    name, absolute ones against ``path``, others against ``relative`` (the path
    below its root directory; ``None`` when unknown: no match)."""
    if "/" not in pattern:
        return compile_glob(pattern).fullmatch(path.rsplit("/", 1)[-1]) is not None
    if pattern.startswith("/"):
        return compile_glob(pattern).fullmatch(path) is not None
    if relative is None:
        return False
    return compile_glob(pattern.removeprefix("./")).fullmatch(relative) is not None


def check_root_pattern(pattern: str) -> str:
    """A root path: absolute, normalised, literal text plus ``{placeholders}``
    (each used once, matching one path segment or part of one)."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ValueError(f"expected an absolute path pattern like /srv/agents/{{tenant}}, "
                         f"found {pattern!r}")
    if pattern != "/" and (pattern.endswith("/") or "//" in pattern):
        raise ValueError(f"root path {pattern!r}: remove the trailing or doubled '/'")
    if any(seg in (".", "..") for seg in pattern.split("/")):
        raise ValueError(f"root path {pattern!r}: '.' and '..' segments are not allowed")
    names = PLACEHOLDER.findall(pattern)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"root path {pattern!r}: placeholder {{{dupes[0]}}} appears twice")
    reserved = sorted(set(names) & _RESERVED_LABELS)
    if reserved:
        raise ValueError(f"root path {pattern!r}: {{{reserved[0]}}} is a reserved name")
    rest = PLACEHOLDER.sub("", pattern)
    bad = sorted(set(rest) & set("{}*?[]\x00"))
    if bad:
        raise ValueError(f"root path {pattern!r}: {bad[0]!r} is not allowed; a root is literal "
                         f"text and {{placeholders}} only")
    return pattern


@functools.lru_cache(maxsize=1024)
def compile_root(pattern: str) -> re.Pattern[str]:
    """Regex matching a root directory or anything below it; placeholders are
    named groups, the part below the root is group ``__rest``."""
    out, pos = [], 0
    for m in PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+?)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    base = "".join(out)
    tail = "(?:/(?P<__rest>.+))?" if pattern != "/" else "(?P<__rest>.*)"
    return re.compile(base + tail, re.DOTALL)


def expand_placeholders(pattern: str, values: dict[str, str], home: str | None = None) -> str:
    """Fill ``{name}`` placeholders (and a leading ``~``, from ``home``) in a
    red-line pattern for one agent; raise ``ValueError`` naming what is missing.
    A value is inserted literally: glob characters in it are bracket-escaped."""
    if pattern == "~" or pattern.startswith("~/"):
        if home is None:
            raise ValueError(f"pattern {pattern!r} needs the agent's home directory")
        pattern = "{home}" + pattern[1:]
        values = {**values, "home": home}

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise ValueError(f"pattern {pattern!r}: no value for {{{name}}}")
        return re.sub(r"([*?\[])", r"[\1]", values[name])

    return PLACEHOLDER.sub(fill, pattern)
