"""Pure tests of the Landlock planning: which rights each ABI handles, what is
reported as missing, how exec denials are carved (on a tmp tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.redlines.confine import landlock as ll


def test_fs_rights_grow_with_abi() -> None:
    assert ll.fs_rights(1) == (1 << 13) - 1
    assert ll.fs_rights(2) & ll.ACCESS_FS_REFER
    assert not ll.fs_rights(2) & ll.ACCESS_FS_TRUNCATE
    assert ll.fs_rights(3) & ll.ACCESS_FS_TRUNCATE
    assert not ll.fs_rights(4) & ll.ACCESS_FS_IOCTL_DEV
    assert ll.fs_rights(5) & ll.ACCESS_FS_IOCTL_DEV
    assert ll.net_rights(3) == 0 and ll.net_rights(4) == 3
    assert ll.scopes(5) == 0 and ll.scopes(6) == 3
    assert ll.log_flags(6) == 0 and ll.log_flags(7) == 7


def test_write_confinement_never_grants_device_nodes() -> None:
    p = ll.plan(ll.LandlockRules(read_only=("/",), read_write=("/srv/s",)), 7)
    assert p.handled_fs & ll.ACCESS_FS_MAKE_BLOCK and p.handled_fs & ll.ACCESS_FS_MAKE_CHAR
    granted = dict(p.path_rules)["/srv/s"]
    assert not granted & (ll.ACCESS_FS_MAKE_BLOCK | ll.ACCESS_FS_MAKE_CHAR)
    assert granted & ll.ACCESS_FS_TRUNCATE and granted & ll.ACCESS_FS_READ_FILE


@pytest.mark.parametrize(("abi", "missing"), [
    (2, {"truncate-confined", "tcp-connect-confined", "signal-scoped"}),
    (3, {"tcp-connect-confined", "signal-scoped"}),
    (5, {"signal-scoped"}),
    (6, set()),
    (7, set()),
])
def test_missing_features_per_abi(abi: int, missing: set[str]) -> None:
    rules = ll.LandlockRules(read_only=("/",), read_write=("/srv/s",),
                             tcp_connect_ports=frozenset({443}), scope_signals=True)
    p = ll.plan(rules, abi)
    assert {m.split(" ")[0] for m in p.missing} == missing
    assert (p.handled_net != 0) == (abi >= 4)


def test_log_flag_choice() -> None:
    rules = ll.LandlockRules(read_write=("/srv",))
    assert ll.plan(rules, 7, log=True).flags == ll.RESTRICT_SELF_LOG_NEW_EXEC_ON
    assert ll.plan(rules, 7, log=False).flags == ll.RESTRICT_SELF_LOG_SAME_EXEC_OFF
    assert ll.plan(rules, 6, log=True).flags == 0


def test_port_rules_merge_connect_and_bind() -> None:
    rules = ll.LandlockRules(tcp_connect_ports=frozenset({80, 443}),
                             tcp_bind_ports=frozenset({443}))
    p = ll.plan(rules, 4)
    assert dict(p.port_rules) == {80: ll.ACCESS_NET_CONNECT_TCP,
                                  443: ll.ACCESS_NET_CONNECT_TCP | ll.ACCESS_NET_BIND_TCP}


def test_rules_validate_and_round_trip() -> None:
    with pytest.raises(ValueError, match="0..65535"):
        ll.LandlockRules(tcp_connect_ports=frozenset({70000}))
    with pytest.raises(ValueError, match="exec_denied"):
        ll.LandlockRules(exec_denied=("/usr/bin/psql",))
    rules = ll.LandlockRules.confine_writes(["/srv/s"], executable=["/"],
                                            exec_denied=["/usr/bin/env"],
                                            tcp_connect_ports=[443])
    assert ll.LandlockRules.from_json(rules.to_json()) == rules
    with pytest.raises(ValueError, match="fields only"):
        ll.LandlockRules.from_json('{"read_only": ["/"], "surprise": 1}')


def test_exec_carving_skips_denied_file_its_hardlinks_and_symlinks(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    (bin_dir / "sub").mkdir(parents=True)
    for name in ("ok1", "ok2", "psql"):
        (bin_dir / name).write_text("#!/bin/sh\n")
    os.link(bin_dir / "psql", bin_dir / "psql-hardlink")
    (bin_dir / "pg").symlink_to("psql")
    (tmp_path / "lib").mkdir()
    allowed, resolved = ll.exec_allow_paths([str(tmp_path)], [str(bin_dir / "pg")])
    assert resolved == [str(bin_dir / "psql")]
    assert sorted(allowed) == sorted([str(tmp_path / "lib"), str(bin_dir / "ok1"),
                                      str(bin_dir / "ok2"), str(bin_dir / "sub")])
    untouched, _ = ll.exec_allow_paths([str(tmp_path / "lib")], [str(bin_dir / "psql")])
    assert untouched == [str(tmp_path / "lib")]
