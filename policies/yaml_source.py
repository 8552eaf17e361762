"""YAML with line numbers, for files that humans edit and reviewers read.

Policy files and the node configuration are both parsed here so that every
error can say ``file:line``. We compose the YAML node graph with a
``SafeLoader`` subclass and build plain ``dict``/``list`` values ourselves,
recording the line of every key and value in a :class:`LineMap` keyed by the
path of keys/indices (``("rules", 0, "match")``).

Deliberate departures from PyYAML's YAML 1.1 defaults, because a policy that
silently means something else is a security bug:

* only ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off`` stay
  strings: the "Norway problem"); ``1:30`` is a string, not 90;
* duplicate keys are errors naming both lines (PyYAML keeps the last one);
* merge keys (``<<``) are rejected: a reviewer must see every key where it applies;
* a file holds exactly one document;
* at most ``MAX_VALUES`` values per file, counted after aliases are expanded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scratchwarden.errors import ConfigError, PolicyError, PolicyErrors

LocatedError = TypeVar("LocatedError", PolicyError, ConfigError)
PathKey = tuple[str | int, ...]

_SHOWN_VALUE_MAX = 40
# Aliases are expanded into plain values, so ten nested aliases of ten make a
# file of 500 bytes worth 10^10 values ("billion laughs"); a real policy or
# configuration holds a few thousand.
MAX_VALUES = 100_000


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-schema scalars (plus timestamps), instead of YAML 1.1's."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""],
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:timestamp",
    re.compile(r"""^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}
                |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}
                 (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$""", re.X),
    list("0123456789"),
)


class LineLoader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
    yaml.constructor.SafeConstructor, _Resolver,
):
    """A SafeLoader with YAML 1.2 scalar resolution. Used only to compose nodes
    and to construct scalars; collections are built by :func:`_build`."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """YAML 1.2 integers: ``010`` is ten (YAML 1.1 read it as octal 8)."""
        text = str(self.construct_scalar(node))
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)


LineLoader.add_constructor(  # type: ignore[type-var]  # the stub rejects subclasses
    "tag:yaml.org,2002:int", LineLoader.construct_yaml_int)


@dataclass(frozen=True)
class LineMap:
    """Where each key and value of one YAML file sits (1-based lines)."""

    file: str
    key_lines: dict[PathKey, int] = field(default_factory=dict)
    value_lines: dict[PathKey, int] = field(default_factory=dict)
    scalars: set[PathKey] = field(default_factory=set)

    def line(self, path: Sequence[str | int] = ()) -> int:
        """Best line for ``path``: a scalar's own line, else the line of the key
        that introduces the collection; unknown paths fall back to the nearest
        known ancestor (a missing key points at its parent mapping)."""
        key = tuple(path)
        while key:
            if key in self.scalars and key in self.value_lines:
                return self.value_lines[key]
            if key in self.key_lines:
                return self.key_lines[key]
            if key in self.value_lines:
                return self.value_lines[key]
            key = key[:-1]
        return self.value_lines.get((), 1)

    def resolve(self, loc: Sequence[Any]) -> PathKey:
        """Map a pydantic error location onto a data path, skipping the parts
        pydantic adds (union tags, validator names) that are not keys."""
        path: PathKey = ()
        for part in loc:
            if isinstance(part, (str, int)) and (path + (part,)) in self.value_lines:
                path = path + (part,)
        return path

    def sub(self, prefix: PathKey) -> LineMap:
        """The part of this map below ``prefix``, re-rooted (for validating one
        section of a document on its own)."""
        n = len(prefix)

        def cut(d: Mapping[PathKey, int]) -> dict[PathKey, int]:
            return {k[n:]: v for k, v in d.items() if k[:n] == prefix}

        return LineMap(self.file, cut(self.key_lines), cut(self.value_lines),
                       {k[n:] for k in self.scalars if k[:n] == prefix})


def load_yaml_with_lines(
    path: str | Path, *, error: type[LocatedError] = PolicyError,  # type: ignore[assignment]
) -> tuple[Any, LineMap]:
    """Parse one YAML file into plain data plus its :class:`LineMap`.

    Raises ``error`` (``PolicyError`` or ``ConfigError``) with file:line for
    unreadable files, syntax errors, duplicate keys and merge keys."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot read the file: {e.__class__.__name__}: {e}", file=name) from e
    return load_yaml_text(text, name, error=error)


