"""``scratchwarden policy``: check, test and explain policies (for CI and operators).

``check`` exits 2 on an invalid policy (every error with file:line), ``test``
exits 1 on a mismatch with the policy's own tests, ``explain`` exits 1 when the
file is not in the inventory. Entities are shown by type and count only.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from daemon.cli.common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    format_option,
    inventory_option,
    json_alias,
    node,
    node_option,
    open_store,
    state_dir,
    state_dir_option,
)


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"expected an ISO 8601 time, found {value!r}",
                                 param_hint="--now") from e
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.group("policy")
def policy() -> None:
    """Check, test and explain policies (for CI and operators)."""


@policy.command("check")
@click.argument("directory", type=click.Path(path_type=Path))
def policy_check(directory: Path) -> None:
    """Validate a policy directory: errors with file:line (exit 2), warnings."""
    from policies.loader import check

    loaded, errors, warnings = check(directory)
    for w in warnings:
        click.echo(str(w), err=True)
    if errors or loaded is None:
        for e in errors:
            click.echo(str(e), err=True)
        click.echo(f"policy check: {len(errors)} error(s) in {directory}", err=True)
        sys.exit(EXIT_ERROR)
    p = loaded.policy
    click.echo(f"policy check: OK: {len(loaded.files)} file(s), {len(p.roots)} root(s), "
               f"{len(p.rules)} rule(s), {len(p.red_lines)} red line(s), mode {p.mode.value}; "
               f"revision {loaded.revision}; {len(warnings)} warning(s)")


@policy.command("test")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Only print failures and the summary.")
def policy_test(directory: Path, quiet: bool) -> None:
    """Run the policy unit tests kept next to the policy (exit 1 on a mismatch)."""
    from policies.testing import run_policy_tests

    results = run_policy_tests(directory)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not quiet or not r.passed:
            click.echo(str(r))
    click.echo(f"policy test: {len(results) - len(failed)} passed, {len(failed)} failed")
    if not results:
        click.echo("policy test: no test cases found (*_test.yaml or tests/*.yaml)", err=True)
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


@policy.command("explain")
@click.argument("path")
@click.option("--policy", "policy_dir", type=click.Path(path_type=Path), required=True,
              help="Policy directory.")
@inventory_option
@node_option
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="Evaluate at this time instead of now.")
@format_option("table", "json")
@json_alias
@state_dir_option
@click.pass_context
def policy_explain(ctx: click.Context, path: str, policy_dir: Path, now_text: str | None,
                   fmt: str, as_json: bool) -> None:
    """Which rule applies to this inventoried file, why, and its deadlines."""
    from daemon.actions.explain import explain, render
    from policies.loader import load_policy

    loaded = load_policy(policy_dir)
    with open_store(ctx) as store:
        doc = explain(store, node(ctx), os.path.abspath(path), loaded, _now(now_text),
                      state_dir(ctx))
    if doc is None:
        click.echo(f"{path}: not in the inventory of node {node(ctx)!r} (scan it first)",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo(json.dumps(doc, indent=2) if fmt == "json" or as_json else render(doc))


COMMANDS: tuple[click.Command, ...] = (policy,)
