"""Fixtures for the enforcement tests (helpers live in ``helpers``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.crypto import generate_keyring
from inventory.store import Store
from tests.actions.helpers import Env, write_policy


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    base = tmp_path / "srv"
    session = base / "acme" / "sessions" / "s-1"
    session.mkdir(parents=True)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    url = f"sqlite:///{state}/inventory.db"
    keyring = generate_keyring(state / "keys", directory=True)
    policy = write_policy(tmp_path / "policy", base)
    store = Store.open(url)
    try:
        yield Env(tmp_path, base, session, state, store, policy, keyring, url)
    finally:
        store.close()
