"""``scratchwarden run``: launch an agent command (and all it starts) under the
policy's red lines: Landlock + no_new_privs.

Two ways, one set of rules: ``exec_under`` (the CLI) builds the ruleset, has
the launch recorded, enters the ruleset and execs the command in place, like
``env``/``setpriv`` do: no second interpreter, no process left behind (unless
the policy asks for ``truncate_check: supervisor``: then the truncate
supervisor of ``daemon.redlines.confine.truncate_supervisor`` runs beside the command), the command
keeps the launcher's pid (the one recorded), gets signals directly and its
exit status is the launcher's. ``run`` (library callers,
possibly multi-threaded) starts it through ``daemon.redlines.confine.sandbox`` and waits.

Refuses to launch when an ``enforce`` red line cannot be enforced on this
kernel, unless it ``may_degrade`` (then it is launched and the degradation
recorded). Read/exec red lines are the daemon's fanotify guard's: the child
carries no_new_privs, which is how the guard knows it for an agent, and
``SCRATCHWARDEN_SESSION`` in its environment names the session in reports.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from daemon.redlines.compile import Compiled, Target, compile_policy
from daemon.redlines.confine import landlock as ll
from daemon.redlines.confine import sandbox, truncate_supervisor
from daemon.redlines.record import AuditRecorder
from policies import globs
from policies.schema import Policy
from scratchwarden.errors import ConfigError, KernelFeatureError

SESSION_ENV = "SCRATCHWARDEN_SESSION"
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def resolve_exec(pattern: str) -> list[str]:
    """Existing regular executable files matching an exec red-line glob."""
    out = []
    for path in sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            out.append(path)
    return out


def session_dir_for(policy: Policy, session: str) -> str:
    """The one existing directory that a root pattern with ``{session}`` names
    for this session id (other placeholders match any one segment).

    Raises:
        ConfigError: a malformed session id, or not exactly one existing directory for it.
    """
    if not _SESSION_ID.fullmatch(session):
        raise ConfigError(f"expected a session id of letters, digits, '.', '_' or '-', "
                          f"found {session!r}")
    found: set[str] = set()
    for root in policy.roots:
        if "session" not in root.placeholders:
            continue
        pattern = globs.PLACEHOLDER.sub(
            lambda m: session if m.group(1) == "session" else "*", root.path)
        found |= {os.path.realpath(p) for p in glob.glob(pattern) if os.path.isdir(p)}
    if len(found) != 1:
        roots = [r.path for r in policy.roots if "session" in r.placeholders]
        what = "none" if not found else ", ".join(sorted(found))
        raise ConfigError(f"session {session!r}: expected exactly one existing directory "
                          f"matching {roots or 'a root with {session}'}, found {what}; "
                          "pass --session-dir")
    return found.pop()


def resolve_session(policy: Policy, session: str | None,
                    session_dir: str | None) -> tuple[str | None, str | None]:
    """(session dir, session label) from the CLI options.

    Raises:
        ConfigError: the session directory does not exist, or the session id resolves to none or
            several.
    """
    if session_dir is not None:
        real = os.path.realpath(session_dir)
        if not os.path.isdir(real):
            raise ConfigError(f"--session-dir: expected an existing directory, found none at "
                              f"{session_dir}")
        return real, session or os.path.basename(real)
    if session is not None:
        return session_dir_for(policy, session), session
    return None, None


@dataclass(frozen=True)
class Prepared:
    compiled: Compiled
    abi: int
    session_dir: str | None
    session: str | None


def prepare(policy: Policy, *, session_dir: str | None, session: str | None = None,
            homes: Sequence[str] | None = None, abi: int | None = None) -> Prepared:
    """Compile for this kernel; raise ``KernelFeatureError`` naming every
    red line that must be enforced but cannot be here.

    Raises:
        KernelFeatureError: a red line that must be enforced cannot be on this kernel.
        PolicyError: a pattern needs the session directory and none was given.
    """
    abi = ll.abi_version() if abi is None else abi
    home = os.path.expanduser("~")
    target = Target(session_dir=session_dir, homes=tuple(homes or (home,)), abi=abi,
                    resolve=resolve_exec)
    compiled = compile_policy(policy, target)
    refused = compiled.refused()
    if refused:
        lines = "; ".join(f"{x.id}: {x.detail}" for x in refused)
        raise KernelFeatureError(f"refusing to launch: red line(s) cannot be enforced on this "
                                 f"kernel (Landlock ABI {abi}) and may not degrade: {lines}")
    return Prepared(compiled, abi, session_dir, session)


def _child_env(prepared: Prepared, env: Mapping[str, str] | None) -> dict[str, str]:
    child_env = dict(os.environ if env is None else env)
    if prepared.session is not None:
        child_env[SESSION_ENV] = prepared.session
    return child_env


def record_launch(recorder: AuditRecorder, prepared: Prepared, argv: Sequence[str], pid: int,
                  report: ll.AppliedReport) -> None:
    """The ``redline-launch`` audit entry: what is enforced on this command."""
    recorder.append("redline-launch", prepared.session or "-", {
        "pid": pid, "program": os.path.basename(argv[0]), "abi": prepared.abi,
        "session_dir": prepared.session_dir,
        "red_lines": [x.as_dict() for x in prepared.compiled.lines],
        "landlock_enforced": list(report.enforced),
        "landlock_not_enforced": list(report.not_enforced),
    })


def run(argv: Sequence[str], prepared: Prepared, *, recorder: AuditRecorder | None = None,
        env: Mapping[str, str] | None = None, cwd: str | None = None,
        timeout: float | None = None) -> int:
    """Launch ``argv`` under the prepared red lines in a child and wait;
    return its exit code (128 + N when killed by signal N, like a shell)."""
    proc, report = sandbox.spawn(argv, prepared.compiled.landlock, env=_child_env(prepared, env),
                                 cwd=cwd)
    if recorder is not None:
        record_launch(recorder, prepared, argv, proc.pid, report)
    return _wait(proc, timeout)


def build(prepared: Prepared) -> ll.Ruleset:
    """Every Landlock rule of ``prepared`` in a ruleset fd; nothing restricted
    yet. Raises (``KernelFeatureError``, ``GuardSetupError``) before anything
    is confined or launched."""
    return ll.build(prepared.compiled.landlock, abi=prepared.abi)


def exec_under(argv: Sequence[str], prepared: Prepared, ruleset: ll.Ruleset, *,
               env: Mapping[str, str] | None = None) -> int:
    """Enter ``ruleset`` and exec ``argv`` in this process. Returns only when
    the command could not be exec'd (127 not found, 126 not executable; the
    red lines are in force by then); raises ``GuardSetupError`` when the
    ruleset could not be entered (nothing was exec'd, and Landlock confines
    nothing yet: see ``truncate_supervisor.enter`` for the order). Call it from a
    single-threaded process: Landlock confines the calling thread."""
    child_env = _child_env(prepared, env)
    try:
        truncate_supervisor.enter(ruleset.fd, ruleset.flags, ruleset.truncate_roots)
    finally:
        ruleset.close()
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; exec keeps that
        signal.signal(sig, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], list(argv), child_env)  # noqa: S606 - running the agent is the point
    except FileNotFoundError:
        print(f"scratchwarden run: {argv[0]}: command not found", file=sys.stderr)
        return sandbox.EXIT_NOT_FOUND
    except OSError as e:
        print(f"scratchwarden run: {argv[0]}: cannot execute: {e.strerror}", file=sys.stderr)
        return sandbox.EXIT_NOT_EXECUTABLE
    return sandbox.EXIT_NOT_EXECUTABLE  # unreachable: execvpe does not return


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> int:
    def forward(signum: int, _frame: FrameType | None) -> None:
        proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT,
                                                            signal.SIGHUP)}
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return 128 - code if code < 0 else code
