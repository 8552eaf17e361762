"""Where `scratchwarden run`'s per-open cost came from, and what replaced it
(needs root). Companion to ``redline_overhead.py`` (ADR 0008).

The workload is a compiled, open-heavy tool: ``grep -r -c`` over a tree of
small files five directories deep, repeated, so that the per-open cost is
not diluted by an interpreter. Each variant runs the same command in a child that entered a
Landlock ruleset right before exec (built once, in the parent); CPU is the
child's user + sys (``wait4``), wall clock beside it. Variants, in rotating
order each round, medians over ``--reps``:

- plain: no sandbox;
- before: the ruleset the shipped policy's ``no-delete-outside-scratch`` line
  made until ADR 0008's addendum: reads handled with a rule at ``/``, every
  write right including TRUNCATE, the session dir and ``/tmp`` as write roots;
- Landlock TRUNCATE, no READ: what ``scratchwarden run`` enters now by
  default (``truncate_check: landlock``, also the fallback where the
  supervisor is unavailable); TRUNCATE alone makes the kernel walk every
  opened path to ``/``;
- supervisor: what ``scratchwarden run`` enters here for ``truncate_check:
  supervisor``: the same write roots with TRUNCATE left to
  ``daemon.redlines.confine.truncate_supervisor`` (its seccomp filter and supervisor, started and
  entered exactly as the launcher does).

Then it tries to load a two-instruction BPF LSM program (``r0 = 0; exit``
attached to ``file_open``): the kernel mechanism that could control truncate
without Landlock's walk. It prints whether the kernel accepts it.

Usage: sudo .venv/bin/python benchmarks/landlock_walk.py [--files 4000] [--repeat 5] [--reps 9]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.redlines.confine import landlock as ll  # noqa: E402
from daemon.redlines.confine import truncate_supervisor  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)

_NR_BPF = 321


# --- BPF LSM probe ------------------------------------------------------------
def _btf_func_id(name: str) -> int:
    """Type id of a FUNC in the kernel's BTF (a minimal reader: headers only)."""
    data = Path("/sys/kernel/btf/vmlinux").read_bytes()
    magic, _, _, hdr, toff, tlen, soff, slen = struct.unpack_from("<HBBIIIII", data)
    if magic != 0xEB9F:
        raise OSError("unexpected BTF magic")
    types = data[hdr + toff: hdr + toff + tlen]
    strs = data[hdr + soff: hdr + soff + slen]
    want = strs.find(b"\0" + name.encode() + b"\0") + 1
    extra = {1: 4, 3: 12, 14: 4, 17: 4}
    per_member = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    pos, tid = 0, 0
    while pos < len(types):
        tid += 1
        name_off, info = struct.unpack_from("<II", types, pos)
        kind = (info >> 24) & 0x1F
        if kind == 12 and name_off == want:
            return tid
        pos += 12 + extra.get(kind, 0) + per_member.get(kind, 0) * (info & 0xFFFF)
    raise KeyError(name)


def _prog_load(prog_type: int, attach_type: int = 0, btf_id: int = 0) -> int:
    """BPF_PROG_LOAD of ``r0 = 0; exit``; 0 on success, else the errno."""
    code = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = bytearray(144)
    struct.pack_into("<IIQQ", attr, 0, prog_type, 2, ctypes.addressof(insns),
                     ctypes.addressof(lic))
    struct.pack_into("<I", attr, 68, attach_type)
    struct.pack_into("<I", attr, 108, btf_id)
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    fd = libc.syscall(_NR_BPF, 5, buf, len(attr))
    if fd >= 0:
        os.close(fd)
        return 0
    return ctypes.get_errno()