def load_yaml_text(
    text: str, name: str, *, error: type[LocatedError] = PolicyError,  # type: ignore[assignment]
) -> tuple[Any, LineMap]:
    """Like :func:`load_yaml_with_lines` for text already in memory."""
    lines = LineMap(name)
    try:
        loader = LineLoader(text)  # rejects characters YAML does not allow, before parsing
    except yaml.reader.ReaderError as e:
        raise _unprintable(e, text, name, error) from e
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        data = _build(loader, node, (), lines, error, set())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = e.problem or e.context or "invalid YAML"
        raise error(f"YAML syntax error: {problem}", file=name, line=line) from e
    except yaml.reader.ReaderError as e:
        raise _unprintable(e, text, name, error) from e
    except yaml.YAMLError as e:
        raise error(f"YAML error: {e}", file=name) from e
    finally:
        loader.dispose()
    return data, lines


def _unprintable(e: yaml.reader.ReaderError, text: str, name: str,
                 error: type[LocatedError]) -> LocatedError:
    """A control character YAML does not allow (a NUL, an escape): where it is,
    by code point only."""
    line = text.count("\n", 0, max(e.position, 0)) + 1
    return error(f"YAML syntax error: character U+{e.character:04X} is not allowed in YAML",
                 file=name, line=line)


def _build(
    loader: LineLoader, node: yaml.Node, path: PathKey, lines: LineMap,
    error: type[LocatedError], active: set[int],
) -> Any:
    lines.value_lines.setdefault(path, node.start_mark.line + 1)
    if len(lines.value_lines) > MAX_VALUES:
        raise error(f"expected at most {MAX_VALUES} values in one file, found more (aliases "
                    "of aliases multiply: write the values out)",
                    file=lines.file, line=_key_line(lines, path, node.start_mark.line + 1))
    if isinstance(node, yaml.ScalarNode):
        lines.scalars.add(path)
        return loader.construct_object(node, deep=True)
    if id(node) in active:
        raise error("recursive YAML alias", file=lines.file, line=node.start_mark.line + 1)
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_build(loader, item, path + (i,), lines, error, active)
                    for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return _build_mapping(loader, node, path, lines, error, active)
    finally:
        active.discard(id(node))
    raise error(f"unsupported YAML node {node.tag}", file=lines.file,
                line=node.start_mark.line + 1)


