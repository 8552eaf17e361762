"""Truncation outside the write roots, denied without Landlock's TRUNCATE right.

Why: a Landlock ruleset that handles ``LANDLOCK_ACCESS_FS_TRUNCATE`` makes the
kernel walk from *every* opened file up to ``/`` (it records at open whether the
fd may be truncated). For an open-heavy command that walk is most of the
sandbox's cost (``benchmarks/landlock_walk.py``; figures in ADR 0008's log,
``docs/perf/2026-11-30-redline-overhead.md``). Write opens do not
need it (WRITE_FILE already confines them to the write roots), so what
TRUNCATE adds is exactly three things, each covered here instead:

- ``truncate(2)`` by path: a seccomp filter hands every call to a supervisor
  process (``SECCOMP_RET_USER_NOTIF``). The supervisor reads the path from the
  caller's memory *once*, resolves it against the caller's cwd, opens it
  ``O_PATH`` (following symlinks, as truncate does), checks that the file it
  got lies beneath a write root, and truncates *that* file itself through
  ``/proc/self/fd/N``. The caller's memory is never read again, so a thread
  rewriting the path after the check changes nothing (the usual seccomp-notify
  TOCTOU); the answer is the real result or errno (EACCES outside the roots,
  as Landlock answers).
- ``open(O_RDONLY|O_TRUNC)``: truncates without a write open; refused by the
  filter from the flags argument (``open``, ``openat``). ``openat2`` keeps its
  flags in memory the filter cannot read: ENOSYS (callers fall back to
  ``openat``). ``open_by_handle_at`` and ``io_uring_setup`` (whose opens no
  seccomp filter sees) are refused with EPERM.
- ``ftruncate`` needs an fd opened for writing, which Landlock's WRITE_FILE
  only grants inside the write roots (fds inherited from before the sandbox
  are Landlock's exception too).

The supervisor is forked (twice, so it is nobody's child) *before* the
launcher enters its Landlock domain and installs the filter: it is outside the
agent's domain, so the agent can neither ptrace it, read its fds, nor (ABI 6
scoping) signal it. It runs in its own session with stdio on /dev/null and
exits when the last task using the filter is gone (the listener reports
POLLHUP). If it dies, truncate(2) fails with ENOSYS: closed, not open. On
Linux 6.6+ the caller hands its CPU to the supervisor for the round trip
(``SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP``); a truncate(2) by path still costs
several times what it costs under Landlock: the price of cheap opens. The
listener fd never reaches the agent (it could answer its own notifications).

Chosen per policy (``truncate_check: supervisor`` on the red lines that deny
truncate); used when ``available()`` (x86_64 or aarch64, Linux >= 5.9),
otherwise Landlock's TRUNCATE right confines truncation as by default. Only
for launches that exec in a fresh single-threaded process (``scratchwarden
run``, ``daemon.redlines.confine.sandbox``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import select
import signal
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.redlines.confine.landlock import PR_SET_NO_NEW_PRIVS, prctl
from daemon.redlines.confine.landlock import enter as ll_enter
from scratchwarden.errors import GuardSetupError

_libc = ctypes.CDLL(None, use_errno=True)

# include/uapi/linux/seccomp.h
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_ALLOW = 0x7FFF0000
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102
IOCTL_NOTIF_SET_FLAGS = 0x40082104
USER_NOTIF_FD_SYNC_WAKE_UP = 1
_NOTIF = struct.Struct("<QIIiIQ6Q")  # id, pid, flags, data{nr, arch, ip, args[6]}
_RESP = struct.Struct("<QqiI")  # id, val, error, flags
PR_SET_PTRACER = 0x59616D61
PATH_MAX = 4096
_O_ACCMODE = 0o3
_O_TRUNC = 0o1000


@dataclass(frozen=True)
class Arch:
    audit: int
    seccomp_nr: int
    truncate: int
    openat: int
    open: int | None
    refused: tuple[tuple[int, int], ...]  # (syscall, errno)
    x32_bit: int = 0


_ARCHES = {
    "x86_64": Arch(audit=0xC000003E, seccomp_nr=317, truncate=76, openat=257, open=2,
                   refused=((437, errno.ENOSYS), (304, errno.EPERM), (425, errno.EPERM)),
                   x32_bit=0x40000000),
    "aarch64": Arch(audit=0xC00000B7, seccomp_nr=277, truncate=45, openat=56, open=None,
                    refused=((437, errno.ENOSYS), (265, errno.EPERM), (425, errno.EPERM))),
}


def arch() -> Arch | None:
    return _ARCHES.get(platform.machine())


def unavailable_reason() -> str | None:
    """Why the supervisor cannot be used here (None: it can)."""
    a = arch()
    if a is None:
        return f"no seccomp table for {platform.machine()}"
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
    except ValueError:
        return f"cannot read the kernel version from {platform.release()!r}"
    if (major, minor) < (5, 9):
        return f"seccomp user notification with POLLHUP needs Linux 5.9, found {major}.{minor}"
    return None


def available() -> bool:
    return unavailable_reason() is None


# --- the filter -------------------------------------------------------------
def _stmt(code: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, 0, 0, k & 0xFFFFFFFF)


def _jump(code: int, k: int, jt: int, jf: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def filter_program(a: Arch) -> bytes:
    """Classic BPF over ``seccomp_data`` (nr at 0, arch at 4, args at 16 + 8i;
    flags are an int, so the low 32 bits suffice)."""
    out = [_stmt(_LD_ABS, 4), _jump(_JEQ, a.audit, 1, 0), _stmt(_RET, RET_KILL_PROCESS),
           _stmt(_LD_ABS, 0)]
    if a.x32_bit:  # x32 numbers alias the table: refuse them all
        out += [_jump(_JGE, a.x32_bit, 0, 1), _stmt(_RET, RET_ERRNO | errno.ENOSYS)]
    out += [_jump(_JEQ, a.truncate, 0, 1), _stmt(_RET, RET_USER_NOTIF)]
    for nr, err in a.refused:
        out += [_jump(_JEQ, nr, 0, 1), _stmt(_RET, RET_ERRNO | err)]
    flag_checks = [(a.openat, 2)] + ([(a.open, 1)] if a.open is not None else [])
    for nr, arg in flag_checks:
        # another syscall: on to the next check; this one: O_TRUNC on a read-only open?
        out += [_jump(_JEQ, nr, 0, 5), _stmt(_LD_ABS, 16 + 8 * arg),
                _jump(_JSET, _O_TRUNC, 0, 2), _jump(_JSET, _O_ACCMODE, 1, 0),
                _stmt(_RET, RET_ERRNO | errno.EACCES), _stmt(_RET, RET_ALLOW)]
    out.append(_stmt(_RET, RET_ALLOW))
    return b"".join(out)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(a: Arch) -> int:
    """Install the filter on the calling thread (no_new_privs must be set);
    return the listener fd (close-on-exec).

    Raises:
        GuardSetupError: the kernel refused the filter.
    """
    code = filter_program(a)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Fprog(len(code) // 8, ctypes.addressof(buf))
    fd = int(_libc.syscall(a.seccomp_nr, SECCOMP_SET_MODE_FILTER,
                           SECCOMP_FILTER_FLAG_NEW_LISTENER, ctypes.byref(prog)))
    if fd < 0:
        e = ctypes.get_errno()
        raise GuardSetupError(f"seccomp(SET_MODE_FILTER, NEW_LISTENER) failed: "
                              f"{os.strerror(e)}")
    os.set_inheritable(fd, False)
    return fd


# --- launcher side ----------------------------------------------------------
@dataclass
class Supervisor:
    """The launcher's end of a started supervisor."""

    sock: socket.socket
    pid: int

    @classmethod
    def start(cls, roots: Sequence[str]) -> Supervisor:
        """Fork the supervisor for ``roots`` (real paths). Call before entering
        the Landlock domain, from a single-threaded process.

        Raises:
            GuardSetupError: the supervisor process could not be started.
        """
        try:
            return cls._start(roots)
        except OSError as e:
            raise GuardSetupError(f"the truncate supervisor could not be started: {e}") from e

    @classmethod
    def _start(cls, roots: Sequence[str]) -> Supervisor:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            code = 1
            try:
                parent.close()
                if os.fork() == 0:
                    _serve(child, tuple(roots))
                code = 0
            finally:
                os._exit(code)
        child.close()
        _, status = os.waitpid(pid, 0)
        try:
            if os.waitstatus_to_exitcode(status) != 0:
                raise GuardSetupError("the truncate supervisor could not be started")
            parent.settimeout(10.0)
            msg = parent.recv(16)
            if len(msg) != 8:
                raise GuardSetupError("the truncate supervisor did not report its pid")
        except BaseException:
            parent.close()
            raise
        return cls(parent, struct.unpack("<q", msg)[0])

    def hand_over(self, listener: int) -> None:
        """Give the supervisor the listener fd and wait until it holds it;
        the caller's copy is closed either way.

        Raises:
            GuardSetupError: the listener could not be handed over.
        """
        try:
            with contextlib.suppress(GuardSetupError):  # no Yama: nothing to declare
                prctl(PR_SET_PTRACER, self.pid)
            socket.send_fds(self.sock, [b"L"], [listener])
            if self.sock.recv(8) != b"ok":
                raise GuardSetupError("the truncate supervisor did not take the listener")
        except OSError as e:
            raise GuardSetupError(f"handing the seccomp listener over failed: {e}") from e
        finally:
            os.close(listener)
            self.sock.close()

    def abandon(self) -> None:
        """Nothing to supervise after all: the supervisor exits on EOF."""
        self.sock.close()


