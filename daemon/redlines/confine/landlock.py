"""Landlock through ctypes: the kernel half of "deny write outside the session
dir", "deny connect to these ports" and "deny exec of these binaries".

Why our own binding: the PyPI one reads errno without checking return values,
leaks the ruleset fd and knows nothing past ABI 3 (docs/facts.md).
Here every syscall result is checked, every fd is closed, and each access right
is tied to the ABI that introduced it (constants from the kernel's
``include/uapi/linux/landlock.h``; syscalls 444/445/446 are the unified numbers
that x86_64 and aarch64 share).

Landlock is allow-only. A ruleset *handles* some access rights (they become
denied by default) and rules *allow* them beneath given paths or on given
ports. So "deny write/remove/rename/truncate outside the session dir" is:
handle every write-ish right, allow them only beneath the session dir (and
whatever else the caller lists), keep reading and executing allowed where
needed. A file inside an allowed tree cannot be denied by Landlock; that is the
fanotify guard's job (``daemon.redlines.guard.fanotify``).

Denying the exec of one binary: Landlock can only *allow* EXECUTE beneath
paths. ``LandlockRules.exec_denied`` is expressed by replacing each executable
root that contains a denied file with rules on every *other* entry of the
directories leading to it (symlinks skipped, hardlinks of the denied inode
skipped). This is a speed bump, not a wall: a copy of the binary in a writable
and executable place, or an interpreter speaking the same protocol, gets past
it. Keep writable dirs non-executable, and prefer the fanotify guard's
FAN_OPEN_EXEC_PERM (inode based) for exec red lines that must hold.

Restrictions apply to the *calling thread* and what it starts afterwards; call
``apply`` in a fresh single-threaded process (``daemon.redlines.confine.sandbox``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

from scratchwarden.errors import GuardSetupError, KernelFeatureError

# --- syscalls (unified numbering, include/uapi/asm-generic/unistd.h) -------
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2

# --- filesystem rights ------------------------------------------------------
ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5

# --- network rights (ABI 4) and scopes (ABI 6) ------------------------------
ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

# --- landlock_restrict_self flags (ABI 7) -----------------------------------
RESTRICT_SELF_LOG_SAME_EXEC_OFF = 1 << 0
RESTRICT_SELF_LOG_NEW_EXEC_ON = 1 << 1
RESTRICT_SELF_LOG_SUBDOMAINS_OFF = 1 << 2

_ABI1_FS = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
READ = ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
# Write-ish rights a writable root gets. MAKE_CHAR / MAKE_BLOCK are handled but
# never granted: a device node created inside the session dir would be a door
# to the raw disk for a root agent.
WRITE = (
    ACCESS_FS_WRITE_FILE | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE
    | ACCESS_FS_MAKE_DIR | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SOCK
    | ACCESS_FS_MAKE_FIFO | ACCESS_FS_MAKE_SYM | ACCESS_FS_REFER | ACCESS_FS_TRUNCATE
)
WRITE_HANDLED = WRITE | ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_BLOCK
# Rights that may be attached to a non-directory (the kernel rejects others).
FILE_RIGHTS = (
    ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE
    | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV
)

#: Device files a confined command usually needs to write (``> /dev/null``).
DEV_WRITABLE: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/pts")


def fs_rights(abi: int) -> int:
    """Every filesystem right the given ABI knows."""
    mask = _ABI1_FS if abi >= 1 else 0
    if abi >= 2:
        mask |= ACCESS_FS_REFER
    if abi >= 3:
        mask |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        mask |= ACCESS_FS_IOCTL_DEV
    return mask


def net_rights(abi: int) -> int:
    return ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP if abi >= 4 else 0


def scopes(abi: int) -> int:
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


def log_flags(abi: int) -> int:
    """The landlock_restrict_self logging flags the given ABI knows."""
    if abi < 7:
        return 0
    return (RESTRICT_SELF_LOG_SAME_EXEC_OFF | RESTRICT_SELF_LOG_NEW_EXEC_ON
            | RESTRICT_SELF_LOG_SUBDOMAINS_OFF)


# --- ctypes plumbing --------------------------------------------------------
class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


def _syscall(what: str, nr: int, *args: object) -> int:
    """Run one syscall; raise ``OSError`` built from errno when it returns -1."""
    ctypes.set_errno(0)
    ret = int(_libc.syscall(ctypes.c_long(nr), *args))
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def prctl(option: int, arg2: int) -> int:
    """prctl(2) with the unused arguments zeroed; ``GuardSetupError`` on failure.

    Raises:
        GuardSetupError: the call failed.
    """
    ret = int(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0),
                          ctypes.c_ulong(0), ctypes.c_ulong(0)))
    if ret == -1:
        err = ctypes.get_errno()
        raise GuardSetupError(f"prctl({option}) failed: expected 0, got errno {err} "
                              f"({os.strerror(err)})")
    return ret


def abi_version() -> int:
    """The highest Landlock ABI this kernel supports; 0 when Landlock is not
    built in (ENOSYS) or disabled at boot (EOPNOTSUPP).

    Raises:
        GuardSetupError: the probe failed other than by Landlock being absent.
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return _syscall("landlock_create_ruleset(VERSION)", SYS_LANDLOCK_CREATE_RULESET,
                        None, ctypes.c_size_t(0), ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise GuardSetupError(f"Landlock ABI probe failed unexpectedly: {e}") from e


# --- the typed API ----------------------------------------------------------
@dataclass(frozen=True)
class LandlockRules:
    """What a sandboxed command may do. ``None`` means "this kind of access is
    not restricted at all"; an empty tuple means "allowed nowhere".

    - ``read_only``: roots where files may be read and directories listed.
    - ``read_write``: roots where files may also be written, created, removed,
      renamed (within/between these roots) and truncated. They are readable
      too when reads are restricted. Device nodes can never be created.
    - ``executable``: roots beneath which files may be executed.
    - ``exec_denied``: files that may not be executed even beneath an
      executable root (see the module docstring for how and how weakly).
    - ``write_rights``: which write-ish rights ``read_write`` confines (a
      mask of ``WRITE_HANDLED`` bits); ``None`` = all of them. Rights left out
      stay allowed everywhere (e.g. a red line denying only ``remove``).
    - ``device_ioctl``: roots where ioctl on devices is allowed (ABI 5).
    - ``tcp_connect_ports`` / ``tcp_bind_ports``: allowed TCP ports (ABI 4).
    - ``scope_signals`` / ``scope_abstract_unix``: no signals to / abstract
      unix socket connects towards processes outside the sandbox (ABI 6).
    - ``truncate_supervisor``: confine truncation with the seccomp filter and
      supervisor of ``daemon.redlines.confine.truncate_supervisor`` instead of Landlock's TRUNCATE
      right (which costs a path walk on every open); where the supervisor is
      unavailable, TRUNCATE stays Landlock's.
    """

    read_only: tuple[str, ...] | None = None
    read_write: tuple[str, ...] | None = None
    executable: tuple[str, ...] | None = None
    exec_denied: tuple[str, ...] = ()
    device_ioctl: tuple[str, ...] | None = None
    write_rights: int | None = None
    tcp_connect_ports: frozenset[int] | None = None
    tcp_bind_ports: frozenset[int] | None = None
    scope_signals: bool = False
    scope_abstract_unix: bool = False
    truncate_supervisor: bool = False

    def __post_init__(self) -> None:
        for ports in (self.tcp_connect_ports, self.tcp_bind_ports):
            bad = sorted(p for p in ports or () if not 0 <= p <= 65535)
            if bad:
                raise ValueError(f"TCP ports must be in 0..65535, got {bad}")
        if self.exec_denied and self.executable is None:
            raise ValueError("exec_denied needs executable roots to carve from "
                             "(e.g. executable=('/',)), got executable=None")

    @classmethod
    def confine_writes(cls, writable: Iterable[str], *, executable: Iterable[str] | None = None,
                       exec_denied: Iterable[str] = (),
                       tcp_connect_ports: Iterable[int] | None = None,
                       tcp_bind_ports: Iterable[int] | None = None,
                       scope_signals: bool = True,
                       write_rights: int | None = None,
                       truncate_supervisor: bool = False) -> LandlockRules:
        """The usual red-line sandbox: read everywhere (reads are not
        handled), write only beneath ``writable`` (plus the harmless devices
        in ``DEV_WRITABLE``)."""
        return cls(
            read_write=tuple(writable) + DEV_WRITABLE,
            executable=None if executable is None else tuple(executable),
            exec_denied=tuple(exec_denied),
            tcp_connect_ports=None if tcp_connect_ports is None else frozenset(tcp_connect_ports),
            tcp_bind_ports=None if tcp_bind_ports is None else frozenset(tcp_bind_ports),
            scope_signals=scope_signals,
            write_rights=write_rights,
            truncate_supervisor=truncate_supervisor,
        )

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("tcp_connect_ports", "tcp_bind_ports"):
            if data[key] is not None:
                data[key] = sorted(data[key])
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LandlockRules:
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise ValueError("rules JSON must be an object with LandlockRules fields only")

        def paths(key: str) -> tuple[str, ...] | None:
            v = data.get(key)
            return None if v is None else tuple(str(p) for p in v)

        def ports(key: str) -> frozenset[int] | None:
            v = data.get(key)
            return None if v is None else frozenset(int(p) for p in v)

        return cls(
            read_only=paths("read_only"), read_write=paths("read_write"),
            executable=paths("executable"), exec_denied=paths("exec_denied") or (),
            device_ioctl=paths("device_ioctl"),
            write_rights=None if data.get("write_rights") is None else int(data["write_rights"]),
            tcp_connect_ports=ports("tcp_connect_ports"), tcp_bind_ports=ports("tcp_bind_ports"),
            scope_signals=bool(data.get("scope_signals", False)),
            truncate_supervisor=bool(data.get("truncate_supervisor", False)),
            scope_abstract_unix=bool(data.get("scope_abstract_unix", False)),
        )


@dataclass(frozen=True)
class AppliedReport:
    """What ``apply`` enforced on this kernel and what it could not."""

    abi: int
    handled_fs: int = 0
    handled_net: int = 0
    scoped: int = 0
    restrict_flags: int = 0
    rule_count: int = 0
    enforced: tuple[str, ...] = ()
    not_enforced: tuple[str, ...] = ()
    skipped_paths: tuple[str, ...] = ()
    exec_denied_resolved: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AppliedReport:
        data = json.loads(text)
        for key in ("enforced", "not_enforced", "skipped_paths", "exec_denied_resolved"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


# --- planning (what to handle, which rules) ---------------------------------
@dataclass
class _Plan:
    abi: int
    handled_fs: int = 0
    handled_net: int = 0
    scoped: int = 0
    flags: int = 0
    path_rules: list[tuple[str, int]] = field(default_factory=list)
    port_groups: list[tuple[int, list[int]]] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exec_denied_resolved: list[str] = field(default_factory=list)

    @property
    def port_rules(self) -> list[tuple[int, int]]:
        """(port, rights) for every port rule, sorted by port."""
        return sorted((port, right) for right, ports in self.port_groups for port in ports)

    @property
    def port_rule_count(self) -> int:
        return sum(len(ports) for _right, ports in self.port_groups)


def _plan_fs(rules: LandlockRules, plan: _Plan) -> None:
    avail = fs_rights(plan.abi)
    if rules.read_only is not None:
        plan.handled_fs |= READ
        plan.path_rules += [(p, READ) for p in rules.read_only]
        plan.enforced.append("read-confined")
    if rules.read_write is not None:
        mask = WRITE_HANDLED if rules.write_rights is None else rules.write_rights & WRITE_HANDLED
        plan.handled_fs |= mask & avail
        grant = (WRITE & avail & mask) | (READ if rules.read_only is not None else 0)
        plan.path_rules += [(p, grant) for p in rules.read_write]
        # a rename is an unlink from the source dir plus a link into the target
        for name, bit in (("write-confined", ACCESS_FS_WRITE_FILE),
                          ("remove-confined", ACCESS_FS_REMOVE_FILE),
                          ("rename-confined", ACCESS_FS_REMOVE_FILE)):
            if mask & bit:
                plan.enforced.append(name)
        if mask & ACCESS_FS_TRUNCATE:
            if plan.abi >= 3:
                plan.enforced.append("truncate-confined")
            else:
                plan.missing.append("truncate-confined (needs Landlock ABI 3, kernel 6.2)")
        if plan.abi < 2:
            plan.notes.append("ABI 1: every cross-directory rename/link is denied")
    if rules.executable is not None:
        plan.handled_fs |= ACCESS_FS_EXECUTE
        roots, resolved = exec_allow_paths(rules.executable, rules.exec_denied)
        plan.exec_denied_resolved = resolved
        plan.path_rules += [(p, ACCESS_FS_EXECUTE) for p in roots]
        plan.enforced.append("exec-confined")
        if rules.exec_denied:
            plan.enforced.append("exec-denied")
    if rules.device_ioctl is not None:
        if plan.abi >= 5:
            plan.handled_fs |= ACCESS_FS_IOCTL_DEV
            plan.path_rules += [(p, ACCESS_FS_IOCTL_DEV) for p in rules.device_ioctl]
            plan.enforced.append("device-ioctl-confined")
        else:
            plan.missing.append("device-ioctl-confined (needs Landlock ABI 5, kernel 6.10)")


def _plan_net(rules: LandlockRules, plan: _Plan) -> None:
    wanted = [(rules.tcp_connect_ports, ACCESS_NET_CONNECT_TCP, "tcp-connect-confined"),
              (rules.tcp_bind_ports, ACCESS_NET_BIND_TCP, "tcp-bind-confined")]
    handled: list[tuple[frozenset[int], int]] = []
    for ports, right, name in wanted:
        if ports is None:
            continue
        if plan.abi < 4:
            plan.missing.append(f"{name} (needs Landlock ABI 4, kernel 6.7)")
            continue
        plan.handled_net |= right
        plan.enforced.append(name)
        handled.append((ports, right))
    plan.port_groups = _port_rules(handled)


def _port_rules(handled: list[tuple[frozenset[int], int]]) -> list[tuple[int, list[int]]]:
    """Ports grouped by the rights their rule allows (connect and bind merged
    into one rule where both are allowed), each group sorted. A deny-list
    makes ~65k ports: no per-port tuple is built for them."""
    if len(handled) < 2:
        return [(right, sorted(ports)) for ports, right in handled if ports]
    (a, ra), (b, rb) = handled
    groups = [(ra | rb, a & b), (ra, a - b), (rb, b - a)]
    return [(right, sorted(ports)) for right, ports in groups if ports]


def _plan_scopes(rules: LandlockRules, plan: _Plan) -> None:
    for wanted, bit, name in ((rules.scope_signals, SCOPE_SIGNAL, "signal-scoped"),
                              (rules.scope_abstract_unix, SCOPE_ABSTRACT_UNIX_SOCKET,
                               "abstract-unix-scoped")):
        if not wanted:
            continue
        if plan.abi >= 6:
            plan.scoped |= bit
            plan.enforced.append(name)
        else:
            plan.missing.append(f"{name} (needs Landlock ABI 6, kernel 6.12)")


def plan(rules: LandlockRules, abi: int, *, log: bool = True) -> _Plan:
    """Work out the handled rights, rules and flags for ``abi`` (no syscalls;
    the only I/O is listing directories for ``exec_denied``)."""
    p = _Plan(abi=abi)
    _plan_fs(rules, p)
    _plan_net(rules, p)
    _plan_scopes(rules, p)
    if abi >= 7:
        p.flags = RESTRICT_SELF_LOG_NEW_EXEC_ON if log else RESTRICT_SELF_LOG_SAME_EXEC_OFF
    elif log:
        p.notes.append("denial audit logging flags need Landlock ABI 7 (kernel 6.15)")
    return p


# --- exec denial by carving executable roots --------------------------------
def _beneath(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def exec_allow_paths(roots: Iterable[str], denied: Iterable[str]) -> tuple[list[str], list[str]]:
    """Replace every root that contains a denied file by the entries around it.
    Returns (paths to grant EXECUTE on, denied files as resolved)."""
    resolved = [os.path.realpath(d) for d in denied if os.path.exists(d)]
    ids = {(st.st_dev, st.st_ino) for st in (os.stat(d) for d in resolved)}
    out: list[str] = []
    for root in roots:
        real = os.path.realpath(root)
        if any(_beneath(d, real) for d in resolved):
            if real in resolved:
                continue
            out += _carve(real, resolved, ids)
        else:
            out.append(real)
    return out, resolved


def _carve(directory: str, denied: list[str], ids: set[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError as e:
        raise GuardSetupError(f"cannot list {directory!r} to carve exec denials: {e}") from e
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode) or (st.st_dev, st.st_ino) in ids or entry.path in denied:
            continue
        if stat.S_ISDIR(st.st_mode) and any(_beneath(d, entry.path) for d in denied):
            out += _carve(entry.path, denied, ids)
        elif stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
            out.append(entry.path)
    return out


# --- enforcement ------------------------------------------------------------
def _ruleset_size(abi: int) -> int:
    if abi >= 6:
        return ctypes.sizeof(_RulesetAttr)
    return 16 if abi >= 4 else 8


def _create_ruleset(p: _Plan) -> int:
    attr = _RulesetAttr(p.handled_fs, p.handled_net, p.scoped)
    try:
        return _syscall("landlock_create_ruleset", SYS_LANDLOCK_CREATE_RULESET,
                        ctypes.byref(attr), ctypes.c_size_t(_ruleset_size(p.abi)),
                        ctypes.c_uint32(0))
    except OSError as e:
        raise GuardSetupError(
            f"landlock_create_ruleset(fs={p.handled_fs:#x}, net={p.handled_net:#x}, "
            f"scoped={p.scoped:#x}) on ABI {p.abi} failed: {e}") from e


def _add_path_rule(ruleset_fd: int, path: str, access: int, handled: int) -> bool:
    """Add one path rule; False when the path does not exist (fewer rights is
    the safe direction, so a missing root is skipped, not fatal)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise GuardSetupError(f"cannot open Landlock rule root {path!r}: {e}") from e
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FILE_RIGHTS
        access &= handled
        if not access:
            return True
        attr = _PathBeneathAttr(access, fd)
        _syscall("landlock_add_rule(PATH_BENEATH)", SYS_LANDLOCK_ADD_RULE,
                 ctypes.c_int(ruleset_fd), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                 ctypes.byref(attr), ctypes.c_uint32(0))
    except OSError as e:
        raise GuardSetupError(f"landlock_add_rule({path!r}, {access:#x}) failed: {e}") from e
    finally:
        os.close(fd)
    return True


def _add_port_rules(ruleset_fd: int, groups: list[tuple[int, list[int]]]) -> None:
    """Add one rule per port of each (rights, ports) group. A deny-list red
    line ("never 5432") becomes ~65k allow rules, so the ctypes arguments are
    built once and only the port changes per call."""
    attr = _NetPortAttr(0, 0)
    args = (ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
            ctypes.c_int(LANDLOCK_RULE_NET_PORT), ctypes.byref(attr), ctypes.c_uint32(0))
    call = _libc.syscall
    for access, ports in groups:
        attr.allowed_access = access
        for port in ports:
            attr.port = port
            if call(*args) == -1:
                err = ctypes.get_errno()
                raise GuardSetupError(f"landlock_add_rule(port {port}, {access:#x}) failed: "
                                      f"{os.strerror(err)}")


@dataclass
class Ruleset:
    """A fully built Landlock ruleset, not yet in force: ``fd`` is -1 when
    nothing is handled (entering then only sets no_new_privs). Building and
    entering are split so the ~65k rules of a port deny-list are added once,
    in whichever process plans them, and the process that must be confined
    only enters (``restrict_self``) right before it execs: a ruleset fd can be
    handed to another process. Close it once entered (or not needed)."""

    fd: int
    flags: int
    report: AppliedReport
    #: real paths of the write roots when the ruleset leaves TRUNCATE to the
    #: truncate supervisor (``daemon.redlines.confine.truncate_supervisor.enter`` must enter it)
    truncate_roots: tuple[str, ...] | None = None

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def build(rules: LandlockRules, *, log: bool = True, best_effort: bool = False,
          abi: int | None = None) -> Ruleset:
    """Create the ruleset for ``rules`` and add every rule; restrict nothing.

    Raises ``KernelFeatureError`` when a requested restriction cannot be
    enforced on this kernel, unless ``best_effort`` is set, in which case the
    report's ``not_enforced`` lists it; ``GuardSetupError`` when a syscall
    fails. ``log`` asks the kernel (ABI 7+) to audit-log denials of the
    programs exec'd after entering; ``log=False`` silences them.

    ``rules.truncate_supervisor``: when the rules confine truncation and the
    supervisor is available, TRUNCATE is left unhandled (no path walk on every
    open) and ``truncate_roots`` is set: ``truncate_supervisor.enter`` must then enter
    the ruleset, its seccomp filter and supervisor confine truncation.

    Raises:
        KernelFeatureError: this kernel's Landlock cannot enforce what the rules require.
        GuardSetupError: a syscall failed unexpectedly.
    """
    abi = abi_version() if abi is None else abi
    if abi == 0:
        if not best_effort:
            raise KernelFeatureError("Landlock is required but this kernel has none "
                                     "(expected ABI >= 1, found 0: not built in or not enabled)")
        return Ruleset(-1, 0, AppliedReport(abi=0, not_enforced=("landlock-unavailable",)))
    roots, why_not = None, None
    if rules.truncate_supervisor and abi >= 3 and _confines_truncate(rules):
        from daemon.redlines.confine import truncate_supervisor  # it builds on this module

        why_not = truncate_supervisor.unavailable_reason()
        if why_not is None:
            roots = tuple(dict.fromkeys(os.path.realpath(r) for r in rules.read_write or ()))
            mask = WRITE_HANDLED if rules.write_rights is None else rules.write_rights
            rules = replace(rules, write_rights=mask & ~ACCESS_FS_TRUNCATE)
    p = plan(rules, abi, log=log)
    if roots is not None:
        p.enforced.append("truncate-confined")
    if why_not is not None:
        p.notes.append(f"truncate supervisor unavailable ({why_not}): Landlock's TRUNCATE "
                       "right confines truncation")
    if p.missing and not best_effort:
        raise KernelFeatureError(f"Landlock ABI {abi} cannot enforce: {'; '.join(p.missing)}")
    fd, skipped, count = _build(p)
    return Ruleset(fd, p.flags, truncate_roots=roots, report=AppliedReport(
        abi=abi, handled_fs=p.handled_fs, handled_net=p.handled_net, scoped=p.scoped,
        restrict_flags=p.flags, rule_count=count, enforced=tuple(p.enforced),
        not_enforced=tuple(p.missing + p.notes), skipped_paths=tuple(skipped),
        exec_denied_resolved=tuple(p.exec_denied_resolved),
    ))


def _confines_truncate(rules: LandlockRules) -> bool:
    return rules.read_write is not None and (
        rules.write_rights is None or bool(rules.write_rights & ACCESS_FS_TRUNCATE))


def enter(ruleset_fd: int, flags: int) -> None:
    """Confine the calling thread (and what it later starts): set
    no_new_privs (Landlock requires it of an unprivileged caller, and it keeps
    setuid binaries from escaping), then restrict to the ruleset (-1: none).

    Raises:
        GuardSetupError: the ruleset could not be entered (e.g. the nesting limit).
    """
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if ruleset_fd < 0:
        return
    try:
        _syscall("landlock_restrict_self", SYS_LANDLOCK_RESTRICT_SELF,
                 ctypes.c_int(ruleset_fd), ctypes.c_uint32(flags))
    except OSError as e:
        raise GuardSetupError(f"landlock_restrict_self(flags={flags:#x}) failed: {e}") from e


def apply(rules: LandlockRules, *, log: bool = True, best_effort: bool = False) -> AppliedReport:
    """Restrict the calling thread (and everything it later starts) to
    ``rules``: ``build`` then ``enter`` (see both for errors and flags).
    Truncation stays Landlock's here: ``enter`` starts no supervisor."""
    ruleset = build(replace(rules, truncate_supervisor=False), log=log,
                    best_effort=best_effort)
    try:
        enter(ruleset.fd, ruleset.flags)
    finally:
        ruleset.close()
    return ruleset.report


def _build(p: _Plan) -> tuple[int, list[str], int]:
    if not (p.handled_fs or p.handled_net or p.scoped):
        return -1, [], 0  # nothing to handle; entering still sets no_new_privs
    ruleset_fd = _create_ruleset(p)
    skipped: list[str] = []
    count = 0
    try:
        for path, access in p.path_rules:
            if _add_path_rule(ruleset_fd, path, access, p.handled_fs):
                count += 1
            else:
                skipped.append(path)
        _add_port_rules(ruleset_fd, p.port_groups)
        count += p.port_rule_count
    except BaseException:
        os.close(ruleset_fd)
        raise
    return ruleset_fd, skipped, count


def no_new_privs() -> bool:
    """Whether the calling thread has no_new_privs set (a Landlock sandbox has)."""
    return prctl(PR_GET_NO_NEW_PRIVS, 0) == 1

