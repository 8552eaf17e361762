"""Imports run one way. Each package may import only the packages listed for
it below (every import counts: module level, inside functions, and under
``TYPE_CHECKING``); only ``inventory`` speaks SQL. The table is the layering
of docs/adr/0009-layout-by-role.md, checked."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("scratchwarden", "policies", "inventory", "daemon")

#: package -> what it may import (besides itself and third-party libraries)
ALLOWED: dict[str, set[str]] = {
    "scratchwarden": set(),
    "policies": {"scratchwarden"},
    "inventory": {"scratchwarden"},
    "daemon.platform": {"scratchwarden"},
    "daemon.scan": {"daemon.platform", "scratchwarden"},
    "daemon.crypto": {"daemon.platform", "scratchwarden"},
    "daemon.host": {"daemon.platform", "policies", "scratchwarden"},
    "daemon.redlines": {"daemon.platform", "policies", "scratchwarden"},
    "daemon.actions": {"daemon.crypto", "daemon.platform", "inventory", "policies",
                       "scratchwarden"},
    "daemon.node": {"daemon.actions", "daemon.crypto", "daemon.host", "daemon.platform",
                    "daemon.redlines", "daemon.scan", "inventory", "policies", "scratchwarden"},
    "daemon.cli": {"daemon.actions", "daemon.crypto", "daemon.host", "daemon.node",
                   "daemon.platform", "daemon.redlines", "daemon.scan", "inventory",
                   "policies", "scratchwarden"},
    "daemon": {"daemon.cli"},  # daemon/__init__.py and __main__.py
}
SQL = ("sqlalchemy", "alembic", "psycopg", "sqlite3")
#: the one module outside inventory that opens SQLite: it reads the SQLite
#: databases an agent left in its scratch dir (scanned content, never the inventory)
SQL_EXCEPTIONS = {"daemon.scan.extract.sqlite"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The most specific key of ALLOWED that ``module`` lies in."""
    best = ""
    for layer in ALLOWED:
        if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best):
            best = layer
    assert best, f"{module} belongs to no layer: add it to ALLOWED"
    return best


def imports_of(path: Path) -> set[str]:
    """Every module (or module.name) ``path`` imports, wherever the import is."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the house uses absolute ones"
            assert node.module is not None
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def sources() -> list[Path]:
    return sorted(p for pkg in FIRST_PARTY for p in (REPO / pkg).rglob("*.py")
                  if "migrations" not in p.parts)


def check(module: str, imported: set[str]) -> list[str]:
    """What is wrong with ``module`` importing ``imported``."""
    layer = layer_of(module)
    allowed = ALLOWED[layer] | {layer}
    bad = []
    for name in imported:
        if name.split(".")[0] in FIRST_PARTY:
            target = layer_of_import(name)
            if target is not None and target not in allowed:
                bad.append(f"{module} imports {name} ({layer} -> {target})")
        elif name.split(".")[0] in SQL and layer != "inventory" \
                and module not in SQL_EXCEPTIONS:
            bad.append(f"{module} imports {name}: only inventory speaks SQL")
    return bad


def violations() -> list[str]:
    return sorted({v for path in sources()
                   for v in check(module_name(path), imports_of(path))})


def layer_of_import(imported: str) -> str | None:
    """The layer an imported name lies in (None: a bare first-party package
    name such as ``daemon`` that names no layer of its own)."""
    best = ""
    for layer in ALLOWED:
        if (imported == layer or imported.startswith(layer + ".")) and len(layer) > len(best):
            best = layer
    if best == "daemon" and imported != "daemon":
        return "daemon"
    return best or None


def test_imports_run_one_way() -> None:
    assert violations() == []


def test_every_module_belongs_to_a_layer() -> None:
    for path in sources():
        layer_of(module_name(path))


def test_the_check_sees_wrong_way_imports() -> None:
    """The check can fail: each rule of the issue, broken once."""
    assert check("daemon.scan.runner", {"inventory.store"})          # scanning -> inventory
    assert check("daemon.scan.runner", {"daemon.actions.enforcer"})  # scanning -> actions
    assert check("policies.loader", {"daemon.host.config"})          # policies -> daemon
    assert check("policies.loader", {"inventory.views"})             # policies -> inventory
    assert check("scratchwarden.errors", {"policies.units"})         # shared -> a layer
    assert check("daemon.node.recorder", {"sqlalchemy.orm"})         # SQL outside inventory
    assert check("daemon.platform.files", {"daemon.node.status"})    # primitive -> runtime
    assert check("daemon.node.intake", {"daemon.cli.main"})          # nothing imports the CLI
    assert not check("daemon.node.recorder", {"inventory.store", "scratchwarden.errors"})


def test_no_class_is_over_300_lines_and_no_folder_over_15_modules() -> None:
    long = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None \
                    and node.end_lineno - node.lineno + 1 > 300:
                long.append(f"{module_name(path)}.{node.name}")
    assert long == []
    crowded = {str(d.relative_to(REPO)): n for d in {p.parent for p in sources()}
               if (n := len(list(d.glob("*.py")))) > 15}
    assert crowded == {}