def _key_line(lines: LineMap, path: PathKey, default: int) -> int:
    """The line of the innermost key on ``path`` (where an alias is used, not
    where its anchor is)."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines.key_lines:
            return lines.key_lines[path[:n]]
    return default


def _build_mapping(
    loader: LineLoader, node: yaml.MappingNode, path: PathKey, lines: LineMap,
    error: type[LocatedError], active: set[int],
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if key_node.tag == "tag:yaml.org,2002:merge" or (
                key_node.value == "<<" and key_node.style is None):
            raise error("merge keys (<<) are not supported; write the keys out",
                        file=lines.file, line=key_line)
        if not isinstance(key_node, yaml.ScalarNode):
            raise error("a mapping key must be a plain scalar, found a collection",
                        file=lines.file, line=key_line)
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise error(f"duplicate key {key!r} (first on line {seen[key]})",
                        file=lines.file, line=key_line)
        seen[key] = key_line
        child = path + (key,)
        lines.key_lines[child] = key_line
        out[key] = _build(loader, value_node, child, lines, error, active)
    return out


def dotted(path: Sequence[Any]) -> str:
    """``("rules", 0, "match")`` -> ``rules[0].match`` for messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def errors_from_validation(
    exc: ValidationError, lines: LineMap, *, error: type[LocatedError] = PolicyError,  # type: ignore[assignment]
    prefix: PathKey = (), show_values: bool = True,
    describe: Callable[[ErrorDetails], str | None] | None = None,
    model: type[BaseModel] | None = None,
) -> list[LocatedError]:
    """One located error per pydantic error, in file order.

    ``prefix`` is prepended to each location (for sections validated alone);
    ``show_values=False`` keeps input values out of messages (config files may
    hold secrets); ``describe`` may rewrite a message (return None to keep);
    ``model``, the validated model class, lets unknown-key errors list the
    keys that are allowed there."""
    out: list[tuple[int, LocatedError]] = []
    for detail in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in detail["loc"] if isinstance(p, (str, int)))
        path = lines.resolve(loc)
        message = (describe(detail) if describe else None) or _message(detail, show_values)
        if detail["type"] == "extra_forbidden" and model is not None:
            allowed = allowed_keys(model, detail["loc"][:-1])
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
        where = dotted(path + _missing_tail(loc, path, detail))
        line = lines.line(path)
        out.append((line, error(f"{where}: {message}", file=lines.file, line=line)))
    out.sort(key=lambda pair: pair[0])
    return [e for _, e in out]


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate(
    model: type[ModelT], data: Any, lines: LineMap, *,
    error: type[LocatedError] = PolicyError,  # type: ignore[assignment]
    show_values: bool = True,
) -> ModelT:
    """``model.model_validate(data)``, raising ``error`` with file:line instead of
    a ValidationError. With several problems the first one's file:line leads and
    the message lists every one (``PolicyErrors`` for policy files).

    Raises:
        PolicyErrors: (or ``error``'s class) every validation problem with file:line.
    """
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = errors_from_validation(e, lines, error=error, show_values=show_values,
                                        model=model)
        if error is PolicyError:
            raise PolicyErrors(list(errors)) from e  # type: ignore[arg-type]
        if len(errors) == 1:
            raise errors[0] from e
        first = errors[0]
        rest = "\n".join(str(x) for x in errors[1:])
        raise error(f"{first.reason}\n{rest}", file=first.file, line=first.line) from e


def allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys a mapping at pydantic location ``loc`` may hold (aliases used)."""
    current: Any = model
    for part in loc:
        fields = _fields(current)
        if isinstance(part, str) and part in fields:
            current = fields[part]
        elif not isinstance(part, str) or fields:
            current = _inner_model(current)
    return sorted(_fields(current))


def _fields(tp: Any) -> dict[str, Any]:
    """alias-or-name -> annotation, if ``tp`` (unwrapped) is a model class."""
    m = _inner_model(tp)
    if m is None:
        return {}
    return {(f.alias or n): f.annotation for n, f in m.model_fields.items()}


def _inner_model(tp: Any) -> type[BaseModel] | None:
    """The model class inside ``tp`` (through Optional, list, dict, Annotated)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in reversed(get_args(tp)):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _missing_tail(loc: PathKey, path: PathKey, detail: ErrorDetails) -> PathKey:
    """For a missing key, name it (it is not in the file, so not in ``path``)."""
    if detail["type"] == "missing" and loc and loc[-1] not in path[-1:]:
        return (loc[-1],)
    return ()


def _message(detail: ErrorDetails, show_values: bool) -> str:
    kind = detail["type"]
    found = _found(detail.get("input"), show_values)
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)"
    ctx = detail.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return f"{ctx['error']}"
    if kind == "assertion_error" and "error" in ctx:
        return f"{ctx['error']}"
    expected = detail["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return f"expected {expected}, found {found}"


def _found(value: Any, show_values: bool) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping", type(None): "nothing (null)"}.get(type(value), type(value).__name__)
    if show_values and isinstance(value, (str, int, float, bool)):
        text = repr(value)
        if len(text) <= _SHOWN_VALUE_MAX:
            return f"{kind} {text}"
    return kind
