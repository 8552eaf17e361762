"""sd_notify client against a real AF_UNIX datagram socket."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.platform.systemd_notify import Notifier, socket_address, watchdog_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    yield s, path
    s.close()


def _recv(s: socket.socket) -> list[str]:
    return s.recv(4096).decode().split("\n")


def test_ready_status_stopping_reach_the_socket(listener: tuple[socket.socket, str]) -> None:
    s, path = listener
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("queue 0")
    assert _recv(s) == ["READY=1", "STATUS=queue 0"]
    assert n.stopping()
    assert _recv(s) == ["STOPPING=1"]
    n.close()


def test_reloading_carries_monotonic_usec(listener: tuple[socket.socket, str]) -> None:
    s, path = listener
    n = Notifier(socket_address(path))
    n.reloading()
    lines = _recv(s)
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC" and int(value) > 0
    n.close()


def test_abstract_namespace_socket() -> None:
    name = f"sw-test-{uuid.uuid4().hex}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(b"\0" + name.encode())
    s.settimeout(5)
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert n.notify("READY=1")
        assert _recv(s) == ["READY=1"]
        n.close()
    finally:
        s.close()


def test_a_newline_in_a_status_cannot_forge_a_second_line(
        listener: tuple[socket.socket, str]) -> None:
    s, path = listener
    n = Notifier(path)
    n.status("ok\nREADY=1")
    assert _recv(s) == ["STATUS=ok READY=1"]
    n.close()


def test_watchdog_pings_are_rate_limited_to_half_the_interval(
        listener: tuple[socket.socket, str]) -> None:
    s, path = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3600000000", "WATCHDOG_PID": str(os.getpid())}
    n = Notifier.from_env(env)
    assert n.watchdog_interval == 1800.0
    for _ in range(5):
        assert n.watchdog()
    assert _recv(s) == ["WATCHDOG=1"]
    s.settimeout(0.2)
    with pytest.raises(TimeoutError):
        s.recv(4096)  # the four later pings were not due
    n.close()


def test_watchdog_interval_rules() -> None:
    me = os.getpid()
    assert watchdog_interval({}, me) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, me) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}, me) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(me)}, me) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, me) is None
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}, me) is None


def test_unset_socket_is_a_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.notify("READY=1") is False
    assert socket_address("vsock:2:1") is None


def test_unset_environment_keeps_children_from_notifying(
        monkeypatch: pytest.MonkeyPatch, listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    n = Notifier.from_env(unset_environment=True)
    assert n.enabled
    assert "NOTIFY_SOCKET" not in os.environ and "WATCHDOG_USEC" not in os.environ


def test_send_failure_never_raises_and_logs_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(str(tmp_path / "nobody-listens.sock"))
    with caplog.at_level(logging.WARNING, logger="scratchwarden.sdnotify"):
        assert n.notify("READY=1") is False
        assert n.notify("STATUS=x") is False
    warnings = [r for r in caplog.records if r.name == "scratchwarden.sdnotify"]
    assert len(warnings) == 1
    n.close()


def test_send_never_blocks_when_the_reader_stalls(tmp_path: Path) -> None:
    """A service manager that stops reading fills the datagram buffer; the
    daemon's main loop must keep running (messages are dropped instead)."""
    import socket as _socket
    import threading

    path = tmp_path / "stalled.sock"
    reader = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    reader.bind(str(path))
    try:
        n = Notifier(str(path))
        done = threading.Event()

        def flood() -> None:
            for _ in range(5000):
                n.notify("STATUS=" + "x" * 512)
            done.set()

        t = threading.Thread(target=flood, daemon=True)
        t.start()
        assert done.wait(30), "notify blocked on a full socket buffer"
        t.join(5)
        n.close()
    finally:
        reader.close()
