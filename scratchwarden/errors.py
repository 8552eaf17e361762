"""The one exception hierarchy of scratchwarden.

It lives in ``policies`` because that package is the dependency-free base that
``inventory`` and ``daemon`` both import; nothing here does I/O.

Split by who must act::

    ScratchwardenError                 every error we raise on purpose
    ├── PolicyError                    the policy author: fix the YAML (file:line)
    ├── OperatorError                  the operator: fix the node
    │   ├── ConfigError                node configuration invalid (file:line)
    │   ├── InventoryError             the SQL inventory cannot be used
    │   │   └── InventoryUnavailable   ... because it is down / unreachable
    │   ├── StateDirError              state dir missing / wrong mode
    │   ├── KeyError_                  key material missing or invalid
    │   └── KernelFeatureError         a kernel interface we need is missing
    ├── FileError                      one file could not be handled; the run goes on
    │   ├── Unscannable                content could not be scanned (reason kept)
    │   └── Skipped                    deliberately not read: not a regular file
    └── AuditError                     the auditor: the evidence does not verify

Foreign errors are wrapped where they enter (``raise X(...) from e``). The CLI
maps each branch to a message and an exit code; a ``FileError`` is a warning.
Messages never contain a detected value.
"""

from __future__ import annotations


class ScratchwardenError(Exception):
    """Root of every error scratchwarden raises on purpose."""

    exit_code = 2


class _Located(ScratchwardenError):
    """An error in a file a person wrote: the message starts with file:line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class PolicyError(_Located):
    """A policy file is invalid. Carries the file and line of the problem."""


class PolicyErrors(PolicyError):
    """Several policy problems found in one pass (the author fixes all at once).

    ``errors`` holds every ``PolicyError``; ``file``/``line`` are the first one's."""

    def __init__(self, errors: list[PolicyError]):
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            f"{len(self.errors)} policy error(s)", file=first.file if first else None,
            line=first.line if first else None,
        )

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors) or "no policy errors"


class OperatorError(ScratchwardenError):
    """The node is set up wrong; an operator must act."""


class ConfigError(_Located, OperatorError):
    """The node configuration file is invalid."""


class InventoryError(OperatorError):
    """The SQL inventory cannot be used (schema, constraint, URL)."""


class InventoryUnavailable(InventoryError):
    """The inventory database cannot be reached; work must be retried later."""


class StateDirError(OperatorError):
    """The state directory is missing, unwritable or has unsafe permissions."""


class KeyMaterialError(OperatorError):
    """A key file is missing, has unsafe permissions or is malformed."""


class KernelFeatureError(OperatorError):
    """A kernel interface (Landlock ABI, fanotify, ...) needed here is missing."""


class FileError(ScratchwardenError):
    """One file could not be handled. A warning: the run goes on."""

    exit_code = 1

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class Unscannable(FileError):
    """The file's content could not be scanned. ``reason`` is a short stable code
    (e.g. ``too-large``, ``zip-bomb``, ``binary``, ``permission-denied``,
    ``decode-error``, ``extract-error``, ``timeout``); ``detail`` is for humans
    and never carries file content."""


class Skipped(FileError):
    """The file was deliberately not opened for reading because it is not a
    regular file. ``reason`` is a short stable code: ``symlink``, ``fifo``,
    ``socket``, ``device``, ``directory``. Recorded as status ``skipped``, never
    as clean."""


class UnsafePath(FileError):
    """A path would lead outside a declared root or through a symlink."""


class AuditError(ScratchwardenError):
    """Audit evidence does not verify (tampered, missing or reordered entries)."""

    exit_code = 1