# --- supervisor side ----------------------------------------------------------
def _serve(sock: socket.socket, roots: tuple[str, ...]) -> None:  # pragma: no cover - forked
    """Never returns: the supervisor's whole life."""
    code = 0
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, sock.fileno())
        os.closerange(sock.fileno() + 1, os.sysconf("SC_OPEN_MAX"))
        sock.sendall(struct.pack("<q", os.getpid()))
        _msg, fds, _flags, _addr = socket.recv_fds(sock, 8, 1)
        if len(fds) != 1:
            os._exit(0)  # the launcher gave up (or died): nothing to supervise
        listener = fds[0]
        sock.sendall(b"ok")
        sock.close()
        serve_listener(listener, roots)
    except BaseException:  # noqa: BLE001 - a forked child must never return into its parent's code
        code = 1
    finally:
        os._exit(code)


def serve_listener(listener: int, roots: tuple[str, ...]) -> None:
    """Answer truncate notifications until no task uses the filter."""
    with contextlib.suppress(OSError):  # Linux 6.6+: the caller hands us its CPU
        fcntl.ioctl(listener, IOCTL_NOTIF_SET_FLAGS, USER_NOTIF_FD_SYNC_WAKE_UP)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    buf = bytearray(_NOTIF.size)
    root = os.stat("/")
    while True:
        events = poller.poll()
        if any(ev & (select.POLLHUP | select.POLLERR) for _fd, ev in events):
            return
        buf[:] = bytes(len(buf))
        try:
            fcntl.ioctl(listener, IOCTL_NOTIF_RECV, buf, True)
        except OSError as e:
            if e.errno in (errno.EINTR, errno.ENOENT):
                continue  # interrupted, or the caller died before we read it
            raise
        nid, pid, _flags, _nr, _arch, _ip, *args = _NOTIF.unpack(buf)
        err = truncate_for(listener, nid, pid, args[0], args[1], roots, root)
        resp = _RESP.pack(nid, 0, -err, 0)
        with contextlib.suppress(OSError):  # ENOENT: the caller is gone
            fcntl.ioctl(listener, IOCTL_NOTIF_SEND, bytearray(resp), True)


