"""Node configuration: one strictly validated YAML file.

Unknown keys are errors; every error carries file:line. Defaults are what a
node wants out of the box, so an empty file (``version: 1``) is valid."""

from __future__ import annotations

import re
import socket
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.units import parse_duration
from scratchwarden.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/scratchwarden/scratchwarden.yaml")
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


Duration = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    start: dtime
    end: dtime

    def contains(self, t: dtime) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # wraps midnight


class Limits(_Strict):
    max_queue: int = Field(10_000, ge=10, description="pending paths before overflow mode")
    max_file_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_scan_seconds: float = Field(600.0, ge=1)
    memory_per_worker_mb: int = Field(1024, ge=128)
    cpu_budget: float | None = Field(None, gt=0, le=64,
                                     description="cores' worth of scan CPU the workers may "
                                     "use (default: bounded by the worker count only)")


class NodeConfig(_Strict):
    version: int = Field(1, ge=1, le=1)
    node_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=255)
    inventory: str | None = None  # SQLAlchemy URL; None: SQLite in the state dir
    state_dir: Path | None = None
    policies: Path | None = None
    roots: list[str] = Field(default_factory=list)
    workers: int = Field(1, ge=0, le=64)
    worker_max_files: int = Field(5000, ge=1)  # recycle a worker after this many files
    quiet_period: Duration = 2.0
    reconcile_interval: Duration = 900.0
    heavy_windows: list[Window] = Field(default_factory=list)
    heavy_bytes: int = Field(8 * 1024 * 1024, ge=0)
    limits: Limits = Field(default_factory=Limits)
    metrics_address: str | None = "127.0.0.1:9464"
    patterns_only: bool = False
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$")
    # policy enforcement (the policy directory is ``policies``)
    keyring: Path | None = None            # KEK keyring file/dir; default <state_dir>/keys
    keyring_credential: str | None = None  # or a systemd credential name
    enforce_interval: Duration = 60.0
    dry_run: bool = False                  # force audit mode for every rule
    guard: bool = True                     # run the fanotify guard for read/exec red lines
    drill_interval: Duration = 86400.0     # red-line drills: at start and this often

    @field_validator("quiet_period", "reconcile_interval", "enforce_interval", "drill_interval",
                     mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0:
            return float(v)
        return parse_duration(v).total_seconds()

    @field_validator("heavy_windows", mode="before")
    @classmethod
    def _windows(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for item in v:
            if isinstance(item, str):
                m = _WINDOW.match(item.strip())
                if not m:
                    raise ValueError(f"expected a window like 22:00-06:00, found {item!r}")
                a, b, c, d = (int(x) for x in m.groups())
                if a > 23 or c > 23 or b > 59 or d > 59:
                    raise ValueError(f"not a time of day in {item!r}")
                out.append({"start": dtime(a, b), "end": dtime(c, d)})
            else:
                out.append(item)
        return out

    @field_validator("roots")
    @classmethod
    def _roots(cls, v: list[str]) -> list[str]:
        from policies.globs import check_root_pattern

        for r in v:
            check_root_pattern(r)
        return v

    @field_validator("metrics_address")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9464, found {v!r}")
        return v


def load_config(path: Path | None, *, must_exist: bool = False) -> NodeConfig:
    """Load and validate; a missing default file means all defaults.

    Raises:
        ConfigError: the file named does not exist, or the file is invalid (every problem with
            file:line; input values are never echoed).
    """
    target = path or DEFAULT_CONFIG_PATH
    if not target.exists():
        if must_exist or path is not None:
            raise ConfigError(f"configuration file not found: {target}")
        return NodeConfig()
    from policies.yaml_source import errors_from_validation, load_yaml_with_lines

    data, lines = load_yaml_with_lines(target, error=ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=str(target), line=1)
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as e:
        errors = errors_from_validation(e, lines, error=ConfigError, show_values=False)
        if len(errors) == 1:
            raise errors[0] from e
        raise ConfigError("; ".join(str(x) for x in errors)) from e
