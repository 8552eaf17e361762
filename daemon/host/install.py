"""``scratchwarden install``: what an operator runs once per node.

It lays out the directories, writes the hardened unit from ``systemd/`` with
this installation's paths, and a drop-in carrying the node's roots, then
prints the command that enables the service. It never overwrites an existing
configuration, and it never enables or starts anything: it only runs
``systemctl daemon-reload`` when systemd is the running init (``/run/systemd/
system`` exists) and files were written to the live system.

Everything lands below ``destdir`` when given (packaging, tests); the files'
*contents* always name the real paths.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from daemon.host.roots import WatchRoot
from daemon.platform.files import atomic_write
from scratchwarden.errors import ConfigError, OperatorError

UNIT = "scratchwarden.service"
GUARD_UNIT = "scratchwarden-guard.service"
DROPIN = "10-scratchwarden-install.conf"
DEFAULT_PREFIX = Path("/opt/scratchwarden/venv")
DEFAULT_CONFIG = Path("/etc/scratchwarden/scratchwarden.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/scratchwarden")
DEFAULT_UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_ROOTS = ("/srv/agents/{tenant}/sessions/{session}",)
#: the paths written into the template units, replaced on install
TEMPLATE_EXEC = "/opt/scratchwarden/venv/bin/scratchwarden"
TEMPLATE_CONFIG = "/etc/scratchwarden/scratchwarden.yaml"
UNIT_SOURCE = Path(__file__).resolve().parents[2] / "systemd"

#: a root whose watched base is one of these would make the system writable
_SYSTEM_DIRS = frozenset({"/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot",
                          "/proc", "/sys", "/dev", "/run", "/var", "/var/lib", "/opt"})
_HOME_DIRS = ("/home", "/root", "/run/user")
_TMP_DIRS = ("/tmp", "/var/tmp")  # noqa: S108 - names, not temp files
_UNSAFE_CHARS = re.compile(r"[\s\"'\\;$`]")
_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]+(/\d{1,3})?$")

DEFAULT_CONFIG_TEXT = """\
# scratchwarden node configuration, written by `scratchwarden install`.
# Every key is optional except version; unknown keys are errors.
version: 1
roots:
{roots}
# inventory: postgresql+psycopg://scratchwarden@db.example.internal/inventory
#   (default: SQLite in the state dir; a remote server also needs
#    IPAddressAllow= in the unit's drop-in: rerun install with its address)
# policies: /etc/scratchwarden/policies   # a checkout of your policy repository
guard: false   # fanotify red lines run in scratchwarden-guard.service (CAP_SYS_ADMIN)
metrics_address: 127.0.0.1:9464
log_level: info
"""


@dataclass
class InstallReport:
    """What ``install`` did (or would do, in a dry run)."""

    actions: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    unit_paths: list[Path] = field(default_factory=list)
    dropin_path: Path | None = None


def systemd_booted() -> bool:
    """sd_booted(3): systemd is PID 1 iff this directory exists."""
    return Path("/run/systemd/system").is_dir()


def install(prefix: Path | None = None, *,
            config_path: Path = DEFAULT_CONFIG,
            roots: Sequence[str] | None = None,
            state_dir: Path = DEFAULT_STATE_DIR,
            unit_dir: Path = DEFAULT_UNIT_DIR,
            dry_run: bool = False,
            destdir: Path | None = None,
            guard: bool = False,
            allow_addresses: Sequence[str] = (),
            out: Callable[[str], None] = print) -> InstallReport:
    """Install the service for the virtual environment at ``prefix`` (default:
    the running one). ``roots`` default to the existing config's, else
    ``DEFAULT_ROOTS``. ``allow_addresses`` widens ``IPAddressAllow=`` (a fleet
    PostgreSQL server). ``guard`` also installs scratchwarden-guard.service."""
    prefix = Path(prefix) if prefix is not None else Path(sys.prefix)
    for p in (prefix, config_path, state_dir, unit_dir):
        _check_path(str(p), what="path")
    at = _Rooted(destdir)
    report = InstallReport()
    root_list = list(roots) if roots is not None else _configured_roots(at.host(config_path))
    bases = _root_bases(root_list)
    addresses = [_check_address(a) for a in allow_addresses]

    _make_dir(at, config_path.parent, 0o750, report, dry_run)
    _write_default_config(at, config_path, root_list, state_dir, report, dry_run)
    _make_dir(at, state_dir, 0o700, report, dry_run)
    units = [UNIT, GUARD_UNIT] if guard else [UNIT]
    for name in units:
        text = render_unit(_template(name), prefix=prefix, config_path=config_path)
        report.unit_paths.append(_write(at, unit_dir / name, text, 0o644, report, dry_run))
    dropin = render_dropin(bases, state_dir=state_dir, allow_addresses=addresses)
    report.dropin_path = _write(at, unit_dir / f"{UNIT}.d" / DROPIN, dropin, 0o644, report,
                                dry_run)
    _finish(at, units, report, dry_run)
    for line in report.actions + report.next_steps:
        out(line)
    return report


# ------------------------------------------------------------------ render
def render_unit(template: str, *, prefix: Path, config_path: Path) -> str:
    exe = _escape(str(prefix / "bin" / "scratchwarden"))
    return (template.replace(TEMPLATE_EXEC, exe)
            .replace(TEMPLATE_CONFIG, _escape(str(config_path))))


def render_dropin(bases: Sequence[str], *, state_dir: Path = DEFAULT_STATE_DIR,
                  allow_addresses: Sequence[str] = ()) -> str:
    """The site-specific part of the sandbox: which trees the daemon may write,
    whether it must see /home or the real /tmp, and which remote addresses it
    may reach."""
    lines = ["# Written by `scratchwarden install`: the node's roots. Rerun install",
             "# after changing roots in the configuration; do not edit by hand.",
             "[Service]", "ReadWritePaths="]
    writable = [f"-{_escape(b)}" for b in bases]
    if Path(state_dir) != DEFAULT_STATE_DIR:
        writable.append(f"-{_escape(str(state_dir))}")
    if writable:
        lines.append("ReadWritePaths=" + " ".join(writable))
    if any(_under(b, _HOME_DIRS) for b in bases):
        lines += ["# a root lives under /home, /root or /run/user",
                  "ProtectHome=read-only"]
    if any(_under(b, _TMP_DIRS) for b in bases):
        lines += ["# a root lives under /tmp or /var/tmp: the daemon must see the real one",
                  "PrivateTmp=no"]
    if allow_addresses:
        lines.append("IPAddressAllow=" + " ".join(allow_addresses))
    return "\n".join(lines) + "\n"


def _template(name: str) -> str:
    path = UNIT_SOURCE / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise OperatorError(f"expected the unit template {path} (an editable install of "
                            f"scratchwarden ships it), found: {e.strerror}") from e


# ------------------------------------------------------------------ checks
def _root_bases(roots: Sequence[str]) -> list[str]:
    bases: list[str] = []
    for r in roots:
        _check_path(r, what="root")
        base = str(PurePosixPath(os.path.normpath(WatchRoot(r).base)))
        if base in _SYSTEM_DIRS or ".." in PurePosixPath(r).parts:
            raise ConfigError(f"expected a root below a dedicated directory such as "
                              f"/srv/agents, found {r!r} (would make {base} writable)")
        if base not in bases:
            bases.append(base)
    return bases


def _check_path(value: str, *, what: str) -> None:
    if not value.startswith("/") or _UNSAFE_CHARS.search(value) or "\0" in value:
        raise ConfigError(f"expected an absolute {what} without blanks, quotes, '$', ';' or "
                          f"backslashes, found {value!r}")


def _check_address(value: str) -> str:
    if value in ("localhost", "link-local", "multicast", "any") or _ADDRESS.match(value):
        return value
    raise ConfigError(f"expected an IP address or prefix for IPAddressAllow= "
                      f"(e.g. 10.0.4.7 or 10.0.4.0/24), found {value!r}")


def _escape(path: str) -> str:
    """``%`` starts a systemd specifier."""
    return path.replace("%", "%%")


def _under(path: str, dirs: Sequence[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in dirs)


def _configured_roots(config_file: Path) -> list[str]:
    if not config_file.exists():
        return list(DEFAULT_ROOTS)
    from daemon.host.config import load_config

    roots = load_config(config_file).roots
    return list(roots) if roots else list(DEFAULT_ROOTS)


# ------------------------------------------------------------------ effects
@dataclass(frozen=True)
class _Rooted:
    destdir: Path | None

    def host(self, path: Path) -> Path:
        if self.destdir is None:
            return path
        return self.destdir / Path(path).relative_to("/")


def _make_dir(at: _Rooted, path: Path, mode: int, report: InstallReport, dry: bool) -> None:
    target = at.host(path)
    if target.is_dir() and not target.is_symlink():
        if not dry and (target.stat().st_mode & 0o777) & ~mode:
            os.chmod(target, mode)
            report.actions.append(f"tightened {path} to {mode:04o}")
        else:
            report.actions.append(f"kept {path}")
        return
    if target.is_symlink() or target.exists():
        raise OperatorError(f"expected {path} to be a directory, found something else")
    if not dry:
        target.mkdir(parents=True, mode=mode)
        os.chmod(target, mode)
    report.actions.append(f"{'would create' if dry else 'created'} {path} ({mode:04o})")


def _write_default_config(at: _Rooted, path: Path, roots: Sequence[str], state_dir: Path,
                          report: InstallReport, dry: bool) -> None:
    target = at.host(path)
    if target.exists() or target.is_symlink():
        report.actions.append(f"kept existing configuration {path}")
        return
    text = DEFAULT_CONFIG_TEXT.format(roots="\n".join(f"  - \"{r}\"" for r in roots))
    if Path(state_dir) != DEFAULT_STATE_DIR:
        text += f"state_dir: \"{state_dir}\"\n"
    if not dry:
        atomic_write(target, text.encode(), mode=0o640)
    report.actions.append(f"{'would write' if dry else 'wrote'} default configuration {path}")


def _write(at: _Rooted, path: Path, text: str, mode: int, report: InstallReport,
           dry: bool) -> Path:
    target = at.host(path)
    if not dry:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        atomic_write(target, text.encode(), mode=mode)
    report.actions.append(f"{'would write' if dry else 'wrote'} {path}")
    return target


def _finish(at: _Rooted, units: Sequence[str], report: InstallReport, dry: bool) -> None:
    names = " ".join(units)
    live = at.destdir is None and not dry
    if live and systemd_booted() and shutil.which("systemctl"):
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        report.actions.append("ran systemctl daemon-reload")
        report.next_steps.append(f"next: systemctl enable --now {names}")
    else:
        report.next_steps.append(f"next: systemctl daemon-reload && systemctl enable --now {names}")
