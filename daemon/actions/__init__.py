"""The enforcement layer: applies policy decisions to files, crash-safely.

Modules: ``enforcer`` (the per-tick loop), ``retention`` / ``encrypt`` /
``quarantine`` / ``decrypt`` (one action each, journaled), ``journal``
(replay of unfinished intents on start), ``sessions`` (when a session ended),
``preflight`` / ``safepath`` (the checks every action passes),
``facts`` (inventory row -> policy facts), ``context`` (shared plumbing).
See docs/adr/0002-journaled-actions.md for the why.
"""

from daemon.actions.context import ActionContext, Outcome, revision_text
from daemon.actions.enforcer import Enforcer, TickReport
from daemon.actions.journal import ReplayReport, replay
from daemon.actions.quarantine import Quarantine, restore
from daemon.actions.sessions import SessionEnd, SessionLog, SessionTracker
from scratchwarden.errors import QuarantineError

__all__ = [
    "ActionContext", "Enforcer", "Outcome", "Quarantine", "QuarantineError", "ReplayReport",
    "SessionEnd", "SessionLog", "SessionTracker", "TickReport", "replay", "restore",
    "revision_text",
]
