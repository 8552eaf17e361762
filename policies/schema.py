"""The policy document, as strict pydantic models.

One YAML file is one :class:`PolicyDocument`; a policy directory merges them
into one :class:`Policy` (see ``policies.loader``). Unknown keys are errors,
``version: 1`` is required, durations/sizes/globs are parsed here so that a
mistake is reported with file:line before anything runs.

Shape (every section optional in a single file)::

    version: 1
    mode: enforce                     # default for rules and red lines (audit if unset)
    roots:    [{name, path, owner, exclude, session: {end_marker, idle_end}}]
    classes:  {name: [ENTITY, ...] | {entities: [...], min_score: 0.6}}
    rules:    [{name, match: {...}, mode, record | encrypt | quarantine | retain}]
    red_lines: [{id, reason, mode, may_degrade, deny: [...], outside|paths|ports|except_ports,
                 truncate_check}]
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from policies import globs
from policies.units import format_duration, parse_duration, parse_size

SCHEMA_VERSION = 1
RED_LINE_PLACEHOLDERS = frozenset({"session_dir", "home"})


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,62}", value):
        raise ValueError(f"expected a name of lower-case letters, digits, '-', '_' or '.' "
                         f"(at most 63, starting with a letter or digit), found {value!r}")
    return value


def _entity(value: str) -> str:
    if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", value):
        raise ValueError(f"expected an entity type in upper case like US_SSN, found {value!r}")
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError(f"expected an owner e-mail address like team@example.com, "
                         f"found {value!r}")
    return value


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{v!r} is listed twice")
        seen.add(v)
    return values


Name = Annotated[str, AfterValidator(_name)]
EntityType = Annotated[str, AfterValidator(_entity)]
Email = Annotated[str, AfterValidator(_email)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration),
                     PlainSerializer(format_duration, return_type=str)]
Size = Annotated[int, BeforeValidator(parse_size)]
Score = Annotated[float, BeforeValidator(lambda v: float(v) if type(v) is int else v),
                  Field(ge=0.0, le=1.0)]
Glob = Annotated[str, AfterValidator(globs.check_glob)]
RedLineGlob = Annotated[str, AfterValidator(
    lambda p: globs.check_glob(p, placeholders=RED_LINE_PLACEHOLDERS, allow_home=True))]
RootPattern = Annotated[str, AfterValidator(globs.check_root_pattern)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Mode(enum.StrEnum):
    AUDIT = "audit"
    ENFORCE = "enforce"


class RetainFrom(enum.StrEnum):
    FIRST_SEEN = "first_seen"
    MODIFIED = "modified"
    SESSION_END = "session_end"


# ---------------------------------------------------------------- roots


class SessionEnd(StrictModel):
    """How the daemon tells that a session has ended: a marker file appears in
    the session directory, or nothing in it changed for ``idle_end``."""

    end_marker: str | None = None
    idle_end: Duration | None = None

    @field_validator("end_marker")
    @classmethod
    def _plain_file_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or "/" in v or v in (".", "..")):
            raise ValueError(f"expected a plain file name like .session-done, found {v!r}")
        return v

    @model_validator(mode="after")
    def _some_signal(self) -> SessionEnd:
        if self.end_marker is None and self.idle_end is None:
            raise ValueError("set end_marker, idle_end or both")
        return self


class Root(StrictModel):
    """A directory tree to watch. ``path`` may hold ``{placeholders}``; their
    values become asset labels, and ``{session}`` names the session."""

    name: Name
    path: RootPattern
    owner: Email
    exclude: list[Glob] = Field(default_factory=list)
    session: SessionEnd | None = None

    @property
    def placeholders(self) -> list[str]:
        return globs.PLACEHOLDER.findall(self.path)


# ---------------------------------------------------------------- classes


class DataClass(StrictModel):
    entities: Annotated[list[EntityType], AfterValidator(_unique), Field(min_length=1)]
    min_score: Score | None = None


def _class_short_form(value: Any) -> Any:
    return {"entities": value} if isinstance(value, list) else value


ClassSpec = Annotated[DataClass, BeforeValidator(_class_short_form)]


# ---------------------------------------------------------------- rules


class SizeRange(StrictModel):
    min: Size | None = None
    max: Size | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SizeRange:
        if self.min is None and self.max is None:
            raise ValueError("set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min} bytes) is larger than max ({self.max} bytes)")
        return self


class AgeRange(StrictModel):
    older_than: Duration | None = None
    younger_than: Duration | None = None
    since: Literal["first_seen", "modified"] = "modified"

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.older_than is None and self.younger_than is None:
            raise ValueError("set older_than, younger_than or both")
        if (self.older_than is not None and self.younger_than is not None
                and self.older_than >= self.younger_than):
            raise ValueError("older_than must be shorter than younger_than (nothing can match)")
        return self


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Match(StrictModel):
    """All given conditions must hold; within a list, any item may."""

    roots: Annotated[list[Name], AfterValidator(_unique)] | None = None
    classes: Annotated[list[Name], AfterValidator(_unique), Field(min_length=1)] | None = None
    entities: Annotated[list[EntityType], AfterValidator(_unique),
                        Field(min_length=1)] | None = None
    min_score: Score | None = None
    min_count: Annotated[int, Field(ge=1)] = 1
    paths: Annotated[list[Glob], Field(min_length=1)] | None = None
    size: SizeRange | None = None
    age: AgeRange | None = None
    labels: dict[str, Annotated[list[Glob], BeforeValidator(_one_or_many)]] | None = None
    scan: Annotated[list[Literal["scanned", "unscannable"]], Field(min_length=1)] | None = None

    @field_validator("labels")
    @classmethod
    def _label_globs_are_values(
        cls, v: dict[str, list[str]] | None,
    ) -> dict[str, list[str]] | None:
        for name, patterns in (v or {}).items():
            if any("/" in p for p in patterns):
                raise ValueError(f"label {name!r}: a label value has no '/'")
        return v

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, f) is None for f in
                   ("roots", "classes", "entities", "min_score", "paths", "size", "age",
                    "labels", "scan")) and self.min_count == 1


class Encrypt(StrictModel):
    after_idle: Duration = timedelta(0)


class Retain(StrictModel):
    """Keep for ``for`` counted ``from`` an origin, then delete."""

    model_config = ConfigDict(populate_by_name=True)

    for_: Duration = Field(alias="for")
    from_: RetainFrom = Field(alias="from")

    @field_validator("from_", mode="before")
    @classmethod
    def _from_enum(cls, v: Any) -> Any:
        if isinstance(v, str) and v in RetainFrom._value2member_map_:
            return RetainFrom(v)
        if isinstance(v, str):
            raise ValueError(f"expected one of first_seen, modified, session_end, found {v!r}")
        return v


def _mode(v: Any) -> Any:
    if isinstance(v, str) and v in Mode._value2member_map_:
        return Mode(v)
    if isinstance(v, Mode):
        return v
    raise ValueError(f"expected audit or enforce, found {v!r}")


ModeField = Annotated[Mode, BeforeValidator(_mode)]


class Rule(StrictModel):
    name: Name
    description: str | None = None
    match: Match = Field(default_factory=Match)
    mode: ModeField | None = None
    record: Literal[True] | None = None
    encrypt: Encrypt | None = None
    quarantine: Literal[True] | None = None
    retain: Retain | None = None

    @model_validator(mode="after")
    def _actions_fit(self) -> Rule:
        if self.record and (self.encrypt or self.quarantine or self.retain):
            raise ValueError("record: true means 'only record'; drop it or the other actions")
        if self.encrypt and self.quarantine:
            raise ValueError("encrypt and quarantine exclude each other (quarantine moves the "
                             "file away); choose one")
        return self


# ---------------------------------------------------------------- red lines

FILE_WRITE_OPS = frozenset({"remove", "rename", "truncate", "write"})
PATH_OPS = frozenset({"read", "exec"})
NET_OPS = frozenset({"connect", "bind"})
DenyOp = Literal["remove", "rename", "truncate", "write", "read", "exec", "connect", "bind"]


class RedLine(StrictModel):
    """A declared action the agents must never take, enforced by the kernel.

    Shapes: ``deny: [remove|rename|truncate|write]`` + ``outside: [paths]``
    (a pattern naming a directory, like ``{session_dir}``, covers its tree);
    ``deny: [read|exec]`` + ``paths: [globs]``; ``deny: [connect|bind]`` +
    ``ports`` (deny these) or ``except_ports`` (deny all others)."""

    id: Name
    reason: Annotated[str, Field(min_length=1)]
    mode: ModeField | None = None
    may_degrade: bool = False
    deny: Annotated[list[DenyOp], AfterValidator(_unique), Field(min_length=1)]
    outside: Annotated[list[RedLineGlob], Field(min_length=1)] | None = None
    paths: Annotated[list[RedLineGlob], Field(min_length=1)] | None = None
    ports: Annotated[list[Port], AfterValidator(_unique), Field(min_length=1)] | None = None
    except_ports: Annotated[list[Port], AfterValidator(_unique)] | None = None
    #: how ``deny: [truncate]`` is checked: ``landlock`` (the kernel, on every
    #: open) or ``supervisor`` (a seccomp filter hands truncate(2) to a
    #: supervisor process; opens stay cheap). See docs/redlines.md.
    truncate_check: Literal["landlock", "supervisor"] | None = None

    @property
    def kind(self) -> Literal["files-outside", "paths", "network"]:
        ops = set(self.deny)
        if ops <= FILE_WRITE_OPS:
            return "files-outside"
        return "paths" if ops <= PATH_OPS else "network"

    @model_validator(mode="after")
    def _shape(self) -> RedLine:
        ops = set(self.deny)
        groups = [g for g in (FILE_WRITE_OPS, PATH_OPS, NET_OPS) if ops & g]
        if len(groups) > 1:
            raise ValueError(f"deny mixes {self._names(groups[0] & ops)} with "
                             f"{self._names(groups[1] & ops)}; split them into two red lines")
        given = {k for k in ("outside", "paths", "ports", "except_ports")
                 if getattr(self, k) is not None}
        needed = {"files-outside": ({"outside"},), "paths": ({"paths"},),
                  "network": ({"ports"}, {"except_ports"})}[self.kind]
        if given not in [set(n) for n in needed]:
            want = " or ".join("/".join(sorted(n)) for n in needed)
            raise ValueError(f"deny {self._names(ops)} needs {want}"
                             + (f", found {', '.join(sorted(given))}" if given else ""))
        if self.truncate_check is not None and "truncate" not in ops:
            raise ValueError(f"truncate_check applies to deny: [truncate], found deny "
                             f"{self._names(ops)}")
        return self

    @staticmethod
    def _names(ops: Collection[str]) -> str:
        return "[" + ", ".join(sorted(ops)) + "]"


# ---------------------------------------------------------------- documents


def _version(v: Any) -> Any:
    if v != SCHEMA_VERSION or type(v) is not int:
        raise ValueError(f"expected version: {SCHEMA_VERSION}, found {v!r}")
    return v


class PolicyDocument(StrictModel):
    """One policy file."""

    version: Annotated[int, BeforeValidator(_version)]
    mode: ModeField | None = None
    roots: list[Root] = Field(default_factory=list)
    classes: dict[Name, ClassSpec] = Field(default_factory=dict)
    rules: list[Rule] | None = None
    red_lines: list[RedLine] = Field(default_factory=list)


class Policy(StrictModel):
    """The merged policy of one directory; rule order is significant."""

    version: int = SCHEMA_VERSION
    mode: Mode = Mode.AUDIT
    mode_set: bool = False
    roots: tuple[Root, ...] = ()
    classes: dict[str, DataClass] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    red_lines: tuple[RedLine, ...] = ()

    def root(self, name: str) -> Root | None:
        return next((r for r in self.roots if r.name == name), None)

    def rule_mode(self, rule: Rule) -> Mode:
        return rule.mode or self.mode

    def red_line_mode(self, red_line: RedLine) -> Mode:
        return red_line.mode or self.mode
