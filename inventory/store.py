"""The inventory store: the small typed API the daemon, the CLI and the exporter
call; callers get frozen views. ``Store`` keeps the assets; what it inherits
keeps the rest: ``audit.EvidenceLog`` the audit chain, the journal and the
drill results, ``engine.Database`` the transactions (the only place that opens
sessions).

Lifecycle of a row (see ``inventory.models`` for why):
``record_observation`` creates the live row of a (node, path) or updates it;
``mark_renamed`` moves the live row to a new path; ``mark_deleted`` ends it
(the row stays). Each of these writes an ``asset_events`` row when something
changed (``inventory.recording`` says how findings are replaced). Every public
method runs in one transaction; database errors come out as
``InventoryUnavailable`` (retry later) or ``InventoryError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.audit import EvidenceLog
from inventory.columns import as_utc
from inventory.engine import describe, make_engine, translate_errors
from inventory.migrate import upgrade_to_head
from inventory.models import (
    ENCRYPTION_STATES,
    Asset,
    AssetEvent,
    FindingRow,
    Fingerprint,
)
from inventory.recording import (
    BatchWriter,
    Recording,
    add_event,
    end_asset,
    live_row,
    path_key,
    storable_path,
)
from inventory.views import (
    AssetView,
    EventView,
    FindingSummary,
    KnownFile,
    Location,
)
from scratchwarden.errors import InventoryError
from scratchwarden.observations import FileObservation, FileStatus

__all__ = ["Recording", "Store"]

PAGE = 1000


class Store(EvidenceLog):
    """The inventory of one database (SQLite file or PostgreSQL), shared by
    every node that points at it. Thread-safe: each call takes a pooled
    connection and runs one transaction."""

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema to the newest revision.

        Raises:
            InventoryError: a bad URL, or a schema this version does not know.
            InventoryUnavailable: the database cannot be reached.
        """
        engine = make_engine(url)
        try:
            with translate_errors(describe(engine.url)):
                upgrade_to_head(engine)
        except CommandError as e:
            engine.dispose()
            raise InventoryError(f"inventory database {describe(engine.url)}: expected a "
                                 f"schema this version knows, found: {e}") from e
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    # -- observations -----------------------------------------------------------

    def record_observation(self, node: str, root: str | None, obs: FileObservation, *,
                           now: datetime, labels: Mapping[str, str] | None = None,
                           owner: str | None = None, session: str | None = None,
                           sensitivity: str | None = None) -> int:
        """Upsert the live row of ``obs.path``; returns the asset id.

        Raises:
            InventoryUnavailable: the database is down; nothing was written.
            InventoryError: the observation was refused (e.g. a malformed finding).
        """
        rec = Recording(obs, root, labels, owner, session, sensitivity)
        return self.record_many(node, [rec], now=now)[0]

    def record_many(self, node: str, recordings: Iterable[Recording], *,
                    now: datetime) -> list[int]:
        """Record a burst of observations in ONE transaction; asset ids in order.
        On PostgreSQL two writers may race to create the same path (the daemon
        and a CLI rescan): the loser's unique violation is retried once, and
        then finds the winner's row.

        Raises:
            InventoryUnavailable: the database is down; nothing of the batch was written.
            InventoryError: the batch was refused (e.g. a malformed finding).
        """
        when, batch = as_utc(now), list(recordings)
        for attempt in (1, 2):
            try:
                return self._record_batch(node, batch, when)
            except InventoryError as e:
                if attempt == 2 or not isinstance(e.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def _record_batch(self, node: str, batch: Sequence[Recording], when: datetime) -> list[int]:
        with self._write() as s, s.no_autoflush:
            writer = BatchWriter(s, node, when, [rec.obs.path for rec in batch])
            for rec in batch:
                writer.add(rec)
            return writer.finish()

    def mark_seen(self, node: str, paths: Iterable[str], *, now: datetime) -> int:
        """Bump last_seen of live rows a reconcile walk found unchanged."""
        when, done = as_utc(now), 0
        keys = [path_key(p) for p in paths]
        with self._write() as s:
            for i in range(0, len(keys), 500):
                result = s.execute(update(Asset).where(
                    Asset.node == node, Asset.path_key.in_(keys[i:i + 500]),
                    Asset.deleted_at.is_(None)).values(last_seen=when)
                    .execution_options(synchronize_session=False))
                done += int(getattr(result, "rowcount", 0) or 0)
        return done

    def mark_deleted(self, node: str, path: str, *, now: datetime,
                     reason: str) -> int | None:
        """End the live row of ``path`` (kept, status deleted); its id, or None.

        Raises:
            InventoryUnavailable: the database is down; nothing was written.
        """
        with self._write() as s:
            asset = live_row(s, node, path)
            if asset is None:
                return None
            end_asset(asset, as_utc(now), reason)
            add_event(s, asset, "deleted", as_utc(now), {"reason": reason})
            return asset.id

    def mark_renamed(self, node: str, old: str, new: str, *, now: datetime,
                     new_root: str | None = None) -> int | None:
        """Move the live row of ``old`` to ``new`` (same asset: first_seen,
        findings, deadline and encryption state follow). A live row already at
        ``new`` was overwritten by the rename and is ended. None if ``old`` is
        unknown (the caller then scans ``new`` as a new file).

        Raises:
            InventoryUnavailable: the database is down; nothing was written.
        """
        when = as_utc(now)
        with self._write() as s:
            asset = live_row(s, node, old)
            if asset is None:
                return None
            replaced = live_row(s, node, new)
            if replaced is not None and replaced.id != asset.id:
                end_asset(replaced, when, "replaced-by-rename")
                add_event(s, replaced, "deleted", when, {"reason": "replaced-by-rename"})
                s.flush()
            asset.path, asset.path_key = storable_path(new), path_key(new)
            if new_root is not None:
                asset.root = new_root
            asset.last_seen = when
            add_event(s, asset, "renamed", when, {"from": storable_path(old)})
            return asset.id

    # -- policy outcomes (later issues) ---------------------------------------------

    def set_decision(self, node: str, path: str, *, rule: str | None,
                     deadline: datetime | None, policy_revision: str,
                     now: datetime) -> int | None:
        """Store the rule and retention deadline the policy decided for ``path``."""
        when = as_utc(now)
        with self._write() as s:
            asset = live_row(s, node, path)
            if asset is None:
                return None
            new = (rule, as_utc(deadline) if deadline else None, policy_revision)
            if (asset.rule, asset.deadline, asset.policy_revision) != new:
                asset.rule, asset.deadline, asset.policy_revision = new
                add_event(s, asset, "decided", when, {"rule": rule,
                       "deadline": new[1].isoformat() if new[1] else None,
                       "policy_revision": policy_revision})
            return asset.id

    def set_encryption_state(self, node: str, path: str, state: str, *, now: datetime,
                             kek_id: str | None = None) -> int | None:
        """Set the live row's encryption state (and KEK id); an event records it.

        Raises:
            InventoryError: an unknown state.
            InventoryUnavailable: the database is down.
        """
        if state not in ENCRYPTION_STATES:
            raise InventoryError(f"encryption state: expected one of {ENCRYPTION_STATES}, "
                                 f"found {state!r}")
        when = as_utc(now)
        with self._write() as s:
            asset = live_row(s, node, path)
            if asset is None:
                return None
            if (asset.encryption_state, asset.kek_id) != (state, kek_id):
                asset.encryption_state, asset.kek_id = state, kek_id
                add_event(s, asset, state, when, {"kek_id": kek_id})
            return asset.id

    # -- reading ------------------------------------------------------------------

    def get_asset(self, node: str, path: str) -> AssetView | None:
        """The live row of ``path``, else its most recent ended incarnation."""
        with self._read() as s:
            asset = s.execute(_asset_query().where(
                Asset.node == node, Asset.path_key == path_key(path))
                .order_by(Asset.deleted_at.is_not(None), Asset.id.desc()).limit(1)).first()
            if asset is None:
                return None
            return _views(s, [asset])[0]

    def iter_assets(self, node: str | None = None, *, include_deleted: bool = True,
                    locations: bool = True) -> Iterator[AssetView]:
        """Every asset, ordered by id, read in pages (bounded memory).
        ``locations=False`` leaves finding locations out (faster; exports)."""
        after = 0
        while True:
            with self._read() as s:
                query = _asset_query().where(Asset.id > after).order_by(Asset.id).limit(PAGE)
                if node is not None:
                    query = query.where(Asset.node == node)
                if not include_deleted:
                    query = query.where(Asset.deleted_at.is_(None))
                page = _views(s, list(s.execute(query)), locations)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].id

    def events(self, asset_id: int) -> list[EventView]:
        with self._read() as s:
            rows = s.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset_id)
                             .order_by(AssetEvent.id))
            return [EventView(r.asset_id, r.path, r.kind, r.time, r.details) for r in rows]

    def known_files(self, node: str, root: str | None) -> dict[str, KnownFile]:
        """path -> (inode, size, mtime_ns, sha256) of every live row under
        ``root``, for skip-unchanged reconcile walks. Unscannable rows are
        included (so a vanished one is noticed); see ``known_unscannable``."""
        query = select(Asset.path, Asset.inode, Asset.size, Asset.mtime_ns, Asset.sha256) \
            .where(Asset.node == node, _root_is(root), Asset.deleted_at.is_(None))
        with self._read() as s:
            return {r[0]: KnownFile(r[1], r[2], r[3], r[4]) for r in s.execute(query)}

    def known_unscannable(self, node: str, root: str | None) -> dict[str, str]:
        """path -> reason of live rows under ``root`` that could not be scanned:
        a reconcile walk retries these even when unchanged."""
        query = select(Asset.path, Asset.reason).where(
            Asset.node == node, _root_is(root), Asset.deleted_at.is_(None),
            Asset.status == FileStatus.UNSCANNABLE.value)
        with self._read() as s:
            return {r[0]: r[1] or "" for r in s.execute(query)}

    def assets_with_fingerprint(self, hmac: str) -> list[tuple[int, str]]:
        """(asset id, entity type) of every asset holding this fingerprint."""
        with self._read() as s:
            rows = s.execute(select(Fingerprint.asset_id, Fingerprint.entity_type)
                             .where(Fingerprint.hmac == hmac.lower())
                             .order_by(Fingerprint.asset_id))
            return [(r[0], r[1]) for r in rows]

    def count_assets(self, node: str | None = None) -> int:
        with self._read() as s:
            query = select(func.count(Asset.id))
            if node is not None:
                query = query.where(Asset.node == node)
            return int(s.scalar(query) or 0)


