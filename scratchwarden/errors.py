"""The one exception hierarchy of scratchwarden, split by who must act.

Every error scratchwarden raises on purpose is a ``ScratchwardenError`` and is
defined here, nowhere else (``tests/test_errors.py`` checks this drawing
against the classes, and that no other module subclasses the root)::

    ScratchwardenError                 exit 2 unless a branch says otherwise
    ├── PolicyError                    POLICY AUTHOR: fix the YAML (file:line)
    │   └── PolicyErrors               several problems found in one pass
    ├── OperatorError                  OPERATOR: fix the node
    │   ├── ConfigError                node configuration invalid (file:line)
    │   ├── InventoryError             the SQL inventory cannot be used
    │   │   └── InventoryUnavailable   ... because it is down or unreachable: retry
    │   ├── KeyMaterialError           key material missing, unsafe or invalid
    │   ├── KernelFeatureError         a kernel interface we need is missing
    │   ├── GuardSetupError            a kernel interface exists but setting it up failed
    │   │   └── SandboxError           the sandboxed child could not enter its rules
    │   └── QuarantineError            a quarantine entry is missing or cannot be restored
    ├── FileError                      THE FILE: one file could not be handled (exit 1)
    │   ├── Unscannable                content could not be scanned (reason kept)
    │   │   └── ScanTimeout            the per-file time budget ran out; partial findings
    │   ├── Skipped                    deliberately not read: not a regular file
    │   ├── UnsafePath                 a path leads outside a root or through a symlink
    │   └── CiphertextError            an encrypted file does not verify
    └── AuditError                     AUDITOR: the evidence does not verify (exit 1)

Why it lives in ``scratchwarden/``: every layer raises or catches these
(``policies``, ``inventory``, the scanner, the daemon), and this package
imports nothing of them, so no layer has to import another just for its
errors.

Rules for raisers: wrap a foreign error where it enters (``raise X(...) from
e``); say what was expected and what was found; never put a detected value,
file content or a secret in a message. A ``FileError`` is a warning: the run
goes on and the file is recorded with its ``reason``. The CLI maps each branch
to one line on stderr and ``exit_code``.

Exceptions used only for control flow inside one module (``Skip``,
``Locked``, the crypto format's ``FormatError``) are not part of this tree:
they never leave the module that raises them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scratchwarden.observations import Finding


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


# ------------------------------------------------------------ policy author

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


# ----------------------------------------------------------------- operator

class OperatorError(ScratchwardenError):
    """The node is set up wrong; an operator must act."""


class ConfigError(_Located, OperatorError):
    """The node configuration file is invalid."""


class InventoryError(OperatorError):
    """The SQL inventory cannot be used (schema, constraint, URL)."""


class InventoryUnavailable(InventoryError):
    """The inventory database cannot be reached; work must be retried later."""


class KeyMaterialError(OperatorError):
    """A key file is missing, has unsafe permissions or is malformed."""


class KernelFeatureError(OperatorError):
    """A kernel interface (Landlock ABI, fanotify, ...) needed here is missing.
    The caller decides whether the red line may degrade."""


class GuardSetupError(OperatorError):
    """A kernel enforcement interface exists but could not be set up (a syscall
    returned an unexpected error, the sandboxed child could not start)."""


class SandboxError(GuardSetupError):
    """The sandboxed child could not apply its rules; the command never ran."""


class QuarantineError(OperatorError):
    """A quarantine entry is missing or cannot be restored."""


# --------------------------------------------------------------------- file

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


class ScanTimeout(Unscannable):
    """The per-file time budget ran out; ``findings`` holds what was found."""

    def __init__(self, findings: list[Finding], mime: str) -> None:
        super().__init__("scan-timeout", "per-file scan time budget exceeded; scanned in part")
        self.findings = findings
        self.mime = mime


class Skipped(FileError):
    """The file was deliberately not opened for reading because it is not a
    regular file. ``reason`` is a short stable code: ``symlink``, ``fifo``,
    ``socket``, ``device``, ``directory``. Recorded as status ``skipped``, never
    as clean."""


class UnsafePath(FileError):
    """A path would lead outside a declared root or through a symlink."""


class CiphertextError(FileError):
    """An encrypted file failed verification (tampered, truncated, wrong key);
    the file is left as it is. ``reason`` is a stable code: ``bad-magic``,
    ``bad-header``, ``no-usable-key-slot``, ``key-slot-auth-failed``,
    ``chunk-auth-failed``, ``truncated``, ``trailing-data``. Never carries
    content. A missing KEK is a ``KeyMaterialError`` instead: every file
    wrapped under it is affected, not one."""


# ------------------------------------------------------------------ auditor

class AuditError(ScratchwardenError):
    """Audit evidence does not verify (tampered, missing or reordered entries)."""

    exit_code = 1
