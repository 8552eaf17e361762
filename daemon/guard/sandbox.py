"""Run a command under Landlock rules, applied in the child before exec.

Why a re-exec and not ``Popen(preexec_fn=...)``: Landlock restricts the calling
*thread*, and ``preexec_fn`` runs Python between fork and exec of a possibly
multi-threaded daemon, where any lock held by another thread at fork time can
deadlock the child. Instead the parent starts a fresh, single-threaded
interpreter::

    python -I -m daemon.guard.sandbox --rules-fd N --report-fd M -- COMMAND...

which reads the rules from a memfd, applies them, writes an ``AppliedReport``
(or the error) to the report pipe and ``execvp``s the command. The report pipe
is close-on-exec, so the parent reads until EOF: it learns what was enforced
*before* the command runs, and a child that could not apply its rules exits
125 without ever running the command (fail closed). Exit codes follow
``env(1)``: 125 sandbox failure, 126 command not executable, 127 not found.

The future CLI ``scratchwarden run [--session ID] -- COMMAND...`` calls
``launch``.
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

from daemon.guard.errors import GuardSetupError, KernelFeatureError, SandboxError
from daemon.guard.landlock import AppliedReport, LandlockRules, apply

EXIT_SANDBOX_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127

_File = int | IO[bytes] | None


# --- parent side ------------------------------------------------------------
def launcher_argv(argv: Sequence[str], *, rules_fd: int, report_fd: int,
                  log: bool = True, best_effort: bool = False) -> list[str]:
    """The argv of the re-exec'd launcher (exposed for systemd units and tests)."""
    if not argv:
        raise ValueError("expected a command to run, got an empty argv")
    cmd = [sys.executable, "-I", "-m", "daemon.guard.sandbox",
           "--rules-fd", str(rules_fd), "--report-fd", str(report_fd)]
    if not log:
        cmd.append("--no-log")
    if best_effort:
        cmd.append("--best-effort")
    return [*cmd, "--", *argv]


def _rules_memfd(rules: LandlockRules) -> int:
    fd = os.memfd_create("scratchwarden-rules", os.MFD_CLOEXEC)
    try:
        os.write(fd, rules.to_json().encode())
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


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


def spawn(argv: Sequence[str], rules: LandlockRules, *, env: Mapping[str, str] | None = None,
          cwd: str | os.PathLike[str] | None = None, log: bool = True, best_effort: bool = False,
          stdin: _File = None, stdout: _File = None, stderr: _File = None,
          report_timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], AppliedReport]:
    """Start ``argv`` under ``rules``. Returns once the rules are in force and
    the command was exec'd (or failed to exec: exit code 126/127). Raises
    ``KernelFeatureError`` / ``SandboxError`` if the rules could not be
    applied; the command then never ran."""
    rules_fd = _rules_memfd(rules)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        cmd = launcher_argv(argv, rules_fd=rules_fd, report_fd=report_w,
                            log=log, best_effort=best_effort)
        proc = subprocess.Popen(cmd, env=None if env is None else dict(env), cwd=cwd,
                                stdin=stdin, stdout=stdout, stderr=stderr,
                                pass_fds=(rules_fd, report_w))
    except BaseException:
        os.close(report_r)
        raise
    finally:
        os.close(rules_fd)
        os.close(report_w)
    try:
        raw = _read_until_eof(report_r, report_timeout)
    except BaseException:
        proc.kill()
        _reap(proc)
        raise
    finally:
        os.close(report_r)
    return proc, _parse_report(raw, proc)


def _parse_report(raw: bytes, proc: subprocess.Popen[bytes]) -> AppliedReport:
    lines = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
    if not lines:
        _raise_child_error({"message": "launcher exited without a report"}, proc)
    first = lines[0]
    if not first.get("ok"):
        _raise_child_error(first, proc)
    return AppliedReport.from_json(json.dumps(first["report"]))


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


def _read_rules(args: argparse.Namespace) -> LandlockRules:
    if args.rules_file:
        with open(args.rules_file, encoding="utf-8") as f:
            return LandlockRules.from_json(f.read())
    with os.fdopen(args.rules_fd, "rb", closefd=True) as f:
        return LandlockRules.from_json(f.read().decode())


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m daemon.guard.sandbox",
                                 description="Apply Landlock rules, then exec COMMAND.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--rules-fd", type=int)
    src.add_argument("--rules-file")
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
        rules = _read_rules(args)
        if _thread_count() != 1:
            return _fail(report_fd, "SandboxError",
                         f"expected a single-threaded launcher, found {_thread_count()} threads")
        report = apply(rules, log=not args.no_log, best_effort=args.best_effort)
    except KernelFeatureError as e:
        return _fail(report_fd, "KernelFeatureError", str(e))
    except (GuardSetupError, OSError, ValueError) as e:
        return _fail(report_fd, type(e).__name__, str(e))
    if report_fd is not None:
        _write_line(report_fd, {"ok": True, "report": json.loads(report.to_json())})
    return _exec(args.command)


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
