"""One CLI: shared options defined once and accepted where users type them,
the same ``--format`` names and exit codes everywhere. Through click's
CliRunner on the real command tree."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from daemon.cli import common
from daemon.cli.main import main
from inventory.store import Store
from scratchwarden.observations import FileObservation, FileStatus

SHARED = {"state_dir", "config", "inventory", "node"}


def sw(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _status(state: Path, node: str) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "status.json").write_text(json.dumps({"pid": os.getpid(), "node": node}))


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, prefix + name + " ")
    return out


def test_every_shared_option_is_the_one_defined_in_common() -> None:
    seen: dict[str, set[str | None]] = {}
    for _, cmd in [("", main), *_commands(main)]:
        for p in cmd.params:
            if p.name in SHARED:
                assert not p.expose_value and p.callback is not None
                assert p.callback.__qualname__.startswith(common._keep.__qualname__)
                seen.setdefault(p.name, set()).add(getattr(p, "help", None))
    assert set(seen) == SHARED and all(len(helps) == 1 for helps in seen.values())


def test_formats_use_the_same_names_everywhere() -> None:
    allowed = {"table", "json", "jsonl", "csv", "lines"}
    for name, cmd in _commands(main):
        for p in cmd.params:
            if p.name == "fmt":
                assert isinstance(p.type, click.Choice), name
                assert set(p.type.choices) <= allowed, name


@pytest.mark.parametrize("where", ["before", "after"])
def test_state_dir_is_accepted_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    _status(tmp_path / "s", "here")
    args = ["--state-dir", str(tmp_path / "s")]
    r = sw(*args, "status") if where == "before" else sw("status", *args)
    assert r.exit_code == 0, r.output
    assert "node here" in r.output


def test_the_option_nearest_the_command_wins(tmp_path: Path) -> None:
    _status(tmp_path / "a", "A")
    _status(tmp_path / "b", "B")
    r = sw("--state-dir", str(tmp_path / "a"), "status", "--state-dir", str(tmp_path / "b"))
    assert r.exit_code == 0 and "node B" in r.output


def test_scan_takes_state_dir_and_inventory_after_the_command(tmp_path: Path) -> None:
    f = tmp_path / "note.txt"
    f.write_text("build notes, nothing else\n")
    db = tmp_path / "elsewhere.db"
    r = sw("scan", str(f), "--state-dir", str(tmp_path / "st"), "--inventory",
           f"sqlite:///{db}", "--node", "n9", "--patterns-only", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.splitlines()[-1])["path"] == str(f)
    store = Store.open(f"sqlite:///{db}")
    try:
        asset = store.get_asset("n9", str(f))
    finally:
        store.close()
    assert asset is not None and asset.status == "scanned"
    assert not (tmp_path / "st" / "inventory.db").exists()  # --inventory won


def test_inventory_and_node_before_the_command_reach_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inv.db'}"
    store = Store.open(db)
    try:
        store.record_observation("n1", "r", FileObservation("/r/a", FileStatus.SCANNED),
                                 now=datetime.now(UTC))
    finally:
        store.close()
    r = sw("--state-dir", str(tmp_path / "st"), "--inventory", db, "--node", "n1",
           "inventory", "export", "--format", "jsonl")
    assert r.exit_code == 0 and json.loads(r.output)["path"] == "/r/a"
    r = sw("--state-dir", str(tmp_path / "st"), "--inventory", db, "inventory", "export",
           "--node", "other", "--format", "jsonl")
    assert r.exit_code == 0 and r.output == ""


def test_json_format_and_its_older_flag_print_the_same_document(tmp_path: Path) -> None:
    _status(tmp_path / "s", "here")
    a = sw("--state-dir", str(tmp_path / "s"), "status", "--format", "json")
    b = sw("--state-dir", str(tmp_path / "s"), "status", "--json")
    assert a.exit_code == b.exit_code == 0
    assert json.loads(a.output)["node"] == json.loads(b.output)["node"] == "here"
    q = sw("quarantine", "list", "--state-dir", str(tmp_path / "s"), "--format", "json")
    assert q.exit_code == 0 and json.loads(q.output) == []


def test_exit_codes_are_the_same_for_every_command(tmp_path: Path) -> None:
    assert sw("scan", "--no-such-option", "x").exit_code == common.EXIT_ERROR  # usage
    r = sw("--state-dir", str(tmp_path / "s"), "status")  # nothing asked about exists
    assert r.exit_code == common.EXIT_FINDINGS
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nworkers: [\n")
    r = sw("status", "--config", str(bad))  # an invalid config: one line, exit 2
    assert r.exit_code == common.EXIT_ERROR
    assert r.output.startswith("scratchwarden: error: ") and "Traceback" not in r.output
