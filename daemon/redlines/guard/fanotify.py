"""A fanotify permission-event guard: the kernel asks us before a protected
file is opened (FAN_OPEN_PERM) or executed (FAN_OPEN_EXEC_PERM), and we answer
FAN_ALLOW or FAN_DENY (the opener gets EPERM).

Why it is built the way it is (clamonacc's pitfalls, and ours):

- **Always answer, always close.** Every permission event is answered and its
  fd closed in a ``finally``; an exception while judging an event on a
  protected path denies it (fail closed), including when the opening process
  cannot be identified from ``/proc``.
- **No self-deadlock.** Events from our own process (any thread: the kernel
  reports the thread-group id) are allowed before anything else is done. The
  answering thread reads only ``/proc`` (never marked) and the event fd it was
  handed; patterns, inode sets and identity parsing are prepared before the
  marks are placed. Denials are handed to a separate reporter thread through a
  queue, so a slow audit sink never stalls answers. One residual risk of an
  in-process guard: a C extension that blocks in ``open()`` of a marked file
  *while holding the GIL* would stall the answering thread, which needs the GIL.
  Production should host the guard in its own small process
  (``python -m daemon.redlines.guard.fanotify``), as the drills and tests here do.
- **Mark precisely.** A literal protected file gets an inode mark (which also
  catches its hardlinks) plus a FAN_EVENT_ON_CHILD mark on its parent
  directory (which catches a file replaced by rename, and one created later).
  ``dir/*.conf`` marks the directory with FAN_EVENT_ON_CHILD. Only patterns
  with ``**`` or a wildcard in a middle component need FAN_MARK_FILESYSTEM,
  which gates *every* open on that filesystem; those events get a fast path
  (allow at once unless the path matches). Mount marks are never used: they
  miss opens made through other mount namespaces.
- **Two groups, and the cache only in one.** Inode/dir marks live in a
  "precise" group that never caches. Filesystem marks live in a "broad" group
  where an inode judged unprotected gets an evictable ignore mark (the kernel
  stops asking until the file is modified or evicted). Ignore marks silence
  only their own group, so a cached file renamed onto a literal protected
  path, or into a dir-marked directory, is still judged by the precise group.
  What the cache cannot see: a cached, unmodified file renamed to a name only
  a filesystem-mark pattern covers (``x`` -> ``.env``); ``cache_allowed=0``
  closes that too, at the price of judging every open.
- **The queue cannot overflow into "allow".** A permission event that does not
  fit in a full queue is allowed by the kernel, so the group is created with
  FAN_UNLIMITED_QUEUE.
- **Fails open when dead.** When the fanotify fd is closed (``stop()``, a
  crash of the answering loop, the hosting process killed) the kernel allows
  every pending and later open. ``Guard.alive()`` (thread running, fd open,
  heartbeat fresh) exists so a drill can detect a missing guard.

Limits: fanotify has no permission event for unlink/rename/truncate (Landlock
covers those); the opener's open flags are not reported, so a protection
denies every open (read or write) of the path; a path is matched as seen from
this process's mount namespace (``/proc/self/fd``), so a ``**`` pattern can miss
a bind mount of the tree seen under another path (literal files are matched by
inode as well).

Not used, on purpose: FAN_ACCESS_PERM (a round trip on every read(), and it
only adds value for fds opened before the guard started); FAN_DENY_ERRNO
(pre-content groups only); FAN_INFO with FAN_RESPONSE_INFO_AUDIT_RULE (our
audit trail is the inventory's chain, fed by ``on_denial``). ``audit=True``
sets FAN_ENABLE_AUDIT and answers denials with FAN_AUDIT for the kernel log.

An open judged by this Python guard costs far more than an unguarded one
(``benchmarks/redline_overhead.py``), so marks must stay narrow and unprotected
inodes are cached in the kernel.

Constants are those of the kernel's ``include/uapi/linux/fanotify.h``.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import logging
import os
import queue
import re
import select
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from daemon.redlines.guard.protection import ACTION_MASKS as ACTION_MASKS
from daemon.redlines.guard.protection import Protection as Protection
from scratchwarden.errors import GuardSetupError, KernelFeatureError

log = logging.getLogger(__name__)

# --- uapi constants ---------------------------------------------------------
FAN_CLOEXEC = 0x00000001
FAN_NONBLOCK = 0x00000002
FAN_CLASS_CONTENT = 0x00000004
FAN_UNLIMITED_QUEUE = 0x00000010
FAN_ENABLE_AUDIT = 0x00000040

FAN_MARK_ADD = 0x00000001
FAN_MARK_REMOVE = 0x00000002
FAN_MARK_DONT_FOLLOW = 0x00000004
FAN_MARK_INODE = 0x00000000
FAN_MARK_FILESYSTEM = 0x00000100
FAN_MARK_IGNORED_MASK = 0x00000020
FAN_MARK_EVICTABLE = 0x00000200

FAN_OPEN_PERM = 0x00010000
FAN_ACCESS_PERM = 0x00020000
FAN_OPEN_EXEC_PERM = 0x00040000
FAN_Q_OVERFLOW = 0x00004000
FAN_EVENT_ON_CHILD = 0x08000000

FAN_ALLOW = 0x01
FAN_DENY = 0x02
FAN_AUDIT = 0x10
FAN_NOFD = -1
FANOTIFY_METADATA_VERSION = 3

# struct fanotify_event_metadata: u32 event_len, u8 vers, u8 reserved,
# u16 metadata_len, u64 mask (aligned), s32 fd, s32 pid  -> 24 bytes
_META = struct.Struct("=IBBHQii")
# struct fanotify_response: s32 fd, u32 response -> 8 bytes
_RESPONSE = struct.Struct("=iI")
_READ_SIZE = _META.size * 512


# --- ctypes -----------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)
_libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_libc.fanotify_init.restype = ctypes.c_int
_libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                ctypes.c_char_p]
_libc.fanotify_mark.restype = ctypes.c_int
AT_FDCWD = -100


def fanotify_init(flags: int, event_f_flags: int) -> int:
    """A new fanotify group fd (``fanotify_init(2)``).

    Raises:
        KernelFeatureError: no permission events here (kernel option or CAP_SYS_ADMIN missing).
        GuardSetupError: any other failure.
    """
    fd = int(_libc.fanotify_init(flags, event_f_flags))
    if fd == -1:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM):
            raise KernelFeatureError(
                f"fanotify permission events need CONFIG_FANOTIFY_ACCESS_PERMISSIONS and "
                f"CAP_SYS_ADMIN; fanotify_init({flags:#x}) failed with {os.strerror(err)}")
        raise GuardSetupError(f"fanotify_init({flags:#x}, {event_f_flags:#x}) failed: "
                              f"{os.strerror(err)}")
    return fd


def fanotify_mark(fd: int, flags: int, mask: int, path: str) -> None:
    """Add or remove a mark (``fanotify_mark(2)``).

    Raises:
        GuardSetupError: the kernel refused the mark.
    """
    ret = int(_libc.fanotify_mark(fd, flags, mask, AT_FDCWD, os.fsencode(path)))
    if ret == -1:
        err = ctypes.get_errno()
        raise GuardSetupError(f"fanotify_mark({path!r}, flags={flags:#x}, mask={mask:#x}) "
                              f"failed: {os.strerror(err)}")


def fanotify_ignore_inode(fd: int, event_fd: int, mask: int) -> bool:
    """Add an ignore mask for ``mask`` on the inode behind ``event_fd`` (the
    file of a permission event): the kernel stops asking about it until it is
    modified (no FAN_MARK_IGNORED_SURV_MODIFY). The mark is evictable: it does
    not pin the inode in memory, and when the kernel evicts the inode the mark
    goes with it (the file is then judged again: the safe direction). Returns
    False on failure (e.g. the per-user mark limit); the caller stops caching."""
    flags = FAN_MARK_ADD | FAN_MARK_INODE | FAN_MARK_IGNORED_MASK | FAN_MARK_EVICTABLE
    return int(_libc.fanotify_mark(fd, flags, mask, event_fd, None)) == 0


# --- patterns ---------------------------------------------------------------
_GLOB_CHARS = re.compile(r"[*?\[]")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Path glob to regex: ``**`` crosses directories, ``*``/``?``/``[..]``
    stay within one component (unlike ``fnmatch``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


@dataclass(frozen=True)
class Mark:
    """One fanotify mark the guard placed."""

    kind: str  # "inode" | "filesystem"
    path: str
    mask: int


def plan_marks(pattern: str, mask: int) -> list[Mark]:
    """Where to mark for ``pattern`` (see the module docstring)."""
    parts = pattern.split("/")
    globbed = [i for i, part in enumerate(parts) if _GLOB_CHARS.search(part)]
    if not globbed:
        marks = []
        if os.path.exists(pattern) and not os.path.isdir(pattern):
            marks.append(Mark("inode", pattern, mask))
        parent = os.path.dirname(pattern) or "/"
        if os.path.isdir(parent):
            return [*marks, Mark("inode", parent, mask | FAN_EVENT_ON_CHILD)]
        return [*marks, Mark("filesystem", _nearest_existing(parent), mask)]
    first = globbed[0]
    prefix = "/".join(parts[:first]) or "/"
    if first == len(parts) - 1 and "**" not in parts[-1] and os.path.isdir(prefix):
        return [Mark("inode", prefix, mask | FAN_EVENT_ON_CHILD)]
    return [Mark("filesystem", _nearest_existing(prefix), mask)]


# --- what the guard protects, asks and reports ------------------------------
@dataclass(frozen=True)
class Identity:
    """Who is opening, read from /proc of the opener."""

    pid: int
    uid: int  # effective uid
    ruid: int
    exe: str
    cgroup: str
    no_new_privs: bool = False  # set by every Landlock sandbox; can never be unset


@dataclass(frozen=True)
class AccessRequest:
    """What ``decide`` is asked about."""

    red_line_id: str
    action: str  # "open" | "exec"
    path: str
    identity: Identity


@dataclass(frozen=True)
class Denial:
    """One blocked access, for the audit chain. Paths and process facts only."""

    red_line_id: str
    action: str
    path: str
    pid: int
    exe: str | None
    uid: int | None
    cgroup: str | None
    time: float
    reason: str  # "decided" | "unidentified" | "error"


Decide = Callable[[AccessRequest], bool]


def deny_all(_request: AccessRequest) -> bool:
    """The default: nobody but the guard's own process may touch a protected path."""
    return False


