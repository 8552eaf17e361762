"""Pure and small-I/O parts of the daemon: work queue, root patterns, node
config, the walker and fingerprints."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from daemon.host.config import NodeConfig, load_config
from daemon.host.roots import WatchRoot, match_any
from daemon.node.work_queue import WorkQueue
from daemon.platform.fingerprint import Fingerprinter, load_or_create_key, normalise
from daemon.scan.walk import walk
from scratchwarden.errors import ConfigError, KeyMaterialError

# ----------------------------------------------------------------- work queue


def test_queue_coalesces_and_keeps_earliest_event() -> None:
    q = WorkQueue(capacity=10)
    assert q.put("/a", due=5.0, event_time=1.0)
    assert q.put("/a", due=6.0, event_time=2.0)
    assert len(q) == 1
    assert q.take_due(now=5.5, limit=10, timeout=0) == []  # re-due at 6.0
    [item] = q.take_due(now=6.0, limit=10, timeout=0)
    assert (item.path, item.first_event, item.due) == ("/a", 1.0, 6.0)
    assert len(q) == 0


def test_queue_is_bounded_and_refuses_new_paths_when_full() -> None:
    q = WorkQueue(capacity=2)
    assert q.put("/a", 0, 0) and q.put("/b", 0, 0)
    assert not q.put("/c", 0, 0)          # refused: the caller reconciles
    assert q.put("/a", 1, 1)              # coalescing a known path still works
    assert len(q) == 2


def test_queue_returns_in_due_order_and_respects_limit() -> None:
    q = WorkQueue(capacity=10)
    for i, due in enumerate([3.0, 1.0, 2.0]):
        q.put(f"/{i}", due, due)
    got = q.take_due(now=10, limit=2, timeout=0)
    assert [g.path for g in got] == ["/1", "/2"]
    assert [g.path for g in q.take_due(now=10, limit=5, timeout=0)] == ["/0"]


def test_queue_discard() -> None:
    q = WorkQueue(capacity=10)
    q.put("/a", 0, 0)
    q.discard("/a")
    assert q.take_due(now=1, limit=5, timeout=0) == []


# ---------------------------------------------------------------------- roots

@pytest.mark.parametrize(("path", "labels"), [
    ("/srv/agents/acme/sessions/s1/out.txt", {"tenant": "acme", "session": "s1"}),
    ("/srv/agents/acme/sessions/s1/deep/er/x.json", {"tenant": "acme", "session": "s1"}),
    ("/srv/agents/acme/sessions/s1", {"tenant": "acme", "session": "s1"}),
    ("/srv/agents/acme/sessions", None),
    ("/srv/agents/acme/sessionsX/s1/a", None),
    ("/srv/agentsX/acme/sessions/s1/a", None),
    ("/srv/agents/acme/sessions/../../etc/passwd", None),
])
def test_root_pattern_matches_and_labels(path: str, labels: dict[str, str] | None) -> None:
    p = WatchRoot("/srv/agents/{tenant}/sessions/{session}")
    assert p.base == "/srv/agents"
    m = p.match(path)
    assert (m.labels if m else None) == labels


def test_match_any_first_pattern_wins() -> None:
    pats = [WatchRoot("/w/{session}"), WatchRoot("/w/fixed")]
    m = match_any(pats, "/w/fixed/a")
    assert m is not None and m.labels == {"session": "fixed"}


# --------------------------------------------------------------------- config

def test_config_defaults_and_durations(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text('version: 1\nroots: ["/srv/a/{session}"]\nquiet_period: 1m30s\n'
                 'heavy_windows: ["22:00-06:00"]\nworkers: 2\n')
    c = load_config(f)
    assert c.quiet_period == 90 and c.workers == 2 and c.node_id
    from datetime import time
    assert c.heavy_windows[0].contains(time(23, 0)) and not c.heavy_windows[0].contains(time(12))


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("version: 1\nworkers: 2\nlimits:\n  max_queue: 50\n  bogus: 1\n", 5, "limits.bogus"),
    ("version: 1\nroots: [relative/path]\n", 2, "absolute"),
    ("version: 1\nquiet_period: 5 minutes\n", 2, "quiet_period"),
    ("version: 1\nmetrics_address: nope\n", 2, "HOST:PORT"),
    ("version: 1\nheavy_windows: ['25:00-01:00']\n", 2, "time of day"),
    ("version: 1\nworkers: [\n", 3, "YAML syntax"),
])
def test_config_errors_carry_file_and_line(tmp_path: Path, text: str, line: int,
                                            needle: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_config(f)
    assert f"{f}:{line}:" in str(ei.value)
    assert needle in str(ei.value)


def test_config_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def test_config_error_never_echoes_values(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("version: 1\ninventory: [postgresql://u:hunter2@db/x]\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f)
    assert "hunter2" not in str(ei.value)


def test_node_config_rejects_unknown_top_level_key() -> None:
    with pytest.raises(Exception, match="extra"):
        NodeConfig.model_validate({"version": 1, "rootz": []})


# ----------------------------------------------------------------------- walk

def test_walk_never_follows_symlinks_and_reports_special_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x")
    (tmp_path / "link-to-etc").symlink_to("/etc")
    (tmp_path / "passwd").symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / "fifo")
    got = {os.path.relpath(e.path, tmp_path): e.stat.st_mode for e in walk(str(tmp_path))}
    assert set(got) == {"d/a.txt", "link-to-etc", "passwd", "fifo"}
    assert stat.S_ISLNK(got["link-to-etc"]) and stat.S_ISFIFO(got["fifo"])


def test_walk_reports_unreadable_dirs(tmp_path: Path) -> None:
    errors: list[str] = []
    list(walk(str(tmp_path / "absent"), on_error=lambda p, e: errors.append(p)))
    assert errors == [str(tmp_path / "absent")]


# ---------------------------------------------------------------- fingerprint

def test_fingerprint_key_created_private_and_stable(tmp_path: Path) -> None:
    k1 = load_or_create_key(tmp_path / "fp.key")
    k2 = load_or_create_key(tmp_path / "fp.key")
    assert k1 == k2 and len(k1) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "fp.key").st_mode) == 0o600


def test_a_worker_loading_the_key_while_another_creates_it_reads_the_whole_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scan workers start together on a fresh state dir. Here a second loader
    runs while the first is generating its key bytes: with an O_EXCL create
    followed by a write it found an empty file ("expected 32 bytes, found 0")."""
    import daemon.platform.fingerprint as fp

    key = tmp_path / "fp.key"
    real = os.urandom
    seen: list[bytes] = []

    def urandom_with_a_concurrent_loader(n: int) -> bytes:
        if not seen:
            seen.append(b"")
            seen.append(load_or_create_key(key))  # the other worker, mid-creation
        return real(n)

    monkeypatch.setattr(fp.os, "urandom", urandom_with_a_concurrent_loader)
    first = load_or_create_key(key)
    assert first == seen[1] and len(first) == 32
    assert [x.name for x in tmp_path.iterdir()] == ["fp.key"]  # no temp file left


