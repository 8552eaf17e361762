"""Helpers running the real ``systemd-analyze`` on unit files.

``verify`` needs every ExecStart= binary to exist, so a unit is checked from a
copy in a temporary directory with a drop-in pointing ExecStart= at a stub
(``systemd-analyze verify`` reads ``UNIT.d/*.conf`` next to the unit file).
``verify`` exits 0 on some parse errors (an unknown capability name, an
unknown key): every line it prints about our files counts as a failure."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
_SCORE = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")


@dataclass
class Verified:
    returncode: int
    problems: list[str]


def analyze_bin() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return exe


def stage_unit(unit_file: Path, workdir: Path, extra_dropins: dict[str, str] | None = None) -> Path:
    """Copy ``unit_file`` (and its ``.d`` drop-ins, if any) into ``workdir`` and
    point ExecStart= at an executable stub."""
    workdir.mkdir(parents=True, exist_ok=True)
    staged = workdir / unit_file.name
    shutil.copy(unit_file, staged)
    src_dropins = unit_file.parent / f"{unit_file.name}.d"
    dropins = workdir / f"{unit_file.name}.d"
    if src_dropins.is_dir():
        shutil.copytree(src_dropins, dropins, dirs_exist_ok=True)
    dropins.mkdir(exist_ok=True)
    stub = workdir / "stub-scratchwarden"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    (dropins / "99-test-exec.conf").write_text(
        f"[Service]\nExecStart=\nExecStart={stub} daemon --config /dev/null\n")
    for name, text in (extra_dropins or {}).items():
        (dropins / name).write_text(text)
    return staged


def verify(unit_file: Path) -> Verified:
    proc = subprocess.run([analyze_bin(), "verify", "--man=no", "--recursive-errors=no",
                           str(unit_file)], capture_output=True, text=True, timeout=60)
    ours = str(unit_file.parent)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if ours in line or unit_file.name in line]
    return Verified(proc.returncode, problems)


def exposure(unit_file: Path) -> float:
    proc = subprocess.run([analyze_bin(), "security", "--offline=yes", str(unit_file)],
                          capture_output=True, text=True, timeout=60)
    m = _SCORE.search(proc.stdout + proc.stderr)
    assert m, f"no exposure score in systemd-analyze output:\n{proc.stdout}\n{proc.stderr}"
    return float(m.group(1))


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` assignments in file order (drop-in semantics not applied)."""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


class SystemdTools:
    """The helpers above, handed to tests as a fixture (with
    ``--import-mode=importlib`` a conftest is not importable by name)."""

    units = UNITS
    stage_unit = staticmethod(stage_unit)
    verify = staticmethod(verify)
    exposure = staticmethod(exposure)
    unit_settings = staticmethod(unit_settings)


@pytest.fixture
def sd() -> SystemdTools:
    analyze_bin()
    return SystemdTools()
