"""Metrics scraped over loopback from the real HTTP endpoint."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from daemon.node.metrics import Metrics, MetricsServer, parse_address
from scratchwarden.errors import ConfigError
from scratchwarden.observations import FileObservation, FileStatus, Finding

SECRET_LOOKING = "4111 1111 1111 1111"  # noqa: S105 - a test card number


@pytest.fixture
def served() -> Iterator[tuple[Metrics, MetricsServer]]:
    m = Metrics(version="9.9.9")
    server = m.serve("127.0.0.1:0")
    yield m, server
    server.close()


def _scrape(server: MetricsServer) -> str:
    host, port = server.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
        body: str = r.read().decode()
    return body


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _finding(entity: str) -> Finding:
    return Finding(entity_type=entity, start=0, end=4, score=0.9, recognizer="test")


def test_scan_observations_reach_the_endpoint(served: tuple[Metrics, MetricsServer]) -> None:
    m, server = served
    m.observe_scan(FileObservation("/srv/agents/a/x.txt", FileStatus.SCANNED, size=1000,
                                   findings=(_finding("PERSON"), _finding("PERSON"),
                                             _finding("US_SSN"))), 0.4)
    m.observe_scan(FileObservation("/srv/agents/a/y.bin", FileStatus.UNSCANNABLE,
                                   reason="zip-bomb"), 12.0)
    m.observe_scan(FileObservation("/srv/agents/a/fifo", FileStatus.SKIPPED), None)
    m.reconcile_done("periodic", at=1_700_000_000.0)
    m.set_queue_depth(7)
    m.worker_restarted()
    m.inventory_error()
    s = _samples(_scrape(server))
    assert s[("scratchwarden_files_scanned_total", ())] == 1
    assert s[("scratchwarden_bytes_scanned_total", ())] == 1000
    assert s[("scratchwarden_files_skipped_total", ())] == 1
    assert s[("scratchwarden_findings_total", (("entity_type", "PERSON"),))] == 2
    assert s[("scratchwarden_findings_total", (("entity_type", "US_SSN"),))] == 1
    assert s[("scratchwarden_scan_errors_total", (("reason", "zip-bomb"),))] == 1
    assert s[("scratchwarden_reconcile_runs_total", (("trigger", "periodic"),))] == 1
    assert s[("scratchwarden_last_reconcile_timestamp_seconds", ())] == 1_700_000_000.0
    assert s[("scratchwarden_queue_depth", ())] == 7
    assert s[("scratchwarden_worker_restarts_total", ())] == 1
    assert s[("scratchwarden_inventory_errors_total", ())] == 1
    assert s[("scratchwarden_event_to_inventory_seconds_count", ())] == 2
    assert s[("scratchwarden_event_to_inventory_seconds_bucket", (("le", "0.5"),))] == 1
    assert s[("scratchwarden_event_to_inventory_seconds_bucket", (("le", "15.0"),))] == 2
    info = [k for k in s if k[0] == "scratchwarden_build_info"]
    assert info and ("version", "9.9.9") in info[0][1]


def test_label_values_come_from_fixed_vocabularies(
        served: tuple[Metrics, MetricsServer]) -> None:
    m, server = served
    m.observe_scan(FileObservation("/p", FileStatus.SCANNED, size=1,
                                   findings=(_finding(SECRET_LOOKING), _finding("NOT_A_TYPE"))))
    m.scan_error(f"failed near {SECRET_LOOKING}")
    m.reconcile_done(SECRET_LOOKING)
    text = _scrape(server)
    assert SECRET_LOOKING not in text and "NOT_A_TYPE" not in text and "/p" not in text
    s = _samples(text)
    assert s[("scratchwarden_findings_total", (("entity_type", "OTHER"),))] == 2
    assert s[("scratchwarden_scan_errors_total", (("reason", "other"),))] == 1
    assert s[("scratchwarden_reconcile_runs_total", (("trigger", "other"),))] == 1


def test_secret_recognizer_entities_are_known() -> None:
    from daemon.scan.recognizers.secrets import SECRET_ENTITIES

    m = Metrics()
    assert all(m.entity_label(e) == e for e in SECRET_ENTITIES)


def test_queue_depth_can_be_read_at_scrape_time(served: tuple[Metrics, MetricsServer]) -> None:
    m, server = served
    depth = [3]
    m.track_queue_depth(lambda: depth[0])
    depth[0] = 42
    assert _samples(_scrape(server))[("scratchwarden_queue_depth", ())] == 42


def test_metrics_stay_out_of_the_global_registry() -> None:
    Metrics()
    assert REGISTRY.get_sample_value("scratchwarden_files_scanned_total") is None


def test_close_stops_the_server_thread_and_frees_the_port() -> None:
    m = Metrics()
    server = m.serve("127.0.0.1:0")
    port = server.port
    assert server.thread.is_alive()
    server.close()
    server.close()  # idempotent
    assert not server.thread.is_alive()
    assert server.thread not in threading.enumerate()
    again = m.serve(f"127.0.0.1:{port}")  # the port is free again
    again.close()


def test_bad_addresses_are_config_errors() -> None:
    for bad in ("9464", "localhost:http", ":9464", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_address(bad)
    assert parse_address("[::1]:9464") == ("::1", 9464)
    m = Metrics()
    first = m.serve("127.0.0.1:0")
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            m.serve(f"127.0.0.1:{first.port}")
    finally:
        first.close()
