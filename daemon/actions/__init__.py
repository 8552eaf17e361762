"""The enforcement layer: applies policy decisions to files, crash-safely.

Modules: ``enforcer`` (the per-tick loop), ``retention`` / ``encrypt`` /
``quarantine`` / ``decrypt`` (one action each, journaled), ``journal``
(replay of unfinished intents on start), ``sessions`` (when a session ended),
``preflight`` / ``inuse`` / ``safepath`` (the checks every action passes),
``facts`` (inventory row -> policy facts), ``context`` (shared plumbing).
See docs/adr/0002-journaled-actions.md for the why.
"""

from daemon.actions.context import ActionContext, Outcome, revision_text
from daemon.actions.enforcer import Enforcer, TickReport
from daemon.actions.ignore import is_ciphertext, is_transient, not_scanned
from daemon.actions.journal import ReplayReport, replay
from daemon.actions.quarantine import Quarantine, restore
from daemon.actions.sessions import SessionEnd, SessionLog, SessionTracker

# Paths the watcher and reconcile walks must never scan as new plaintext files
# (ciphertext produced by the enforcer, and crypto/quarantine temp files).
from daemon.crypto import SUFFIX as ENCRYPTED_SUFFIX
from daemon.crypto.recovery import TMP_RE as CRYPTO_TEMP_RE
from scratchwarden.errors import QuarantineError

__all__ = [
    "CRYPTO_TEMP_RE", "ENCRYPTED_SUFFIX", "ActionContext", "Enforcer", "Outcome", "Quarantine",
    "QuarantineError", "ReplayReport", "SessionEnd", "SessionLog", "SessionTracker",
    "TickReport", "is_ciphertext", "is_transient", "not_scanned", "replay", "restore",
    "revision_text",
]
