"""Run a command under Landlock rules, applied in the child before exec.

Why a re-exec and not ``Popen(preexec_fn=...)``: Landlock restricts the calling
*thread*, and ``preexec_fn`` runs Python between fork and exec of a possibly
multi-threaded daemon, where any lock held by another thread at fork time can
deadlock the child. Instead the parent starts a fresh, single-threaded
interpreter::

    python -I -m daemon.redlines.confine.sandbox --ruleset-fd N --flags F --report-fd M \
        -- COMMAND...

The parent *builds* the Landlock ruleset (``landlock.build``: every rule
added, nothing restricted, safe in a threaded process) and hands the ruleset
fd over; the child only *enters* it (no_new_privs + ``landlock_restrict_self``),
writes ``{"ok": true}`` (or the error) to the report pipe and ``execvp``s the
command. So a port deny-list's ~65k rules are added once, with no JSON of
them between processes, and the child's work is a small fixed cost. The
report pipe is close-on-exec, so the parent reads until EOF: it learns the
rules are in force *before* the command runs, and a child that could not
enter them exits 125 without ever running the command (fail closed). Exit
codes follow ``env(1)``: 125 sandbox failure, 126 command not executable, 127
not found. ``--rules-file FILE`` (LandlockRules JSON) builds in the child, for
use by hand.

``scratchwarden run`` needs no child at all: it builds, enters and execs in its
own (single-threaded) process (``daemon.redlines.run.exec_under``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

from daemon.redlines.confine import truncate_supervisor
from daemon.redlines.confine.landlock import AppliedReport, LandlockRules, Ruleset, apply, build
from scratchwarden.errors import GuardSetupError, KernelFeatureError, SandboxError

EXIT_SANDBOX_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127

_File = int | IO[bytes] | None


# --- parent side ------------------------------------------------------------
def launcher_argv(argv: Sequence[str], *, ruleset_fd: int, report_fd: int,
                  flags: int = 0, truncate_roots: Sequence[str] | None = None) -> list[str]:
    """The argv of the re-exec'd launcher that enters a built ruleset."""
    if not argv:
        raise ValueError("expected a command to run, got an empty argv")
    extra = [] if truncate_roots is None else ["--truncate-roots", json.dumps(list(truncate_roots))]
    return [sys.executable, "-I", "-m", "daemon.redlines.confine.sandbox", "--ruleset-fd",
            str(ruleset_fd), "--flags", str(flags), "--report-fd", str(report_fd), *extra,
            "--", *argv]