def allow_uids(*uids: int) -> Decide:
    """Allow processes whose effective uid is one of ``uids``."""
    allowed = frozenset(uids)

    def decide(request: AccessRequest) -> bool:
        return request.identity.uid in allowed

    return decide


def _unified_cgroup(text: str) -> str:
    """The cgroup v2 path ("0::/x") when present, else the whole v1 listing."""
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return text.strip()


def identify(pid: int) -> Identity | None:
    """Read the opener's identity from /proc (never a marked filesystem).
    None if it cannot be read (gone, other pid namespace, kernel thread)."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
        with open(f"/proc/{pid}/cgroup", "rb") as f:
            cgroup = _unified_cgroup(f.read().decode(errors="replace"))
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    uids: list[bytes] = []
    nnp = False
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            uids = line.split()[1:]
        elif line.startswith(b"NoNewPrivs:"):
            nnp = line.split()[1:] == [b"1"]
    if len(uids) < 2:
        return None
    return Identity(pid=pid, uid=int(uids[1]), ruid=int(uids[0]), exe=exe, cgroup=cgroup,
                    no_new_privs=nnp)


@dataclass
class GuardStats:
    events: int = 0
    self_allowed: int = 0
    unprotected: int = 0
    allowed: int = 0
    denied: int = 0
    errors: int = 0
    dropped_reports: int = 0
    cached: int = 0


@dataclass
class _Compiled:
    protection: Protection
    regexes: list[re.Pattern[str]]
    inodes: set[tuple[int, int]] = field(default_factory=set)


class ProtectionIndex:
    """The protections compiled for the answering thread: a regex per pattern
    and, for a literal path naming a file, its inode (so a hard link or a
    rename of that file is still protected). A literal directory protects
    everything beneath it."""

    def __init__(self, protections: Sequence[Protection]) -> None:
        self.compiled = [self._compile(p) for p in protections]

    @staticmethod
    def _compile(p: Protection) -> _Compiled:
        patterns: list[str] = []
        for pat in p.patterns:
            norm = os.path.normpath(pat) if not pat.endswith("/**") else pat
            if not _GLOB_CHARS.search(norm) and os.path.isdir(norm):
                norm = norm.rstrip("/") + "/**"
            patterns.append(norm)
        c = _Compiled(Protection(p.red_line_id, tuple(patterns), p.actions),
                      [glob_regex(x) for x in patterns])
        for pat in patterns:
            if not _GLOB_CHARS.search(pat) and os.path.isfile(pat):
                st = os.stat(pat)
                c.inodes.add((st.st_dev, st.st_ino))
        return c

    def match(self, path: str, fd: int, action: str) -> _Compiled | None:
        inode: tuple[int, int] | None = None
        for c in self.compiled:
            if action not in c.protection.actions:
                continue
            if any(r.match(path) for r in c.regexes):
                return c
            if c.inodes:
                if inode is None:
                    st = os.fstat(fd)
                    inode = (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else (-1, -1)
                if inode in c.inodes:
                    return c
        return None


class Guard:
    """Answer fanotify permission events for the given protections.

    ``decide(request) -> bool`` (True = allow) runs on the answering thread for
    opens of protected paths by other processes. It must be fast and must NOT
    open files (nor lazily import modules) outside /proc: an open on a marked
    object from the answering thread waits for an answer only that same thread
    could give, a self-deadlock no pid check can break. Pre-resolve what it
    needs. ``on_denial(denial)`` runs on a separate reporter thread.
    Use as a context manager or call ``start()`` / ``stop()``.
    """

    def __init__(self, protections: Sequence[Protection], decide: Decide = deny_all, *,
                 on_denial: Callable[[Denial], None] | None = None, audit: bool = False,
                 poll_interval: float = 0.5, cache_allowed: int = 200_000) -> None:
        if not protections:
            raise ValueError("expected at least one Protection, got none")
        self._protections = list(protections)
        self._decide = decide
        self._on_denial = on_denial
        self._audit = audit
        self._poll_ms = int(poll_interval * 1000)
        # Two fanotify groups: "precise" holds the inode/dir marks and never
        # caches; "broad" holds the filesystem marks, and an inode it judged
        # unprotected gets an (evictable) ignore mark in that group only, so
        # the same file opened again never reaches this process. An ignore
        # mark silences its own group alone: a cached file renamed onto a
        # literal protected path or into a marked dir is still asked about by
        # the precise group. (The limit, see docs/redlines.md: a cached file
        # renamed to a name only a filesystem-mark pattern protects.)
        self._cache_left = cache_allowed
        self._pid = os.getpid()
        self._precise = -1
        self._broad = -1
        self._wake = -1
        self._thread: threading.Thread | None = None
        self._reporter: threading.Thread | None = None
        self._reports: queue.Queue[Denial | str | None] = queue.Queue(maxsize=10000)
        self._recent: collections.deque[Denial] = collections.deque(maxlen=1000)
        self._index = ProtectionIndex([])
        self._cacheable = False
        self._marks: list[Mark] = []
        self._heartbeat = 0.0
        self._stopping = threading.Event()
        self.stats = GuardStats()
        self.failure: BaseException | None = None

    # -- lifecycle --
    def start(self) -> Guard:
        if self._thread is not None:
            raise RuntimeError("guard already started")
        self._index = ProtectionIndex(self._protections)
        try:
            self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self._place_marks()
        except BaseException:
            self._close_fds()
            raise
        self._heartbeat = time.monotonic()
        self._reporter = threading.Thread(target=self._report_loop, daemon=True,
                                          name="sw-fanotify-report")
        self._reporter.start()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sw-fanotify-guard")
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop answering and remove every mark (closing the fd: the kernel
        then allows whatever was pending). True if the threads ended in time."""
        self._stopping.set()
        if self._wake >= 0:
            try:
                os.eventfd_write(self._wake, 1)
            except OSError:
                pass
        ok = True
        if self._thread is not None:
            self._thread.join(timeout)
            ok = not self._thread.is_alive()
        if self._reporter is not None:
            try:
                self._reports.put(None, timeout=timeout)
            except queue.Full:
                ok = False
            self._reporter.join(timeout)
            ok = ok and not self._reporter.is_alive()
        if ok:
            self._close_fds()
        return ok

    def __enter__(self) -> Guard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self, max_silence: float = 5.0) -> bool:
        """True while the answering thread runs, its fd is open and it polled
        within ``max_silence`` seconds. A dead guard lets every open through."""
        return (self._thread is not None and self._thread.is_alive() and bool(self._fds)
                and time.monotonic() - self._heartbeat < max_silence)

    @property
    def marks(self) -> list[Mark]:
        return list(self._marks)

    def recent_denials(self) -> list[Denial]:
        return list(self._recent)

    # -- setup --
    @property
    def _fds(self) -> list[int]:
        return [fd for fd in (self._precise, self._broad) if fd >= 0]

    def _group(self) -> int:
        flags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE
        if self._audit:
            flags |= FAN_ENABLE_AUDIT
        return fanotify_init(flags, os.O_RDONLY | os.O_LARGEFILE | os.O_CLOEXEC | os.O_NONBLOCK)

    def _place_marks(self) -> None:
        wanted: dict[tuple[str, str], int] = {}
        for c in self._index.compiled:
            for pat in c.protection.patterns:
                for m in plan_marks(pat, c.protection.mask):
                    key = (m.kind, m.path)
                    wanted[key] = wanted.get(key, 0) | m.mask
        for (kind, path), mask in wanted.items():
            if kind == "filesystem":
                if self._broad < 0:
                    self._broad = self._group()
                fanotify_mark(self._broad, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, path)
            else:
                if self._precise < 0:
                    self._precise = self._group()
                fanotify_mark(self._precise, FAN_MARK_ADD | FAN_MARK_INODE, mask, path)
            self._marks.append(Mark(kind, path, mask))

    def _close_fds(self) -> None:
        for name in ("_precise", "_broad", "_wake"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    # -- the answering loop --
    def _run(self) -> None:
        try:
            poller = select.poll()
            groups = self._fds
            for fd in (*groups, self._wake):
                poller.register(fd, select.POLLIN)
            while not self._stopping.is_set():
                self._heartbeat = time.monotonic()
                ready = {fd for fd, _ in poller.poll(self._poll_ms)}
                for group in groups:
                    if group in ready:
                        self._drain(group)
        except BaseException as e:  # noqa: BLE001 - the loop must record why it died
            self.failure = e
            self._close_fds()  # first: never leave openers hanging (the kernel allows them)
            self._note(f"fanotify guard loop died ({type(e).__name__}: {e}); "
                       "protected paths are now unguarded")

    def _drain(self, group: int) -> None:
        try:
            data = os.read(group, _READ_SIZE)
        except BlockingIOError:
            return
        for mask, fd, pid in _parse(data):
            self._handle(group, mask, fd, pid)

    def _handle(self, group: int, mask: int, fd: int, pid: int) -> None:
        self.stats.events += 1
        if fd == FAN_NOFD:
            if mask & FAN_Q_OVERFLOW:
                self._note("fanotify queue overflow reported")
            return
        allow = False
        denial: Denial | None = None
        try:
            allow, denial = self._judge(mask, fd, pid)
        except Exception as e:  # noqa: BLE001 - fail closed on any error
            self.stats.errors += 1
            self._note(f"fanotify guard: error judging pid {pid}: {type(e).__name__}; denied")
            denial = Denial("?", _action(mask), "?", pid, None, None, None, time.time(), "error")
        finally:
            self._respond(group, fd, allow)
            if (allow and denial is None and self._cacheable and group == self._broad
                    and self._cache_left > 0):
                self._cache(fd, mask)
            os.close(fd)
        if denial is not None:
            self._record(denial)

    def _cache(self, fd: int, mask: int) -> None:
        if fanotify_ignore_inode(self._broad, fd, mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)):
            self._cache_left -= 1
            self.stats.cached += 1
        else:
            self._cache_left = 0  # mark limit reached: stop trying

    def _judge(self, mask: int, fd: int, pid: int) -> tuple[bool, Denial | None]:
        self._cacheable = False
        if pid == self._pid:
            self.stats.self_allowed += 1
            return True, None
        action = _action(mask)
        path = os.readlink(f"/proc/self/fd/{fd}")
        c = self._index.match(path, fd, action)
        if c is None:
            self.stats.unprotected += 1
            # cache only what no protection covers for any action
            self._cacheable = all(self._index.match(path, fd, a) is None
                                  for a in ("open", "exec"))
            return True, None
        ident = identify(pid)
        rid = c.protection.red_line_id
        if ident is None:
            self.stats.denied += 1
            return False, Denial(rid, action, path, pid, None, None, None, time.time(),
                                 "unidentified")
        if self._ask(AccessRequest(rid, action, path, ident)):
            self.stats.allowed += 1
            return True, None
        self.stats.denied += 1
        return False, Denial(rid, action, path, pid, ident.exe, ident.uid, ident.cgroup,
                             time.time(), "decided")

    def _ask(self, request: AccessRequest) -> bool:
        try:
            return bool(self._decide(request))
        except Exception as e:  # noqa: BLE001 - a broken decide denies
            self.stats.errors += 1
            self._note(f"fanotify guard: decide raised {type(e).__name__}; denied")
            return False

    def _respond(self, group: int, fd: int, allow: bool) -> None:
        response = FAN_ALLOW if allow else FAN_DENY
        if self._audit and not allow:
            response |= FAN_AUDIT
        try:
            os.write(group, _RESPONSE.pack(fd, response))
        except OSError as e:
            self.stats.errors += 1
            self._note(f"fanotify guard: writing the response failed: {e.strerror}")

    # -- denial reporting --
    # The answering thread never logs (a log handler may open files on a
    # marked filesystem): denials and diagnostics go through the queue to the
    # reporter thread, which may block without stalling answers.
    def _record(self, item: Denial | str) -> None:
        if isinstance(item, Denial):
            self._recent.append(item)
        try:
            self._reports.put_nowait(item)
        except queue.Full:
            self.stats.dropped_reports += 1

    def _note(self, message: str) -> None:
        self._record(message)

    def _report_loop(self) -> None:
        while True:
            item = self._reports.get()
            if item is None:
                return
            if isinstance(item, str):
                log.error("%s", item)
                continue
            if self._on_denial is None:
                continue
            try:
                self._on_denial(item)
            except Exception:  # noqa: BLE001 - a broken sink must not kill reporting
                log.exception("fanotify guard: on_denial failed")


