"""Writing observations into the inventory, a burst at a time.

Why batch: the daemon records bursts (an agent unpacks an archive; a reconcile
walk rescans a root). Per observation we change one ORM row; findings,
fingerprints and events are collected and written with one multi-row INSERT
each when the batch ends, and the live rows of the whole burst are fetched in
a few ``IN`` queries. All of it is one transaction.

Findings of an unscannable or skipped file: an observation replaces the
findings only if it is a successful scan, or if the content is not known to be
the same (``sha256`` missing or different). A rescan that times out on
unchanged content keeps the last known findings and sensitivity — fail closed:
a file never looks cleaner because we failed to read it. An unscannable file
with no earlier findings has sensitivity NULL (unknown), never "none".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from inventory.models import Asset, AssetEvent, FindingRow, Fingerprint
from inventory.sensitivity import Sensitivity, sensitivity_of
from inventory.summarize import TypeSummary, fingerprints, summarize
from scratchwarden.errors import InventoryError
from scratchwarden.observations import FileObservation, FileStatus

IN_CHUNK = 500
LEVELS = tuple(level.value for level in Sensitivity)


@dataclass(frozen=True, slots=True)
class Recording:
    """One observation with the context the daemon knows about its file."""

    obs: FileObservation
    root: str | None = None
    labels: Mapping[str, str] | None = None
    owner: str | None = None
    session: str | None = None
    sensitivity: str | None = None


def path_key(path: str) -> str:
    """SHA-256 of the path's bytes (surrogate-escaped names included)."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()