# -- helpers (one transaction each, called with an open session) ---------------------

def _root_is(root: str | None) -> Any:
    return Asset.root.is_(None) if root is None else Asset.root == root


_FIELDS = tuple(f.name for f in dataclasses.fields(AssetView) if f.name != "findings")
_COLUMNS = tuple(Asset.__table__.c[name] for name in _FIELDS)


def _asset_query() -> Select[Any]:
    """Plain rows, not ORM objects: exports read 100k of them."""
    return select(*_COLUMNS)


def _views(s: Session, rows: Sequence[Row[Any]], locations: bool = True) -> list[AssetView]:
    ids = [r.id for r in rows]
    by_asset: dict[int, list[FindingSummary]] = {i: [] for i in ids}
    cols = [FindingRow.asset_id, FindingRow.entity_type, FindingRow.count,
            FindingRow.max_score, FindingRow.recognizers]
    if ids:
        query = select(*cols, *([FindingRow.locations] if locations else [])) \
            .where(FindingRow.asset_id.in_(ids)) \
            .order_by(FindingRow.asset_id, FindingRow.entity_type)
        for f in s.execute(query):
            values: tuple[Any, ...] = tuple(f)  # by position: Row.count is tuple.count
            asset_id, kind, count, score, recognizers, *where = values
            by_asset[asset_id].append(FindingSummary(
                kind, count, score, tuple(recognizers),
                tuple(Location(int(x["start"]), int(x["end"]), x.get("locator"),
                               x.get("line"), x.get("column"), x.get("offset"))
                      for x in (where[0] if where else ()))))
    return [AssetView(**{k: getattr(r, k) for k in _FIELDS}, findings=tuple(by_asset[r.id]))
            for r in rows]
