"""``scratchwarden policy explain PATH``: which rule applies to an inventoried
file, why, and its deadlines, computed exactly as the enforcer would (same
facts from the inventory, same session ends, same pure evaluation). Entities
appear by type and count only."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.actions.context import revision_text
from daemon.actions.facts import asset_facts
from daemon.actions.sessions import SessionLog, SessionTracker
from daemon.crypto import SUFFIX
from inventory.store import Store
from inventory.views import AssetView
from policies.evaluate import evaluate
from policies.loader import LoadedPolicy
from policies.units import format_duration


def find_asset(store: Store, node: str, path: str) -> AssetView | None:
    """The live row of ``path`` (or of its ciphertext), else its last one."""
    for p in (path, path + SUFFIX):
        a = store.get_asset(node, p)
        if a is not None and a.deleted_at is None:
            return a
    return store.get_asset(node, path)


def explain(store: Store, node: str, path: str, loaded: LoadedPolicy, now: datetime,
            state_dir: str | Path) -> dict[str, Any] | None:
    asset = find_asset(store, node, path)
    if asset is None:
        return None
    tracker = SessionTracker(SessionLog(state_dir).load_new())
    facts, m = asset_facts(asset, loaded, tracker.ended_at)
    d = evaluate(facts, loaded, now)
    origin = loaded.origins.get(f"rule:{d.rule}") if d.rule else None
    return {
        "path": asset.path, "node": node, "status": asset.status,
        "encryption_state": asset.encryption_state, "kek_id": asset.kek_id,
        "deleted_at": _iso(asset.deleted_at), "deleted_reason": asset.deleted_reason,
        "root": {"name": m.root.name, "directory": m.directory, "owner": m.root.owner,
                 "labels": dict(m.labels)} if m else None,
        "entities": {f.entity_type: f.count for f in asset.findings},
        "classes": list(d.classes), "rule": d.rule,
        "rule_defined_at": str(origin) if origin else None, "mode": d.mode.value,
        "action": d.action.value, "due_at": _iso(d.due_at), "deadline": _iso(d.deadline),
        "due_in": _relative(d.due_at, now), "deadline_in": _relative(d.deadline, now),
        "pending": [{"action": s.action.value, "due_at": _iso(s.due_at),
                     "in": _relative(s.due_at, now)} for s in d.pending],
        "reasons": list(d.reasons), "first_seen": _iso(asset.first_seen),
        "session_ended_at": _iso(facts.session_ended_at),
        "policy_revision": revision_text(d.revision), "now": now.isoformat(),
        "stored": {"rule": asset.rule, "deadline": _iso(asset.deadline),
                   "policy_revision": asset.policy_revision},
    }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _relative(t: datetime | None, now: datetime) -> str | None:
    if t is None:
        return None
    delta = t - now
    if delta.total_seconds() >= 0:
        return f"in {format_duration(delta)}"
    return f"{format_duration(-delta)} ago"


def render(doc: dict[str, Any]) -> str:
    """The human form of :func:`explain`'s document."""
    root = doc["root"]
    lines = [f"{doc['path']}  (node {doc['node']}, {doc['status']}, "
             f"{doc['encryption_state']})"]
    if root:
        labels = ", ".join(f"{k}={v}" for k, v in root["labels"].items())
        lines.append(f"  root:      {root['name']} ({root['directory']}), owner "
                     f"{root['owner']}" + (f", labels {labels}" if labels else ""))
    else:
        lines.append("  root:      none (not governed by this policy)")
    ents = ", ".join(f"{k}×{v}" for k, v in sorted(doc["entities"].items())) or "none"
    lines.append(f"  found:     {ents}; classes: {', '.join(doc['classes']) or 'none'}")
    where = f" (defined at {doc['rule_defined_at']})" if doc["rule_defined_at"] else ""
    lines.append(f"  rule:      {doc['rule'] or 'none'}{where}, mode {doc['mode']}")
    lines += [f"    - {r}" for r in doc["reasons"]]
    due = f" due {doc['due_at']} ({doc['due_in']})" if doc["due_at"] else ""
    lines.append(f"  next:      {doc['action']}{due}")
    dl = f"{doc['deadline']} ({doc['deadline_in']})" if doc["deadline"] else "none"
    lines.append(f"  deadline:  {dl}")
    for s in doc["pending"]:
        lines.append(f"    step {s['action']} at {s['due_at']} ({s['in']})")
    if doc["session_ended_at"]:
        lines.append(f"  session ended: {doc['session_ended_at']}")
    if doc["deleted_at"]:
        lines.append(f"  deleted:   {doc['deleted_at']}: {doc['deleted_reason']}")
    lines.append(f"  policy:    {doc['policy_revision']}")
    stored = doc["stored"]
    if stored["policy_revision"] and stored["policy_revision"] != doc["policy_revision"]:
        lines.append(f"  note: the daemon last decided under {stored['policy_revision']}")
    return "\n".join(lines)
