"""A symlink or hardlink planted in a root never leads an action outside it:
delete, encrypt and quarantine leave the canary outside the root untouched."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.actions.safepath import check_inside, open_target
from scratchwarden.errors import UnsafePath
from tests.actions.helpers import NODE, T0, Env, record

SECRET = b"root:$6$canary-not-a-real-hash:19000:0:99999:7:::\n"
# entity types that make each rule's action due at T0 + 2h (before any other
# retention deadline: restricted data is kept 24h)
RULES = {"encrypt": ("US_SSN",), "quarantine": ("PRIVATE_KEY",), "delete": ()}
WHEN = T0 + timedelta(hours=2)


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    outside = tmp_path / "etc"
    outside.mkdir()
    c = outside / "shadow"
    c.write_bytes(SECRET)
    os.chmod(c, 0o640)
    return c


def fingerprint(p: Path) -> tuple[bytes, int, int, int]:
    st = os.lstat(p)
    return hashlib.sha256(p.read_bytes()).digest(), st.st_ino, st.st_nlink, st.st_mode


def plant(env: Env, kind: str, canary: Path, rule: str) -> Path:
    sub = "junk/" if rule == "delete" else ""
    link = env.session / f"{sub}{kind}-{rule}.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    if kind == "symlink":
        link.symlink_to(canary)
    else:
        os.link(canary, link)
    record(env.store, link, *RULES[rule])
    return link


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_planted_link_never_leads_outside(env: Env, canary: Path, kind: str, rule: str) -> None:
    before = fingerprint(canary)
    link = plant(env, kind, canary, rule)
    enf = env.enforcer()
    for hours in (2, 3):
        enf.tick(env.store, env.policy, NODE, T0 + timedelta(hours=hours))
    after = fingerprint(canary)
    # content, inode and mode of the canary never change
    assert (after[0], after[1], after[3]) == (before[0], before[1], before[3])
    if kind == "hardlink" and rule == "delete":
        # Retention removes the name inside the root only (one link fewer).
        assert not os.path.lexists(link)
    else:
        assert os.path.lexists(link)
        if kind == "hardlink":
            assert os.lstat(link).st_ino == before[1]  # not replaced by a copy
    assert not list(env.session.rglob("*.swenc"))
    assert not list((env.state / "quarantine").glob("*.data"))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_symlinked_directory_in_the_path_is_refused(env: Env, canary: Path, rule: str) -> None:
    (env.session / "junk").symlink_to(canary.parent, target_is_directory=True)
    victim = env.session / "junk" / "shadow"  # reaches the canary through the link
    record(env.store, victim, *RULES[rule])
    enf = env.enforcer()
    report = enf.tick(env.store, env.policy, NODE, WHEN)
    assert not report.applied
    assert fingerprint(canary)[0] == hashlib.sha256(SECRET).digest() and canary.exists()
    assert [p.name for p in canary.parent.iterdir()] == ["shadow"]


def test_paths_outside_or_unnormalised_are_refused(env: Env) -> None:
    root = str(env.session)
    for bad in (root + "/../s-2/x", "/etc/passwd", root, root + "x/y", "relative/x"):
        with pytest.raises(UnsafePath):
            check_inside(root, bad)
    with pytest.raises(UnsafePath), open_target(root, root + "/../../../../etc/passwd"):
        pass