def storable_path(path: str) -> str:
    """The path as text the database accepts: a name that is not valid UTF-8 is
    shown with backslash escapes (``path_key`` still identifies it exactly)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def live_row(s: Session, node: str, path: str) -> Asset | None:
    return s.scalars(select(Asset).where(Asset.node == node, Asset.path_key == path_key(path),
                                         Asset.deleted_at.is_(None))).first()


def live_rows(s: Session, node: str, paths: Sequence[str]) -> dict[str, Asset]:
    """Live rows of many paths by path_key, in a few queries instead of one each."""
    keys = sorted({path_key(p) for p in paths})
    found: dict[str, Asset] = {}
    for i in range(0, len(keys), IN_CHUNK):
        found.update((a.path_key, a) for a in s.scalars(select(Asset).where(
            Asset.node == node, Asset.path_key.in_(keys[i:i + IN_CHUNK]),
            Asset.deleted_at.is_(None))))
    return found


def add_event(s: Session, asset: Asset, kind: str, when: datetime,
              details: dict[str, Any] | None) -> None:
    s.add(AssetEvent(asset_id=asset.id, node=asset.node, path=asset.path, kind=kind,
                     time=when, details=details))


def end_asset(asset: Asset, when: datetime, reason: str) -> None:
    asset.status, asset.deleted_at, asset.deleted_reason = "deleted", when, reason


@dataclass
class _Pending:
    asset: Asset
    kind: str | None = None
    details: dict[str, Any] | None = None
    summaries: Sequence[TypeSummary] | None = None  # None: keep the findings
    prints: Mapping[tuple[str, str], int] = field(default_factory=dict)
    fresh: bool = False


class BatchWriter:
    """Records observations of one node in the caller's transaction; call
    ``finish`` once to write the collected rows and learn the asset ids."""

    def __init__(self, s: Session, node: str, when: datetime, paths: Sequence[str]) -> None:
        self._s, self._node, self._when = s, node, when
        self._live = live_rows(s, node, paths)
        self._pending: list[_Pending] = []  # one per observation, in order

    def add(self, rec: Recording) -> None:
        key = path_key(rec.obs.path)
        asset = self._live.get(key)
        if rec.obs.status is FileStatus.DELETED:
            self._live.pop(key, None)
            self._deleted(rec, asset)
        elif asset is None:
            self._new(rec, key)
        else:
            self._update(rec, asset)

    def finish(self) -> list[int]:
        self._s.flush()
        p = _last_per_asset(self._pending)
        cleared = [x.asset.id for x in p if x.summaries is not None and not x.fresh]
        for i in range(0, len(cleared), IN_CHUNK):
            chunk = cleared[i:i + IN_CHUNK]
            self._s.execute(delete(FindingRow).where(FindingRow.asset_id.in_(chunk)))
            self._s.execute(delete(Fingerprint).where(Fingerprint.asset_id.in_(chunk)))
        self._insert(FindingRow, [r for x in p for r in _finding_rows(x)])
        self._insert(Fingerprint, [r for x in p for r in _print_rows(x)])
        self._insert(AssetEvent, [_event_row(x, self._when) for x in self._pending if x.kind])
        return [x.asset.id for x in self._pending]

    def _insert(self, model: type[Any], rows: list[dict[str, Any]]) -> None:
        if rows:
            self._s.execute(insert(model), rows)

    def _new(self, rec: Recording, key: str) -> None:
        asset = Asset(node=self._node, path=storable_path(rec.obs.path), path_key=key,
                      first_seen=self._when, encryption_state="plaintext")
        self._s.add(asset)
        self._live[key] = asset
        summaries = summarize(rec.obs.findings)
        _apply(asset, _values(rec, summaries, True), self._when)
        self._push(_Pending(asset, "seen", {"status": asset.status}, summaries,
                            fingerprints(rec.obs.findings), fresh=True))

    def _update(self, rec: Recording, asset: Asset) -> None:
        obs = rec.obs
        replace = obs.status is FileStatus.SCANNED or obs.sha256 is None \
            or obs.sha256 != asset.sha256
        summaries = summarize(obs.findings)
        values = _values(rec, summaries, replace)
        changed = [k for k, v in values.items() if getattr(asset, k) != v]
        _apply(asset, values, self._when)
        self._push(_Pending(asset, "changed" if changed else None, {"fields": changed},
                            summaries if replace else None,
                            fingerprints(obs.findings) if replace else {}))

    def _deleted(self, rec: Recording, asset: Asset | None) -> None:
        reason = rec.obs.reason or "gone"
        if asset is None:  # created and gone before we scanned it: still worth a row
            asset = Asset(node=self._node, root=rec.root, path=storable_path(rec.obs.path),
                          path_key=path_key(rec.obs.path), first_seen=self._when,
                          last_seen=self._when, status="deleted",
                          encryption_state="plaintext")
            self._s.add(asset)
        end_asset(asset, self._when, reason)
        self._push(_Pending(asset, "deleted", {"reason": reason}))

    def _push(self, pending: _Pending) -> None:
        self._pending.append(pending)


def _last_per_asset(pending: Sequence[_Pending]) -> list[_Pending]:
    """When a burst holds the same path twice, its last findings win."""
    last: dict[int, _Pending] = {}
    for p in pending:
        if p.summaries is not None or id(p.asset) not in last:
            last[id(p.asset)] = p
    return list(last.values())


def _apply(asset: Asset, values: Mapping[str, Any], when: datetime) -> None:
    for k, v in values.items():
        setattr(asset, k, v)
    asset.last_seen = when
    if values["status"] in (FileStatus.SCANNED.value, FileStatus.UNSCANNABLE.value):
        asset.last_scanned = when


def _values(rec: Recording, summaries: Sequence[TypeSummary], replace: bool) -> dict[str, Any]:
    obs = rec.obs
    values: dict[str, Any] = {
        "root": rec.root, "inode": obs.inode, "device": obs.device, "size": obs.size,
        "mtime_ns": obs.mtime_ns, "sha256": obs.sha256, "mime": obs.mime,
        "status": obs.status.value, "reason": obs.reason, "owner": rec.owner,
        "session": rec.session, "labels": dict(rec.labels) if rec.labels else None,
    }
    types = [t.entity_type for t in summaries]
    if rec.sensitivity is not None and rec.sensitivity not in LEVELS:
        raise InventoryError(f"sensitivity: expected one of {LEVELS}, found "
                             f"{rec.sensitivity!r}")
    if replace:
        values["classification"] = ",".join(types) if types else None
        values["sensitivity"] = rec.sensitivity or _derived(obs, types)
    elif rec.sensitivity is not None:
        values["sensitivity"] = rec.sensitivity
    return values


def _derived(obs: FileObservation, types: list[str]) -> str | None:
    """Unknown (None) unless the content was read (invariant 4: never silently clean)."""
    if obs.status is FileStatus.SCANNED or types:
        return sensitivity_of(types).value
    return None


def _finding_rows(p: _Pending) -> list[dict[str, Any]]:
    return [{"asset_id": p.asset.id, "entity_type": t.entity_type, "count": t.count,
             "max_score": t.max_score, "recognizers": t.recognizers, "locations": t.locations}
            for t in p.summaries or ()]


def _print_rows(p: _Pending) -> list[dict[str, Any]]:
    return [{"asset_id": p.asset.id, "entity_type": t, "hmac": h, "count": n}
            for (t, h), n in p.prints.items()]


def _event_row(p: _Pending, when: datetime) -> dict[str, Any]:
    return {"asset_id": p.asset.id, "node": p.asset.node, "path": p.asset.path,
            "kind": p.kind, "time": when, "details": p.details}
