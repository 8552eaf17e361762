"""The supervisor's own duties, driven without starting it: the status it
publishes, and reloads (a refused configuration keeps the running one; new
roots re-arm the watcher and ask for a reconcile)."""

from __future__ import annotations

from pathlib import Path

import yaml

from daemon.cli.node import STATUS_KEYS
from daemon.host.config import NodeConfig
from daemon.node.supervisor import Daemon


class _Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def notify(self, *lines: str) -> bool:
        self.lines += lines
        return True


class _Watcher:
    def __init__(self) -> None:
        self.restarts: list[list[str]] = []

    def restart(self, bases: list[str], policy_dir: str | None = None) -> None:
        self.restarts.append(bases)

    def stop(self) -> None:
        pass


def _daemon(tmp: Path, roots: list[str]) -> tuple[Daemon, Path, _Notes, _Watcher]:
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump({"version": 1, "roots": roots, "metrics_address": None,
                                   "state_dir": str(tmp / "state")}))
    notes, watcher = _Notes(), _Watcher()
    d = Daemon(NodeConfig.model_validate(yaml.safe_load(cfg.read_text())), config_path=cfg,
               notifier=notes)
    d.watcher = watcher  # type: ignore[assignment]
    return d, cfg, notes, watcher


def test_the_status_holds_every_key_the_status_command_prints(tmp_path: Path) -> None:
    d, *_ = _daemon(tmp_path, [str(tmp_path / "a") + "/{session}"])
    try:
        doc = d.status()
    finally:
        d.store.close()
    assert set(STATUS_KEYS) <= set(doc) and doc["roots"] == [str(tmp_path / "a") + "/{session}"]


def test_a_refused_reload_keeps_the_running_configuration(tmp_path: Path) -> None:
    d, cfg, notes, watcher = _daemon(tmp_path, [str(tmp_path / "a") + "/{session}"])
    try:
        cfg.write_text("version: 1\nworkers: [\n")
        d._reload()
        assert d.config.roots == [str(tmp_path / "a") + "/{session}"]
        assert notes.lines == ["RELOADING=1", "READY=1"] and watcher.restarts == []
        assert d.requests.take() is None
    finally:
        d.store.close()


def test_a_reload_with_new_roots_re_arms_the_watcher_and_reconciles(tmp_path: Path) -> None:
    d, cfg, notes, watcher = _daemon(tmp_path, [str(tmp_path / "a") + "/{session}"])
    try:
        cfg.write_text(yaml.safe_dump({"version": 1, "metrics_address": None,
                                       "roots": [str(tmp_path / "b") + "/{session}"]}))
        d._reload()
        assert [r.pattern for r in d.roots] == [str(tmp_path / "b") + "/{session}"]
        assert watcher.restarts == [[str(tmp_path / "b")]]
        assert d.requests.take() == "reload" and notes.lines[-1] == "READY=1"
    finally:
        d.store.close()
