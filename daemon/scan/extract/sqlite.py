"""SQLite database files: table and column names as context, sampled rows.

The database is never opened by name. Its bytes, read once through the
no-follow descriptor (bounded by ``max_file_bytes``), are loaded into a
private in-memory database with ``Connection.deserialize``. Why not
``file:...?mode=ro&immutable=1`` on the path: SQLite resolves symbolic links
in the name (``/proc/self/fd/N`` too) and opens it again, which reopens the
symlink race the no-follow open closed; and nothing can then ever create or
touch a ``-wal``, ``-shm`` or ``-journal`` next to the scanned file, nor
modify it. The cost: committed data still sitting in a separate ``-wal``
file is not seen here (that file is scanned as a file of its own).

Only ``SELECT * ... LIMIT n`` runs on tables (never views, never triggers),
with untrusted-schema functions off and a progress handler bounding the
work; ``row=N`` is the 1-based position in that scan (rowid order for
ordinary tables).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from daemon.scan.extract.segmenting import SegmentPacker
from daemon.scan.extract.sniff import MIME
from daemon.scan.extract.source import Ctx, Input, escape_locator_part
from daemon.scan.extract.text import is_printable
from daemon.scan.segments import Limits, Segment
from scratchwarden.errors import Unscannable

Result = tuple[str, Iterator[Segment]]
PROGRESS_STEP = 10_000          # VM instructions between progress callbacks
MAX_PROGRESS_CALLS = 5_000      # 50M instructions per database


def extract_sqlite(inp: Input, ctx: Ctx) -> Result:
    """Table and column names as context, sampled rows, from a private copy.

    Raises:
        Unscannable: the database does not open (``corrupt``).
    """
    data = _without_wal_flag(inp.read_all(ctx.limits.max_file_bytes))
    con = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        con.deserialize(data)
        del data
        _harden(con)
        tables = _tables(con, ctx.limits)
    except (sqlite3.Error, UnicodeDecodeError) as e:  # an error message quoting bad bytes
        con.close()
        raise Unscannable("corrupt", f"SQLite database does not open ({type(e).__name__})") from e
    except BaseException:
        con.close()
        raise
    return MIME["sqlite"], _table_segments(con, tables, ctx.limits)


def _without_wal_flag(data: bytes) -> bytes:
    """A WAL-mode database (header bytes 18-19 = 2) cannot be opened in memory;
    its main file is a valid rollback-mode image, so say so in our copy."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def _harden(con: sqlite3.Connection) -> None:
    calls = 0

    def progress() -> int:
        nonlocal calls
        calls += 1
        return 1 if calls > MAX_PROGRESS_CALLS else 0

    con.set_progress_handler(progress, PROGRESS_STEP)
    # TEXT that is not UTF-8 is stored as is; the default decoding raised on
    # the first such cell and the whole database went unscanned
    con.text_factory = _lenient
    con.execute("PRAGMA trusted_schema = OFF")
    con.execute("PRAGMA query_only = ON")


def _lenient(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _tables(con: sqlite3.Connection, limits: Limits) -> list[str]:
    rows = con.execute(
        "SELECT name, CAST(name AS BLOB) FROM sqlite_schema WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY rowid LIMIT ?",
        (limits.max_sqlite_tables + 1,)).fetchall()
    if len(rows) > limits.max_sqlite_tables:
        raise Unscannable("too-large", f"expected at most {limits.max_sqlite_tables} tables, "
                                       "found more")
    for _, raw in rows:
        if isinstance(raw, bytes) and _lenient(raw).encode("utf-8") != raw:
            # SQL names are UTF-8 text: such a table cannot be selected from
            raise Unscannable("extract-error", "a SQLite table name is not UTF-8; "
                                               "its rows cannot be read")
    return [str(r[0]) for r in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_segments(con: sqlite3.Connection, tables: list[str],
                    limits: Limits) -> Iterator[Segment]:
    try:
        for table in tables:
            yield from _one_table(con, table, limits)
    except sqlite3.OperationalError as e:
        raise Unscannable("extract-error", "SQLite sampling stopped (work bound or "
                                           f"unreadable table: {type(e).__name__})") from e
    except (sqlite3.Error, UnicodeDecodeError) as e:
        raise Unscannable("corrupt", f"SQLite table does not read ({type(e).__name__})") from e
    finally:
        con.close()


def _one_table(con: sqlite3.Connection, table: str, limits: Limits) -> Iterator[Segment]:
    try:
        cur = con.execute(f"SELECT * FROM {_quote(table)} LIMIT ?",  # noqa: S608 - quoted name
                          (limits.max_sqlite_rows_per_table,))
    except sqlite3.OperationalError as e:
        if "no such module" in str(e):  # a virtual table whose module we lack
            return
        raise
    columns = [str(d[0]) for d in cur.description]
    packer = SegmentPacker(limits, locator=f"table={escape_locator_part(table)}",
                           context=(table, *columns), cap=limits.max_text_chars)
    for r, row in enumerate(cur, start=1):
        for col, value in zip(columns, row, strict=True):
            text = _cell_text(value)
            if text:
                yield from packer.add(f"row={r};col={escape_locator_part(col)}",
                                      f"{col}: {text}\n")
    yield from packer.flush()


def _cell_text(value: object) -> str:
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return ""
        return text if "\x00" not in text and is_printable(text) else ""
    if value is None:
        return ""
    return str(value)
