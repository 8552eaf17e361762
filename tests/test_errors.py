"""The error tree drawn in ``scratchwarden/errors.py``'s docstring is the tree
of its classes, and no other module grows the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import scratchwarden.errors as errors_module
from scratchwarden.errors import ScratchwardenError

REPO = Path(__file__).resolve().parent.parent
DRAWN = re.compile(r"^ {4}(?P<indent>[│ ├└─]*)(?P<name>[A-Z]\w+)\s{2,}(?P<what>.*)$")
ACTORS = ("POLICY AUTHOR", "OPERATOR", "THE FILE", "AUDITOR")


def drawn_tree(doc: str) -> dict[str, str | None]:
    """class name -> parent name, read from the box drawing (4 columns a level)."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in doc.splitlines():
        m = DRAWN.match(line)
        if m is None:
            continue
        depth = len(m.group("indent")) // 4
        del stack[depth:]
        parents[m.group("name")] = stack[-1] if stack else None
        stack.append(m.group("name"))
    return parents


def class_tree() -> dict[str, str | None]:
    """Public error class -> its nearest public base (private mixins skipped)."""
    out: dict[str, str | None] = {}
    for name, obj in vars(errors_module).items():
        if isinstance(obj, type) and issubclass(obj, ScratchwardenError) \
                and not name.startswith("_"):
            bases = [b for b in obj.__mro__[1:]
                     if issubclass(b, ScratchwardenError) and not b.__name__.startswith("_")]
            out[name] = bases[0].__name__ if bases else None
    return out


def test_drawing_matches_the_classes() -> None:
    assert errors_module.__doc__ is not None
    drawn = drawn_tree(errors_module.__doc__)
    assert drawn == class_tree()


def test_every_actor_branch_is_drawn_with_its_exit_code() -> None:
    assert errors_module.__doc__ is not None
    doc = errors_module.__doc__
    for actor in ACTORS:
        assert actor in doc
    assert errors_module.FileError.exit_code == errors_module.AuditError.exit_code == 1
    assert errors_module.OperatorError.exit_code == errors_module.PolicyError.exit_code == 2


def test_drawing_parser_sees_a_wrong_parent() -> None:
    """The comparison can fail: move one class under another in the drawing."""
    doc = errors_module.__doc__ or ""
    moved = doc.replace("    │   └── QuarantineError", "    │   │   └── QuarantineError", 1)
    assert moved != doc
    assert drawn_tree(moved) != class_tree()


def test_no_other_module_subclasses_the_tree() -> None:
    names = set(class_tree()) | {"ScratchwardenError"}
    offenders = []
    for package in ("daemon", "inventory", "policies", "scratchwarden", "benchmarks"):
        for path in (REPO / package).rglob("*.py"):
            if path == Path(errors_module.__file__):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = {b.id if isinstance(b, ast.Name) else
                             b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
                    if bases & names:
                        offenders.append(f"{path.relative_to(REPO)}: {node.name}")
    assert offenders == []


def test_a_public_function_that_raises_the_tree_says_so() -> None:
    """``Raises:`` on public APIs: a public function or method that raises an
    error of the tree itself names it in a ``Raises:`` section (click
    commands are exempt: their docstring is the command's help)."""
    names = set(class_tree()) | {"ScratchwardenError"}
    missing = []
    for package in ("daemon", "inventory", "policies", "scratchwarden"):
        for path in (REPO / package).rglob("*.py"):
            if "cli" in path.relative_to(REPO).parts or "migrations" in path.parts:
                continue
            missing += _undocumented_raises(path, names)
    assert missing == []


def _undocumented_raises(path: Path, names: set[str]) -> list[str]:
    out = []

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                public = not child.name.startswith("_") and not (owner or "").startswith("_")
                raised = {_raised_name(n) for n in ast.walk(child) if isinstance(n, ast.Raise)}
                if public and raised & names and \
                        "Raises:" not in (ast.get_docstring(child) or ""):
                    out.append(f"{path.relative_to(REPO)}:{child.lineno} {child.name}")

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return out


def _raised_name(node: ast.Raise) -> str:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    if isinstance(exc, ast.Name):
        return exc.id
    return exc.attr if isinstance(exc, ast.Attribute) else ""
