"""From an inventory row to the policy's :class:`FileFacts` (the imperative
side of the pure boundary). Only types, counts, scores, times and labels
cross: the inventory never holds a detected value, so neither do facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from daemon.crypto import SUFFIX
from inventory.views import AssetView
from policies.decision import EntityStat, FileFacts
from policies.evaluate import RootMatch, match_root
from policies.loader import LoadedPolicy

# Rows the enforcer never evaluates: not a regular file we read (symlink,
# FIFO, socket, device) or already gone.
NOT_GOVERNED_STATUSES = frozenset({"skipped", "deleted"})


def modified_of(asset: AssetView) -> datetime:
    if asset.mtime_ns is None:
        return asset.first_seen
    return datetime.fromtimestamp(asset.mtime_ns / 1e9, UTC)


def policy_path(asset: AssetView) -> str:
    """The path the policy judges: an encrypted file is judged by its
    original name (``x.swenc`` -> ``x``) so exclusions and path globs hold."""
    if asset.encryption_state == "encrypted" and asset.path.endswith(SUFFIX):
        return asset.path[: -len(SUFFIX)]
    return asset.path


def asset_facts(asset: AssetView, policy: LoadedPolicy,
                session_end: Callable[[str], datetime | None]) -> tuple[
                    FileFacts, RootMatch | None]:
    """The facts of one inventoried file and the root it lies in (if any)."""
    path = policy_path(asset)
    m = match_root(path, policy)
    labels = {str(k): str(v) for k, v in (asset.labels or {}).items()}
    if m is not None:
        labels.update(m.labels)
    facts = FileFacts(
        path=path,
        root=m.root.name if m is not None else None,
        first_seen=asset.first_seen,
        modified=modified_of(asset),
        size=asset.size or 0,
        labels=labels,
        entities={f.entity_type: EntityStat(f.count, f.max_score) for f in asset.findings},
        scan="unscannable" if asset.status == "unscannable" else "scanned",
        session_ended_at=session_end(m.directory) if m is not None else None,
        encrypted=asset.encryption_state == "encrypted",
        quarantined=asset.encryption_state == "quarantined",
        relative=m.relative if m is not None else None,
    )
    return facts, m
