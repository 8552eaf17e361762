"""The store's lifecycle of an asset, against real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from inventory.store import Recording, Store
from scratchwarden.errors import InventoryError
from scratchwarden.observations import FileObservation, FileStatus, Finding

T0 = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=m) for m in (1, 2, 3))
HMAC_A = "a" * 64


def scanned(path: str, *findings: Finding, sha: str = "1" * 64, size: int = 10,
            inode: int = 7) -> FileObservation:
    return FileObservation(path=path, status=FileStatus.SCANNED, size=size, inode=inode,
                           device=2049, mtime_ns=1_700_000_000_000_000_000, sha256=sha,
                           mime="text/plain", findings=tuple(findings))


def ssn(start: int = 0, fp: str | None = HMAC_A) -> Finding:
    return Finding("US_SSN", start, start + 11, 0.85, "UsSsnRecognizer", fingerprint=fp)


def email(start: int = 40) -> Finding:
    return Finding("EMAIL_ADDRESS", start, start + 17, 1.0, "EmailRecognizer")


def kinds(store: Store, asset_id: int) -> list[str]:
    return [e.kind for e in store.events(asset_id)]


def test_first_observation_creates_a_live_row_with_findings(store: Store) -> None:
    aid = store.record_observation("n1", "/srv/s", scanned("/srv/s/a.txt", ssn(), ssn(20),
                                   email()), now=T0, owner="ai@x", session="s1",
                                   labels={"tenant": "acme"})
    a = store.get_asset("n1", "/srv/s/a.txt")
    assert a is not None and a.id == aid
    assert (a.status, a.sensitivity, a.classification) == ("scanned", "restricted",
                                                           "EMAIL_ADDRESS,US_SSN")
    assert a.entity_counts == {"EMAIL_ADDRESS": 1, "US_SSN": 2}
    assert a.first_seen == a.last_seen == a.last_scanned == T0
    assert a.first_seen.tzinfo is not None
    assert (a.owner, a.session, a.labels, a.root) == ("ai@x", "s1", {"tenant": "acme"}, "/srv/s")
    ssn_summary = next(f for f in a.findings if f.entity_type == "US_SSN")
    assert [(x.start, x.end) for x in ssn_summary.locations] == [(0, 11), (20, 31)]
    assert store.assets_with_fingerprint(HMAC_A) == [(aid, "US_SSN")]
    assert kinds(store, aid) == ["seen"]


def test_upsert_keeps_identity_replaces_findings_and_logs_a_change(store: Store) -> None:
    aid = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    again = store.record_observation("n1", "/r", scanned("/r/a", email(), sha="2" * 64,
                                     size=99), now=T1)
    a = store.get_asset("n1", "/r/a")
    assert a is not None and again == aid
    assert a.entity_counts == {"EMAIL_ADDRESS": 1}
    assert a.sensitivity == "confidential" and a.size == 99
    assert (a.first_seen, a.last_seen) == (T0, T1)
    assert store.assets_with_fingerprint(HMAC_A) == []
    events = store.events(aid)
    assert [e.kind for e in events] == ["seen", "changed"]
    assert events[1].details is not None
    assert {"size", "sha256", "classification", "sensitivity"} <= set(events[1].details["fields"])


def test_unchanged_observation_writes_no_event_but_bumps_last_seen(store: Store) -> None:
    aid = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T1)
    assert kinds(store, aid) == ["seen"]
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.last_seen == T1 and a.entity_counts == {"US_SSN": 1}


def test_failed_rescan_of_unchanged_content_keeps_findings(store: Store) -> None:
    """Fail closed: a timeout on the same bytes must not make the file look clean."""
    store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    timeout = FileObservation(path="/r/a", status=FileStatus.UNSCANNABLE, reason="timeout",
                              sha256="1" * 64, size=10)
    store.record_observation("n1", "/r", timeout, now=T1)
    a = store.get_asset("n1", "/r/a")
    assert a is not None
    assert (a.status, a.reason, a.sensitivity) == ("unscannable", "timeout", "restricted")
    assert a.entity_counts == {"US_SSN": 1}


def test_unscannable_new_file_has_unknown_not_none_sensitivity(store: Store) -> None:
    obs = FileObservation(path="/r/big", status=FileStatus.UNSCANNABLE, reason="too-large")
    store.record_observation("n1", "/r", obs, now=T0)
    a = store.get_asset("n1", "/r/big")
    assert a is not None and (a.status, a.reason, a.sensitivity) == ("unscannable",
                                                                     "too-large", None)
    assert store.known_unscannable("n1", "/r") == {"/r/big": "too-large"}
    clean = store.record_observation("n1", "/r", scanned("/r/clean"), now=T0)
    assert clean and store.get_asset("n1", "/r/clean").sensitivity == "none"  # type: ignore[union-attr]


def test_delete_keeps_the_row_and_its_history(store: Store) -> None:
    aid = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    assert store.mark_deleted("n1", "/r/a", now=T1, reason="retention") == aid
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.id == aid
    assert (a.status, a.deleted_at, a.deleted_reason) == ("deleted", T1, "retention")
    assert a.entity_counts == {"US_SSN": 1}  # what was there stays on record
    assert kinds(store, aid) == ["seen", "deleted"]
    assert store.known_files("n1", "/r") == {}
    assert store.mark_deleted("n1", "/r/a", now=T2, reason="again") is None


def test_reappearing_path_is_a_new_incarnation(store: Store) -> None:
    old = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    store.mark_deleted("n1", "/r/a", now=T1, reason="gone")
    new = store.record_observation("n1", "/r", scanned("/r/a", email()), now=T2)
    assert new != old
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.id == new and a.status == "scanned" and a.first_seen == T2
    rows = [(x.id, x.status) for x in store.iter_assets("n1")]
    assert rows == [(old, "deleted"), (new, "scanned")]
    assert [x.id for x in store.iter_assets("n1", include_deleted=False)] == [new]


def test_rename_moves_the_asset_with_its_history(store: Store) -> None:
    aid = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    store.set_decision("n1", "/r/a", rule="restricted-data", deadline=T0 + timedelta(days=1),
                       policy_revision="abc123", now=T0)
    assert store.mark_renamed("n1", "/r/a", "/r/b", now=T1) == aid
    b = store.get_asset("n1", "/r/b")
    assert b is not None and b.id == aid and b.path == "/r/b"
    assert (b.first_seen, b.rule, b.deadline) == (T0, "restricted-data", T0 + timedelta(days=1))
    assert b.entity_counts == {"US_SSN": 1}
    assert store.get_asset("n1", "/r/a") is None
    events = store.events(aid)
    assert [e.kind for e in events] == ["seen", "decided", "renamed"]
    assert events[-1].details == {"from": "/r/a"} and events[-1].path == "/r/b"
    assert set(store.known_files("n1", "/r")) == {"/r/b"}


def test_rename_over_an_existing_file_ends_the_overwritten_one(store: Store) -> None:
    a = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    b = store.record_observation("n1", "/r", scanned("/r/b", email(), inode=8), now=T0)
    store.mark_renamed("n1", "/r/a", "/r/b", now=T1)
    by_id = {x.id: x for x in store.iter_assets("n1")}
    assert by_id[a].path == "/r/b" and by_id[a].status == "scanned"
    assert (by_id[b].status, by_id[b].deleted_reason) == ("deleted", "replaced-by-rename")
    live = store.get_asset("n1", "/r/b")
    assert live is not None and live.id == a


def test_unknown_rename_source_returns_none(store: Store) -> None:
    assert store.mark_renamed("n1", "/r/x", "/r/y", now=T0) is None


def test_deleted_observation_of_unknown_path_still_leaves_a_row(store: Store) -> None:
    obs = FileObservation(path="/r/brief", status=FileStatus.DELETED)
    aid = store.record_observation("n1", "/r", obs, now=T0)
    a = store.get_asset("n1", "/r/brief")
    assert a is not None and a.id == aid and a.status == "deleted"


def test_record_many_is_one_batch_with_repeated_paths(store: Store) -> None:
    batch = [Recording(scanned(f"/r/f{i}", ssn()), root="/r") for i in range(30)]
    batch.append(Recording(scanned("/r/f0", email(), sha="2" * 64), root="/r"))
    batch.append(Recording(FileObservation(path="/r/f1", status=FileStatus.DELETED), root="/r"))
    batch.append(Recording(scanned("/r/f1", email()), root="/r"))
    ids = store.record_many("n1", batch, now=T0)
    assert len(ids) == 33 and ids[30] == ids[0] and ids[31] == ids[1] and ids[32] != ids[1]
    f0 = store.get_asset("n1", "/r/f0")
    assert f0 is not None and f0.entity_counts == {"EMAIL_ADDRESS": 1}
    f1 = store.get_asset("n1", "/r/f1")
    assert f1 is not None and f1.id == ids[32] and f1.status == "scanned"
    assert len(store.known_files("n1", "/r")) == 30
    assert store.count_assets("n1") == 31


def test_known_files_is_per_node_and_root(store: Store) -> None:
    store.record_observation("n1", "/r", scanned("/r/a", size=5, inode=11), now=T0)
    store.record_observation("n1", "/q", scanned("/q/a"), now=T0)
    store.record_observation("n2", "/r", scanned("/r/a"), now=T0)
    store.record_observation("n1", None, scanned("/loose"), now=T0)
    known = store.known_files("n1", "/r")
    assert list(known) == ["/r/a"]
    k = known["/r/a"]
    assert (k.inode, k.size, k.mtime_ns, k.sha256) == (11, 5, 1_700_000_000_000_000_000,
                                                       "1" * 64)
    inode, size, mtime_ns, sha = k  # the tuple shape callers unpack
    assert (inode, size) == (11, 5)
    assert list(store.known_files("n1", None)) == ["/loose"]


def test_mark_seen_bumps_only_live_rows(store: Store) -> None:
    store.record_observation("n1", "/r", scanned("/r/a"), now=T0)
    store.record_observation("n1", "/r", scanned("/r/b"), now=T0)
    store.mark_deleted("n1", "/r/b", now=T0, reason="gone")
    assert store.mark_seen("n1", ["/r/a", "/r/b", "/r/zz"], now=T2) == 1
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.last_seen == T2 and a.last_scanned == T0


def test_iter_assets_pages_through_everything(store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inventory.store.PAGE", 3)
    store.record_many("n1", [Recording(scanned(f"/r/{i}", ssn())) for i in range(10)], now=T0)
    store.record_observation("n2", "/r", scanned("/r/x"), now=T0)
    paths = [a.path for a in store.iter_assets("n1")]
    assert paths == [f"/r/{i}" for i in range(10)]
    assert all(a.entity_counts == {"US_SSN": 1} for a in store.iter_assets("n1"))
    assert len(list(store.iter_assets())) == 11


def test_encryption_state_changes_are_events(store: Store) -> None:
    aid = store.record_observation("n1", "/r", scanned("/r/a", ssn()), now=T0)
    store.set_encryption_state("n1", "/r/a", "encrypted", kek_id="kek-1", now=T1)
    store.set_encryption_state("n1", "/r/a", "encrypted", kek_id="kek-1", now=T2)
    a = store.get_asset("n1", "/r/a")
    assert a is not None and (a.encryption_state, a.kek_id) == ("encrypted", "kek-1")
    assert kinds(store, aid) == ["seen", "encrypted"]
    with pytest.raises(InventoryError, match="expected one of"):
        store.set_encryption_state("n1", "/r/a", "rot13", now=T2)


def test_journal_intents(store: Store) -> None:
    j1 = store.journal_intent("n1", "/r/a", "encrypt", now=T0, details={"kek_id": "k"})
    j2 = store.journal_intent("n1", "/r/b", "delete", now=T0)
    store.journal_intent("n2", "/r/c", "delete", now=T0)
    store.journal_finish(j1, "done", now=T1)
    pending = store.pending_intents("n1")
    assert [(p.id, p.path, p.action, p.state) for p in pending] == [(j2, "/r/b", "delete",
                                                                     "intent")]
    with pytest.raises(InventoryError):
        store.journal_finish(j2, "half-done", now=T1)
    with pytest.raises(InventoryError, match="expected entry"):
        store.journal_finish(999_999, "done", now=T1)


def test_times_come_back_as_the_same_utc_instant(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2026, 11, 22, 14, 0, 0, 654321, tzinfo=plus2)
    store.record_observation("n1", "/r", scanned("/r/a"), now=local)
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.first_seen == local
    assert a.first_seen.utcoffset() == timedelta(0) and a.first_seen.microsecond == 654321


def test_naive_datetime_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_observation("n1", "/r", scanned("/r/a"), now=datetime(2026, 1, 1))


def test_non_utf8_file_name_is_recorded(store: Store) -> None:
    odd = b"/r/caf\xe9.txt".decode("utf-8", "surrogateescape")
    aid = store.record_observation("n1", "/r", scanned(odd), now=T0)
    a = store.get_asset("n1", odd)
    assert a is not None and a.id == aid and a.path == "/r/caf\\xe9.txt"


def test_caller_given_sensitivity_wins_and_is_checked(store: Store) -> None:
    store.record_observation("n1", "/r", scanned("/r/a"), now=T0, sensitivity="restricted")
    a = store.get_asset("n1", "/r/a")
    assert a is not None and a.sensitivity == "restricted"
    with pytest.raises(InventoryError, match="expected one of"):
        store.record_observation("n1", "/r", scanned("/r/b"), now=T0, sensitivity="secret")


def test_two_writers_racing_on_new_paths_leave_one_live_row_each(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(s: Store) -> None:
        try:
            start.wait()
            for i in range(20):
                s.record_observation("n1", "/r", scanned(f"/r/race{i}", ssn()), now=T0)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(stores[0].known_files("n1", "/r")) == 20
        assert stores[0].count_assets("n1") == 20
    finally:
        for s in stores:
            s.close()


def test_drills_keep_history_and_report_the_latest(store: Store) -> None:
    store.record_drill("n1", "no-cloud-credentials", "fanotify", "enforced", now=T0)
    store.record_drill("n1", "no-cloud-credentials", "fanotify", "not-enforced", now=T1,
                       details={"errno": 0})
    store.record_drill("n1", "no-delete-outside-scratch", "landlock", "enforced", now=T1)
    store.record_drill("n2", "no-cloud-credentials", "fanotify", "error", now=T2)
    latest = store.latest_drills("n1")
    assert [(d.red_line, d.outcome, d.time) for d in latest] == [
        ("no-cloud-credentials", "not-enforced", T1),
        ("no-delete-outside-scratch", "enforced", T1)]
    with pytest.raises(InventoryError, match="expected one of"):
        store.record_drill("n1", "x", "landlock", "passed", now=T0)


def test_finding_survives_pickling_with_every_field() -> None:
    """Workers pickle findings to the parent (``Finding.__reduce_ex__``): every
    field, including one added later, must come back."""
    import pickle

    values = {"start": 3, "end": 9, "score": 0.85}
    kw = {name: values.get(name, f"v-{name}") for name in Finding._fields}
    f = Finding(**kw)  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes
    assert back == f and type(back) is Finding
    obs = FileObservation("/x", FileStatus.SCANNED, findings=(f, f))
    assert pickle.loads(pickle.dumps(obs)) == obs  # noqa: S301 - our own bytes