def _action(mask: int) -> str:
    return "exec" if mask & FAN_OPEN_EXEC_PERM else "open"


def _parse(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (mask, fd, pid) for each event in a read buffer."""
    offset = 0
    while offset + _META.size <= len(data):
        event_len, vers, _res, _mlen, mask, fd, pid = _META.unpack_from(data, offset)
        if vers != FANOTIFY_METADATA_VERSION:
            raise GuardSetupError(f"fanotify metadata version {vers}, expected "
                                  f"{FANOTIFY_METADATA_VERSION}")
        if event_len < _META.size:
            raise GuardSetupError(f"fanotify event_len {event_len} < {_META.size}")
        yield mask, fd, pid
        offset += event_len


def protections_from_args(specs: Iterable[str], actions: frozenset[str]) -> list[Protection]:
    """Parse ``ID=GLOB`` command-line specs."""
    out: list[Protection] = []
    for spec in specs:
        rid, sep, pattern = spec.partition("=")
        if not sep or not rid or not pattern:
            raise ValueError(f"expected --protect ID=GLOB, got {spec!r}")
        out.append(Protection(rid, (pattern,), actions))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Host a guard in its own process (drills, tests, a daemon's helper).

    Prints ``ready`` once the marks are placed, then one JSON line per denial;
    stops cleanly on SIGTERM/SIGINT. Killing it with SIGKILL leaves the paths
    unguarded (the kernel allows opens once the fd is gone)."""
    import argparse
    import json
    import signal
    import sys
    from dataclasses import asdict

    ap = argparse.ArgumentParser(prog="python -m daemon.redlines.guard.fanotify")
    ap.add_argument("--protect", action="append", required=True, metavar="ID=GLOB")
    ap.add_argument("--allow-uid", action="append", type=int, default=[])
    ap.add_argument("--actions", default="open", help="comma list of open,exec")
    args = ap.parse_args(argv)
    actions = frozenset(a for a in args.actions.split(",") if a)
    protections = protections_from_args(args.protect, actions)
    out_lock = threading.Lock()

    def emit(denial: Denial) -> None:
        with out_lock:
            print(json.dumps(asdict(denial)), flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    guard = Guard(protections, allow_uids(*args.allow_uid), on_denial=emit)
    with guard:
        print("ready", flush=True)
        while not done.wait(1.0):
            if not guard.alive():
                print("guard died", file=sys.stderr, flush=True)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
