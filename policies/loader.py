"""Load a policy directory into one validated :class:`LoadedPolicy`.

Layout and merge semantics (decided here, documented for policy authors):

* every ``*.yaml``/``*.yml`` directly in the directory is one policy document
  with ``version: 1``; hidden files and sub-directories are ignored, except
  that ``*_test.yaml``/``*_test.yml`` and everything under ``tests/`` are
  policy tests (``policies.testing``), never policy;
* documents are merged by section: ``roots``, ``classes`` and ``red_lines``
  from all files, where a name defined twice is an error naming both places;
  ``rules`` are ordered (first match wins), so they live in exactly one file;
  the global ``mode`` may be set in one file only;
* every error found in one pass is reported (``PolicyErrors``), each with
  file:line; nothing half-valid is ever returned.

The revision is the git commit of the checkout holding the directory (plus a
dirty flag for uncommitted changes under it), and a sha256 over the file names
and the exact bytes that were parsed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.decision import Revision
from policies.schema import Policy, PolicyDocument
from policies.yaml_source import LineMap, dotted, errors_from_validation, load_yaml_text
from scratchwarden.errors import PolicyError, PolicyErrors

POLICY_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = ("_test.yaml", "_test.yml")
TESTS_DIR = "tests"
_GIT_TIMEOUT_S = 10
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_CEILING_DIRECTORIES", "GIT_NAMESPACE")


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PolicyWarning:
    """Something legal but probably not meant (lint); never blocks loading."""

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (
            f"{self.file}: " if self.file else "")
        return f"{where}warning: {self.message}"


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated, merged policy and where it came from. ``origins`` maps
    ``rule:NAME``, ``root:NAME``, ``class:NAME``, ``red_line:ID`` to the
    file:line that defines it (for ``explain`` and error messages)."""

    policy: Policy
    revision: Revision
    files: tuple[str, ...]
    directory: str = ""
    origins: Mapping[str, Location] = field(default_factory=dict)


@dataclass
class _Source:
    """One parsed, validated file."""

    path: str
    document: PolicyDocument
    lines: LineMap