def _read_until_eof(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SandboxError(f"sandbox launcher did not report within {timeout:.0f} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)


def _raise_child_error(msg: dict[str, str], proc: subprocess.Popen[bytes]) -> None:
    _reap(proc)
    text = f"sandbox for {proc.args!r} not started: {msg.get('message', '?')}"
    if msg.get("kind") == "KernelFeatureError":
        raise KernelFeatureError(text)
    raise SandboxError(text)


def _build_or_raise(argv: Sequence[str], rules: LandlockRules, log: bool,
                    best_effort: bool) -> Ruleset:
    try:
        return build(rules, log=log, best_effort=best_effort)
    except KernelFeatureError as e:
        raise KernelFeatureError(f"sandbox for {list(argv)!r} not started: {e}") from e
    except (GuardSetupError, OSError) as e:
        raise SandboxError(f"sandbox for {list(argv)!r} not started: {e}") from e


def spawn(argv: Sequence[str], rules: LandlockRules, *, env: Mapping[str, str] | None = None,
          cwd: str | os.PathLike[str] | None = None, log: bool = True, best_effort: bool = False,
          stdin: _File = None, stdout: _File = None, stderr: _File = None,
          report_timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], AppliedReport]:
    """Start ``argv`` under ``rules``. Returns once the rules are in force and
    the command was exec'd (or failed to exec: exit code 126/127). Raises
    ``KernelFeatureError`` / ``SandboxError`` if the rules could not be
    applied; the command then never ran."""
    if not argv:
        raise ValueError("expected a command to run, got an empty argv")
    ruleset = _build_or_raise(argv, rules, log, best_effort)
    try:
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        try:
            cmd = launcher_argv(argv, ruleset_fd=ruleset.fd, report_fd=report_w,
                                flags=ruleset.flags, truncate_roots=ruleset.truncate_roots)
            fds = (report_w,) if ruleset.fd < 0 else (ruleset.fd, report_w)
            proc = subprocess.Popen(cmd, env=None if env is None else dict(env), cwd=cwd,
                                    stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=fds)
        except BaseException:
            os.close(report_r)
            raise
        finally:
            os.close(report_w)
    finally:
        ruleset.close()
    try:
        raw = _read_until_eof(report_r, report_timeout)
    except BaseException:
        proc.kill()
        _reap(proc)
        raise
    finally:
        os.close(report_r)
    _check_report(raw, proc)
    return proc, ruleset.report


def _check_report(raw: bytes, proc: subprocess.Popen[bytes]) -> None:
    lines = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
    if not lines:
        _raise_child_error({"message": "launcher exited without a report"}, proc)
    first = lines[0]
    if not first.get("ok"):
        _raise_child_error(first, proc)


def launch(argv: Sequence[str], rules: LandlockRules, *, env: Mapping[str, str] | None = None,
           cwd: str | os.PathLike[str] | None = None, timeout: float | None = None,
           log: bool = True, best_effort: bool = False) -> int:
    """Run ``argv`` under ``rules`` with inherited stdio; return its exit code
    (negative signal number if killed). On ``timeout`` the command is killed
    and ``subprocess.TimeoutExpired`` is raised."""
    proc, _report = spawn(argv, rules, env=env, cwd=cwd, log=log, best_effort=best_effort)
    try:
        return proc.wait(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise


# --- child side -------------------------------------------------------------
def _write_line(fd: int, obj: object) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _read_rules(path: str) -> LandlockRules:
    with open(path, encoding="utf-8") as f:
        return LandlockRules.from_json(f.read())


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m daemon.redlines.confine.sandbox",
                                 description="Apply Landlock rules, then exec COMMAND.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ruleset-fd", type=int, help="a built ruleset to enter")
    src.add_argument("--rules-file", help="LandlockRules JSON to build and enter")
    ap.add_argument("--flags", type=int, default=0, help="landlock_restrict_self flags")
    ap.add_argument("--truncate-roots", type=json.loads, default=None,
                    help="JSON list: the ruleset leaves truncation to the truncate supervisor, "
                         "confined to these roots")
    ap.add_argument("--report-fd", type=int, default=None)
    ap.add_argument("--no-log", action="store_true")
    ap.add_argument("--best-effort", action="store_true")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    if ns.command and ns.command[0] == "--":
        ns.command = ns.command[1:]
    if not ns.command:
        ap.error("expected -- COMMAND [ARGS...]")
    return ns


def _fail(report_fd: int | None, kind: str, message: str) -> int:
    print(f"scratchwarden sandbox: {message}", file=sys.stderr)
    if report_fd is not None:
        with contextlib.suppress(OSError):
            _write_line(report_fd, {"ok": False, "kind": kind, "message": message})
    return EXIT_SANDBOX_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: apply the rules to this (single) thread, then exec."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    report_fd: int | None = args.report_fd
    if report_fd is not None:
        os.set_inheritable(report_fd, False)  # EOF for the parent at exec
    try:
        if _thread_count() != 1:
            return _fail(report_fd, "SandboxError",
                         f"expected a single-threaded launcher, found {_thread_count()} threads")
        report = _enter(args)
    except KernelFeatureError as e:
        return _fail(report_fd, "KernelFeatureError", str(e))
    except (GuardSetupError, OSError, ValueError) as e:
        return _fail(report_fd, type(e).__name__, str(e))
    if report_fd is not None:
        body = {"ok": True} if report is None else {"ok": True, "report": json.loads(
            report.to_json())}
        _write_line(report_fd, body)
    return _exec(args.command)


def _enter(args: argparse.Namespace) -> AppliedReport | None:
    """Enter the handed-over ruleset, or build and enter ``--rules-file``."""
    if args.rules_file:
        return apply(_read_rules(args.rules_file), log=not args.no_log,
                     best_effort=args.best_effort)
    try:
        truncate_supervisor.enter(args.ruleset_fd, args.flags, args.truncate_roots)
    finally:
        if args.ruleset_fd >= 0:
            os.close(args.ruleset_fd)
    return None


def _exec(command: list[str]) -> int:
    try:
        os.execvp(command[0], command)  # noqa: S606 - exec'ing the user's argv is the point
    except FileNotFoundError:
        print(f"scratchwarden sandbox: {command[0]}: command not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    except OSError as e:
        print(f"scratchwarden sandbox: {command[0]}: cannot execute: {e.strerror}",
              file=sys.stderr)
        return EXIT_NOT_EXECUTABLE
    return EXIT_NOT_EXECUTABLE  # unreachable: execvp does not return


if __name__ == "__main__":
    sys.exit(main())
