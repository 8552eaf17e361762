"""What the fanotify guard protects: one red line's path globs and actions.

Kept apart from ``daemon.redlines.guard.fanotify`` (ctypes, threads) so compiling red
lines, which every ``scratchwarden run`` does, does not load the guard.
"""

from __future__ import annotations

from dataclasses import dataclass

# FAN_OPEN_PERM / FAN_OPEN_EXEC_PERM (include/uapi/linux/fanotify.h)
ACTION_MASKS = {"open": 0x00010000, "exec": 0x00040000}


@dataclass(frozen=True)
class Protection:
    """One red line as the guard sees it: paths (globs) and actions."""

    red_line_id: str
    patterns: tuple[str, ...]
    actions: frozenset[str] = frozenset({"open"})

    def __post_init__(self) -> None:
        bad = [p for p in self.patterns if not p.startswith("/")]
        if bad:
            raise ValueError(f"protected patterns must be absolute paths, got {bad}")
        unknown = set(self.actions) - set(ACTION_MASKS)
        if unknown or not self.actions:
            raise ValueError(f"actions must be a non-empty subset of {sorted(ACTION_MASKS)}, "
                             f"got {sorted(self.actions)}")

    @property
    def mask(self) -> int:
        m = 0
        for a in self.actions:
            m |= ACTION_MASKS[a]
        return m
