"""The drill's probe: runs inside the agent sandbox and attempts what the red
lines forbid. Reads a JSON list of attempts on stdin, prints one JSON object
{attempt index: "ok" | errno name}. Never reads file contents: opens are
closed unread, execs get ``--version`` with output discarded."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from typing import Any


def _attempt(a: dict[str, Any]) -> None:
    op, path, port = a["op"], a.get("path", ""), int(a.get("port", 0))
    if op == "write":
        with open(path, "a") as f:
            f.write("drill\n")
    elif op == "create":
        with open(path, "x") as f:
            f.write("drill\n")
    elif op == "remove":
        os.unlink(path)
    elif op == "rename":
        os.rename(path, a["to"])
    elif op == "truncate":
        os.truncate(path, 0)
    elif op == "read":
        os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    elif op == "exec":
        subprocess.run([path, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10, check=False)
    elif op == "connect":
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    elif op == "bind":
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    else:
        raise ValueError(op)


def main() -> int:
    attempts = json.load(sys.stdin)
    out: dict[str, str] = {}
    for i, a in enumerate(attempts):
        try:
            _attempt(a)
            out[str(i)] = "ok"
        except OSError as e:
            out[str(i)] = errno.errorcode.get(e.errno or 0, str(e.errno))
        except Exception as e:  # noqa: BLE001 - report, never crash the drill
            out[str(i)] = type(e).__name__
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
