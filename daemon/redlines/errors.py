"""Errors of the enforcement layer, as subclasses of the one hierarchy in
``scratchwarden.errors`` (kept here so the guard can grow them without editing the
shared base module).

``KernelFeatureError`` (from ``scratchwarden.errors``) means "this kernel cannot
enforce what was asked"; the caller decides whether the red line may degrade.
``GuardSetupError`` means the kernel has the feature but setting it up failed
(a syscall returned an unexpected error, the sandboxed child could not start):
an operator must look at the node.
"""

from __future__ import annotations

from scratchwarden.errors import KernelFeatureError, OperatorError

__all__ = ["GuardSetupError", "KernelFeatureError", "SandboxError"]


class GuardSetupError(OperatorError):
    """A kernel enforcement interface exists but could not be set up."""


class SandboxError(GuardSetupError):
    """The sandboxed child could not apply its rules; the command never ran."""