def test_fingerprint_key_path_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"k" * 32)
    os.chmod(target, 0o600)
    (tmp_path / "fp.key").symlink_to(target)
    with pytest.raises(KeyMaterialError, match="cannot open"):
        load_or_create_key(tmp_path / "fp.key")
    assert target.read_bytes() == b"k" * 32


def test_fingerprint_refuses_loose_permissions(tmp_path: Path) -> None:
    load_or_create_key(tmp_path / "fp.key")
    os.chmod(tmp_path / "fp.key", 0o644)
    with pytest.raises(KeyMaterialError, match="0600"):
        load_or_create_key(tmp_path / "fp.key")


def test_fingerprint_normalises_spellings_and_depends_on_key() -> None:
    a, b = Fingerprinter(b"k" * 32), Fingerprinter(b"j" * 32)
    assert a("078-05-1120") == a("078 05 1120") == a("07805-1120")
    assert a("Jane@Example.com") == a("jane@example.com")
    assert a("078-05-1120") != b("078-05-1120")
    assert "078" not in repr(a) and normalise("A-b C") == "abc"


def test_fingerprint_is_hmac_sha256_of_the_normalised_value() -> None:
    """Stored fingerprints stay comparable across versions: the same HMAC."""
    import hashlib
    import hmac

    key = bytes(range(32))
    expected = hmac.new(key, b"janeroe@exampleorg", hashlib.sha256).hexdigest()
    assert Fingerprinter(key)("Jane.Roe@Example.org") == expected


def test_fingerprint_calls_do_not_leak_into_each_other() -> None:
    """Each value is hashed from the keyed state alone, whatever came before."""
    import hashlib
    import hmac

    key = bytes(range(32))
    fp = Fingerprinter(key)
    values = ["078-05-1120", "jane@example.org", "", "078-05-1120", "x" * 200]
    got = [fp(v) for v in values]
    assert got == [hmac.new(key, normalise(v).encode(), hashlib.sha256).hexdigest()
                   for v in values]
    assert got[0] == got[3] != got[1]