def probe_bpf_lsm() -> str:
    """Can a BPF LSM program be loaded here? A socket filter is tried alongside,
    to tell "no BPF at all" from "no LSM programs"."""
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF (/sys/kernel/btf/vmlinux)"
    lsm = _prog_load(29, 27, _btf_func_id("bpf_lsm_file_open"))  # LSM, BPF_LSM_MAC
    plain = _prog_load(1)  # SOCKET_FILTER
    other = "loads" if plain == 0 else f"refused too ({os.strerror(plain)})"
    if lsm == 0:
        return f"loads (BPF LSM is usable on this kernel); a socket filter {other}"
    return f"refused: {os.strerror(lsm)}; a socket filter of the same two instructions {other}"


# --- the workload ---------------------------------------------------------------
def make_tree(root: Path, files: int) -> Path:
    deep = root / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    for i in range(files):
        (deep / f"f{i}.txt").write_text(f"line {i}\nanother line y\n")
    return root / "a"


def run_child(argv: list[str], ruleset: ll.Ruleset | None) -> tuple[float, float]:
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            if ruleset is not None:
                truncate_supervisor.enter(ruleset.fd, ruleset.flags, ruleset.truncate_roots)
            os.execvp(argv[0], argv)  # noqa: S606 - the workload, argv built here
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"workload failed ({status}): {argv}")
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5, help="grep passes per run")
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (Landlock is not, but the BPF probe is)", file=sys.stderr)
        return 2
    abi = ll.abi_version()
    work = Path(tempfile.mkdtemp(prefix="sw-llwalk-", dir="/var/tmp"))
    try:
        tree = make_tree(work / "data", args.files)
        session = work / "session"
        session.mkdir()
        loop = f'for i in $(seq {args.repeat}); do grep -r -c y "$1"; done'
        argv = ["sh", "-c", loop, "sh", str(tree)]
        write = ll.WRITE_HANDLED
        roots = (str(session), tempfile.gettempdir())  # the example's "{session_dir}", /tmp/**
        before = ll.LandlockRules(read_only=("/",), read_write=roots, write_rights=write)
        fallback = ll.LandlockRules(read_write=roots, write_rights=write)
        now = ll.LandlockRules(read_write=roots, write_rights=write, truncate_supervisor=True)
        rulesets = {"before": ll.build(before, log=False),
                    "fallback": ll.build(fallback, log=False),
                    "now": ll.build(now, log=False)}
        variants: list[tuple[str, Callable[[], tuple[float, float]]]] = [
            ("plain", lambda: run_child(argv, None)),
            ("before (READ at /, TRUNCATE handled)", lambda: run_child(argv, rulesets["before"])),
            ("Landlock TRUNCATE, no READ (default now)",
             lambda: run_child(argv, rulesets["fallback"])),
            ("truncate_check: supervisor", lambda: run_child(argv, rulesets["now"])),
        ]
        samples: dict[str, list[tuple[float, float]]] = {n: [] for n, _ in variants}
        for r in range(args.reps):
            k = r % len(variants)
            for name, fn in [*variants[k:], *variants[:k]]:
                samples[name].append(fn())
        for rs in rulesets.values():
            rs.close()
        base_w = statistics.median(w for w, _ in samples["plain"])
        base_c = statistics.median(c for _, c in samples["plain"])
        opens = args.files * args.repeat
        print(f"Landlock ABI {abi}; {opens} opens per run (grep -r over {args.files} files at "
              f"{tree}/b/c/d/e, x{args.repeat}); medians of {args.reps} rotated rounds; "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"{'variant':<44} {'wall s':>8} {'CPU s':>8} {'wall':>7} {'CPU':>7} {'us/open':>8}")
        for name, _ in variants:
            w = statistics.median(x for x, _ in samples[name])
            c = statistics.median(y for _, y in samples[name])
            print(f"{name:<44} {w:>8.3f} {c:>8.3f} {w / base_w:>6.3f}x {c / base_c:>6.3f}x "
                  f"{(c - base_c) / opens * 1e6:>8.2f}")
        if rulesets["now"].truncate_roots is None:
            print(f"truncate supervisor unavailable ({truncate_supervisor.unavailable_reason()}): "
                  "the last row is the fallback")
        print(f"BPF LSM program (r0 = 0; exit on file_open): {probe_bpf_lsm()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
