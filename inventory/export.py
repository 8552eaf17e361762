"""The auditor's export: every file the inventory knows, its classification,
sensitivity, owner, session, dates, status, encryption state and retention.

Decisions:
* Streamed: assets are read in pages (``Store.iter_assets``), one row written
  at a time, so 100k assets need no more memory than one page.
* No detected value can be exported because none is stored. Fingerprints are
  not exported either: a keyed HMAC of a low-entropy value (an SSN) is
  brute-forceable by anyone who later obtains the key, so they stay inside
  the database for correlation. Finding locations are not exported (offsets
  help nobody reading a spreadsheet); the JSONL carries per-type counts/scores.
* CSV: RFC 4180 (comma, double-quote quoting, CRLF), UTF-8 with a BOM by
  default so a spreadsheet opens it as UTF-8 as is (pass ``bom=False`` for
  tools). Every text cell starting with ``= + - @``, TAB or CR gets a leading
  apostrophe (OWASP CSV injection), so a file named ``=HYPERLINK(...)`` is
  shown, not run.
* Times are ISO 8601 UTC; deleted assets are included (status ``deleted``,
  ``deleted_at``) unless ``include_deleted=False``: the question is where the
  data has been, not only where it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, TextIO

from inventory.store import Store
from inventory.views import AssetView
from scratchwarden.errors import InventoryError

Format = Literal["csv", "jsonl"]

COLUMNS = (
    "node", "root", "path", "status", "reason", "sensitivity", "classification",
    "entity_counts", "owner", "session", "labels", "first_seen", "last_seen", "last_scanned",
    "encryption_state", "kek_id", "rule", "deadline", "policy_revision", "size", "mime",
    "sha256", "deleted_at", "deleted_reason",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export(store: Store, fmt: Format, out: TextIO, node: str | None = None, *,
           include_deleted: bool = True, bom: bool = True) -> int:
    """Write every asset (of ``node``, or all) to ``out``; returns the row count.

    Raises:
        InventoryError: an unknown format.
        InventoryUnavailable: the database is down.
    """
    assets = store.iter_assets(node, include_deleted=include_deleted, locations=False)
    if fmt == "csv":
        return _write_csv(assets, out, bom)
    if fmt == "jsonl":
        return _write_jsonl(assets, out)
    raise InventoryError(f"export format: expected 'csv' or 'jsonl', found {fmt!r}")


def record(asset: AssetView) -> dict[str, Any]:
    """The exported fields of one asset, as plain JSON values."""
    return {
        "node": asset.node, "root": asset.root, "path": asset.path, "status": asset.status,
        "reason": asset.reason, "sensitivity": asset.sensitivity,
        "classification": asset.classification, "entity_counts": asset.entity_counts,
        "owner": asset.owner, "session": asset.session, "labels": asset.labels,
        "first_seen": _iso(asset.first_seen), "last_seen": _iso(asset.last_seen),
        "last_scanned": _iso(asset.last_scanned), "encryption_state": asset.encryption_state,
        "kek_id": asset.kek_id, "rule": asset.rule, "deadline": _iso(asset.deadline),
        "policy_revision": asset.policy_revision, "size": asset.size, "mime": asset.mime,
        "sha256": asset.sha256, "deleted_at": _iso(asset.deleted_at),
        "deleted_reason": asset.deleted_reason,
        "findings": [{"entity_type": f.entity_type, "count": f.count,
                      "max_score": f.max_score} for f in asset.findings],
    }


def _write_jsonl(assets: Iterator[AssetView], out: TextIO) -> int:
    n = 0
    for asset in assets:
        out.write(json.dumps(record(asset), ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n


def _write_csv(assets: Iterator[AssetView], out: TextIO, bom: bool) -> int:
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    n = 0
    for asset in assets:
        row = record(asset)
        row["entity_counts"] = ";".join(f"{k}:{v}" for k, v in asset.entity_counts.items())
        writer.writerow([csv_cell(row[c]) for c in COLUMNS])
        n += 1
    return n


def csv_cell(value: Any) -> str:
    """One cell: JSON for mappings (``labels``), text made safe against
    formula injection."""
    if value is None:
        return ""
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
