"""Where scratchwarden keeps its state. Root uses /var/lib/scratchwarden (the
systemd StateDirectory); anyone else a per-user directory, so a developer can
run a scan without privileges."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.platform.files import ensure_private_dir

SYSTEM_STATE_DIR = Path("/var/lib/scratchwarden")


def default_state_dir() -> Path:
    env = os.environ.get("STATE_DIRECTORY")  # set by systemd's StateDirectory=
    if env:
        return Path(env.split(":")[0])
    if os.geteuid() == 0:
        return SYSTEM_STATE_DIR
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "scratchwarden"


def prepare_state_dir(path: Path | None) -> Path:
    """Create the state dir (0700) and point third-party caches into it so
    nothing writes to ``~/.cache`` or reaches the network at run time."""
    state = ensure_private_dir(path or default_state_dir())
    cache = ensure_private_dir(state / "cache")
    os.environ.setdefault("TLDEXTRACT_CACHE", str(cache / "tldextract"))
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("SCRATCHWARDEN_RULE_CACHE", str(ensure_private_dir(cache / "rules")))
    return state


def default_inventory_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'inventory.db'}"
