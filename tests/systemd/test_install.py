"""``daemon.host.install.install`` into a temporary root, then the real
``systemd-analyze`` on what it wrote."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from daemon.host.config import load_config
from daemon.host.install import DROPIN, install
from scratchwarden.errors import ConfigError


def _venv(tmp_path: Path) -> Path:
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    exe = prefix / "bin" / "scratchwarden"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return prefix


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _install(tmp_path: Path, **kw: Any) -> tuple[Any, Path, list[str]]:
    dest = tmp_path / "root"
    printed: list[str] = []
    report = install(_venv(tmp_path), destdir=dest, out=printed.append, **kw)
    return report, dest, printed


def test_lays_out_directories_config_unit_and_dropin(tmp_path: Path) -> None:
    report, dest, printed = _install(tmp_path, roots=["/srv/agents/{tenant}/sessions/{session}",
                                                      "/data/scratch"])
    assert _mode(dest / "etc/scratchwarden") == 0o750
    assert _mode(dest / "var/lib/scratchwarden") == 0o700
    config = dest / "etc/scratchwarden/scratchwarden.yaml"
    assert _mode(config) == 0o640
    assert load_config(config).roots == ["/srv/agents/{tenant}/sessions/{session}",
                                         "/data/scratch"]
    unit = (dest / "etc/systemd/system/scratchwarden.service").read_text()
    assert f"ExecStart={tmp_path}/venv/bin/scratchwarden daemon --config " \
           f"/etc/scratchwarden/scratchwarden.yaml" in unit
    dropin = (dest / f"etc/systemd/system/scratchwarden.service.d/{DROPIN}").read_text()
    assert "ReadWritePaths=\nReadWritePaths=-/srv/agents -/data/scratch\n" in dropin
    assert "ProtectHome" not in dropin and "PrivateTmp" not in dropin
    assert printed[-1] == "next: systemctl daemon-reload && systemctl enable --now " \
                          "scratchwarden.service"
    assert not (dest / "etc/systemd/system/scratchwarden-guard.service").exists()


def test_installed_unit_verifies_and_keeps_its_exposure(sd: Any, tmp_path: Path) -> None:
    report, dest, _ = _install(tmp_path, roots=["/home/{user}/agent-scratch", "/tmp/agents"],  # noqa: S108
                               allow_addresses=["10.0.4.7"], guard=True)
    for unit in report.unit_paths:
        result = sd.verify(unit)
        assert result.returncode == 0 and result.problems == [], result.problems
    main = report.unit_paths[0]
    dropin = report.dropin_path.read_text()
    assert "ProtectHome=read-only" in dropin and "PrivateTmp=no" in dropin
    assert "IPAddressAllow=10.0.4.7" in dropin
    assert sd.exposure(main) <= 2.5


def test_existing_config_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    config = dest / "etc/scratchwarden/scratchwarden.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("version: 1\nroots: ['/srv/mine']\n")
    printed: list[str] = []
    report = install(_venv(tmp_path), destdir=dest, out=printed.append)
    assert config.read_text() == "version: 1\nroots: ['/srv/mine']\n"
    assert "ReadWritePaths=-/srv/mine" in report.dropin_path.read_text()
    assert any("kept existing configuration" in line for line in printed)
    assert _mode(config.parent) == 0o750  # tightened


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    report, dest, printed = _install(tmp_path, dry_run=True)
    assert not dest.exists()
    assert any(line.startswith("would write /etc/systemd/system/scratchwarden.service")
               for line in printed)


@pytest.mark.parametrize("root", ["/{tenant}/x", "/etc/{x}", "/var/lib/{x}", "relative/x",
                                  "/srv/a b", "/srv/$HOME", "/srv/agents/../../etc"])
def test_roots_that_would_open_the_system_are_refused(tmp_path: Path, root: str) -> None:
    with pytest.raises(ConfigError):
        _install(tmp_path, roots=[root])
    assert not (tmp_path / "root").exists()


def test_percent_is_escaped_for_systemd(tmp_path: Path) -> None:
    report, _, _ = _install(tmp_path, roots=["/srv/100%agents"])
    assert "ReadWritePaths=-/srv/100%%agents" in report.dropin_path.read_text()


def test_bad_allow_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IPAddressAllow"):
        _install(tmp_path, allow_addresses=["db.example.com"])