def split_files(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """``(policy files, policy test files)`` of a directory, sorted by name."""
    d = Path(directory)
    policy: list[Path] = []
    tests: list[Path] = []
    for p in sorted(d.iterdir()):
        # Anything named *.yaml that is not a directory counts: a dangling symlink
        # must be an error, not a silently smaller policy.
        if p.name.startswith(".") or not p.name.endswith(POLICY_SUFFIXES) or p.is_dir():
            continue
        (tests if p.name.endswith(TEST_SUFFIXES) else policy).append(p)
    tdir = d / TESTS_DIR
    if tdir.is_dir():
        tests.extend(sorted(p for p in tdir.rglob("*") if p.is_file()
                            and p.name.endswith(POLICY_SUFFIXES)
                            and not p.name.startswith(".")))
    return policy, tests


def load_policy(directory: str | Path, *, with_revision: bool = True) -> LoadedPolicy:
    """Load and validate a policy directory; raise ``PolicyErrors`` listing
    every problem (each a ``PolicyError`` with file:line).

    ``with_revision=False`` (a launcher that records nothing) skips git and
    lint: the revision then carries the content hash only (commit and dirty
    flag None, as outside git).

    Raises:
        PolicyErrors: every problem found, each with file:line.
    """
    loaded, errors, _ = check(directory, with_revision=with_revision)
    if errors or loaded is None:
        raise PolicyErrors(errors or [PolicyError("no policy loaded", file=str(directory))])
    return loaded


def check(
    directory: str | Path, *, with_revision: bool = True,
) -> tuple[LoadedPolicy | None, list[PolicyError], list[PolicyWarning]]:
    """The ``policy check`` entry point: the policy if valid, all errors, and
    lint warnings (none, and no git, when ``with_revision`` is False). Never
    raises for a bad policy."""

    d = Path(directory)
    if not d.is_dir():
        return None, [PolicyError("expected a policy directory, found none here",
                                  file=str(d))], []
    try:
        files, _ = split_files(d)
    except OSError as e:
        return None, [PolicyError(f"cannot list the directory: {e.strerror}", file=str(d))], []
    if not files:
        return None, [PolicyError("no policy files (*.yaml, *.yml) in this directory",
                                  file=str(d))], []
    blobs, errors = _read_all(files)
    sources, parse_errors = _parse_all(blobs)
    errors += parse_errors
    policy, origins, merge_errors = _merge(sources)
    errors += merge_errors
    if errors:
        return None, sorted(errors, key=_error_order), []
    if not with_revision:
        loaded = LoadedPolicy(policy, Revision(None, None, content_hash(blobs)),
                              tuple(str(p) for p in files), str(d), origins)
        return loaded, [], []
    from policies.lint import lint  # lint imports LoadedPolicy from here

    revision, warnings = revision_of(d, blobs)
    loaded = LoadedPolicy(policy, revision, tuple(str(p) for p in files), str(d), origins)
    return loaded, [], warnings + lint(loaded, {s.path: s.lines for s in sources})


def _error_order(e: PolicyError) -> tuple[str, int]:
    return (e.file or "", e.line or 0)


def _read_all(files: list[Path]) -> tuple[dict[Path, bytes], list[PolicyError]]:
    blobs: dict[Path, bytes] = {}
    errors: list[PolicyError] = []
    for p in files:
        try:
            blobs[p] = p.read_bytes()
        except OSError as e:
            errors.append(PolicyError(f"cannot read the file: {e.strerror}", file=str(p)))
    return blobs, errors


def _parse_all(blobs: Mapping[Path, bytes]) -> tuple[list[_Source], list[PolicyError]]:
    sources: list[_Source] = []
    errors: list[PolicyError] = []
    for path, blob in blobs.items():
        try:
            sources.append(_parse_one(str(path), blob))
        except PolicyErrors as e:
            errors.extend(e.errors)
        except PolicyError as e:
            errors.append(e)
    return sources, errors


def _parse_one(name: str, blob: bytes) -> _Source:
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(f"expected UTF-8 text, found invalid byte at offset {e.start}",
                          file=name) from e
    data, lines = load_yaml_text(text, name)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else type(data).__name__
        raise PolicyError(f"expected a mapping with 'version: 1' at the top, found {found}",
                          file=name, line=lines.line(()))
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as e:
        raise PolicyErrors(errors_from_validation(e, lines, model=PolicyDocument)) from e
    return _Source(name, document, lines)


class _Merger:
    """Merges validated documents section by section, collecting conflicts."""

    def __init__(self) -> None:
        self.origins: dict[str, Location] = {}
        self.errors: list[PolicyError] = []
        self.fields: dict[str, Any] = {"roots": [], "classes": {}, "rules": (),
                                       "red_lines": []}
        self.mode_at: Location | None = None
        self.rules_at: Location | None = None

    def define(self, kind: str, name: str, src: _Source, path: tuple[str | int, ...]) -> bool:
        here = Location(src.path, src.lines.line(path))
        key = f"{kind}:{name}"
        if key in self.origins:
            self.errors.append(PolicyError(
                f"{dotted(path)}: {kind.replace('_', ' ')} {name!r} is already defined at "
                f"{self.origins[key]}", file=here.file, line=here.line))
            return False
        self.origins[key] = here
        return True

    def once(self, what: str, src: _Source, key: str, first: Location | None) -> Location:
        here = Location(src.path, src.lines.line((key,)))
        if first is not None:
            self.errors.append(PolicyError(
                f"{what} already set at {first}; {what} may be set in one file only",
                file=here.file, line=here.line))
        return here

    def add(self, src: _Source) -> None:
        doc = src.document
        if doc.mode is not None:
            self.mode_at = self.once("mode", src, "mode", self.mode_at)
            self.fields["mode"], self.fields["mode_set"] = doc.mode, True
        for i, root in enumerate(doc.roots):
            if self.define("root", root.name, src, ("roots", i, "name")):
                self.fields["roots"].append(root)
        for name, spec in doc.classes.items():
            if self.define("class", name, src, ("classes", name)):
                self.fields["classes"][name] = spec
        for i, red_line in enumerate(doc.red_lines):
            if self.define("red_line", red_line.id, src, ("red_lines", i, "id")):
                self.fields["red_lines"].append(red_line)
        if doc.rules is not None:
            self.rules_at = self.once("rules (an ordered list)", src, "rules", self.rules_at)
            for i, rule in enumerate(doc.rules):
                self.define("rule", rule.name, src, ("rules", i, "name"))
            self.fields["rules"] = tuple(doc.rules)


def _merge(sources: list[_Source]) -> tuple[Policy, dict[str, Location], list[PolicyError]]:
    merger = _Merger()
    for src in sources:
        merger.add(src)
    f = merger.fields
    policy = Policy(mode=f.get("mode", Policy().mode), mode_set=f.get("mode_set", False),
                    roots=tuple(f["roots"]), classes=f["classes"], rules=f["rules"],
                    red_lines=tuple(f["red_lines"]))
    return policy, merger.origins, merger.errors + _cross_references(policy, sources)


def _cross_references(policy: Policy, sources: list[_Source]) -> list[PolicyError]:
    """Names a rule uses must be defined somewhere in the directory."""
    errors: list[PolicyError] = []
    roots = {r.name for r in policy.roots}
    for src in sources:
        for i, rule in enumerate(src.document.rules or ()):
            for field_name, known, what in (("classes", policy.classes, "class"),
                                            ("roots", roots, "root")):
                for j, name in enumerate(getattr(rule.match, field_name) or ()):
                    if name not in known:
                        path = ("rules", i, "match", field_name, j)
                        errors.append(PolicyError(
                            f"{dotted(path)}: unknown {what} {name!r}; expected one of: "
                            f"{', '.join(sorted(known)) or f'(no {what} is defined)'}",
                            file=src.path, line=src.lines.line(path)))
    return errors


def content_hash(blobs: Mapping[Path, bytes]) -> str:
    """sha256 over sorted (file name, length, bytes): renaming, reordering or
    editing any policy file changes it."""
    h = hashlib.sha256()
    for path in sorted(blobs, key=lambda p: p.name):
        data = blobs[path]
        h.update(path.name.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()


def revision_of(
    directory: Path, blobs: Mapping[Path, bytes],
) -> tuple[Revision, list[PolicyWarning]]:
    """The git commit (None outside git or without git) and the content hash."""
    warnings: list[PolicyWarning] = []
    commit = _git(directory, "rev-parse", "--verify", "-q", "HEAD")
    dirty: bool | None = None
    if commit is not None:
        status = _git(directory, "status", "--porcelain", "--untracked-files=all", "--", ".")
        dirty = bool(status) if status is not None else None
        if dirty:
            warnings.append(PolicyWarning("the policy directory has uncommitted changes; "
                                          "decisions will name the commit plus a dirty flag",
                                          file=str(directory)))
    return Revision(commit or None, dirty, content_hash(blobs)), warnings


def _git(directory: Path, *args: str) -> str | None:
    """Run a read-only git command; None if git is missing or fails."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    try:
        done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                              text=True, timeout=_GIT_TIMEOUT_S, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