def _id_valid(listener: int, nid: int) -> bool:
    try:
        fcntl.ioctl(listener, IOCTL_NOTIF_ID_VALID, bytearray(struct.pack("<Q", nid)), True)
    except OSError:
        return False
    return True


def read_path(pid: int, addr: int) -> bytes:
    """The NUL-terminated path at ``addr`` in ``pid``'s memory, read once."""
    if addr == 0:
        raise OSError(errno.EFAULT, "NULL path")
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = b""
        while len(out) < PATH_MAX:
            at = addr + len(out)
            chunk = 4096 - at % 4096  # never read across a page we have not reached
            try:
                data = os.pread(fd, chunk, at)
            except OSError as e:
                raise OSError(errno.EFAULT, "unreadable path") from e
            if not data:
                raise OSError(errno.EFAULT, "unreadable path")
            nul = data.find(b"\0")
            if nul >= 0:
                return out + data[:nul]
            out += data
        raise OSError(errno.ENAMETOOLONG, "path too long")
    finally:
        os.close(fd)


def beneath(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def truncate_for(listener: int, nid: int, pid: int, addr: int, length: int,
                 roots: Sequence[str], root: os.stat_result) -> int:
    """Do ``truncate(path, length)`` for the caller; 0 or an errno. ``root``
    is our own "/" (a caller with another root is refused absolute paths)."""
    cwd = -1
    target = -1
    try:
        path = read_path(pid, addr)
        cwd = os.open(f"/proc/{pid}/cwd", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        theirs = os.stat(f"/proc/{pid}/root") if path.startswith(b"/") else root
        if (theirs.st_dev, theirs.st_ino) != (root.st_dev, root.st_ino):
            return errno.EPERM  # a chroot'ed caller: its "/" is not ours
        if not _id_valid(listener, nid):
            return errno.ENOENT  # the pid is not our caller any more
        target = os.open(path, os.O_PATH | os.O_CLOEXEC, dir_fd=cwd)
        real = os.readlink(f"/proc/self/fd/{target}")
        if not beneath(real, roots):
            return errno.EACCES
        length = length - (1 << 64) if length >= 1 << 63 else length
        os.truncate(f"/proc/self/fd/{target}", length)
        return 0
    except OSError as e:
        return e.errno or errno.EIO
    finally:
        for fd in (cwd, target):
            if fd >= 0:
                os.close(fd)


def enter(ruleset_fd: int, flags: int, truncate_roots: Sequence[str] | None) -> None:
    """Confine the calling (single) thread. When the ruleset leaves truncation
    to the supervisor: start it, set no_new_privs, install the filter and hand
    its listener over, *then* enter the Landlock ruleset, so that a failure
    anywhere leaves the process unconfined by Landlock (it can still record
    the failure) and the caller does not exec. Raises ``GuardSetupError``.

    Raises:
        GuardSetupError: the supervisor is unavailable here, or entering failed.
    """
    if truncate_roots is None:
        ll_enter(ruleset_fd, flags)
        return
    a = arch()
    if a is None:
        raise GuardSetupError(f"truncate supervisor: {unavailable_reason()}")
    sup = Supervisor.start(truncate_roots)
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # seccomp requires it of an unprivileged caller
        listener = install_filter(a)
    except BaseException:
        sup.abandon()
        raise
    sup.hand_over(listener)
    ll_enter(ruleset_fd, flags)
