"""Invalid policies are rejected with the exact file:line and what was expected.

Each case is a whole policy file; the expected messages are exact, and the
line numbers are counted in the YAML below (line 1 is ``version: 1``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies.loader import check, load_policy
from scratchwarden.errors import PolicyError, PolicyErrors

Writer = Callable[[str, str], Path]

CASES = {
    "wrong-type": ("""\
        version: 1
        roots:
          - name: ws
            path: /srv/{session}
            owner: a@example.com
            exclude: "*.tmp"
        """, ["6: roots[0].exclude: expected a valid list, found string '*.tmp'"]),
    "unknown-key": ("""\
        version: 1
        rules:
          - name: r
            match:
              clases: [x]
        """, ["5: rules[0].match.clases: unknown key (check the spelling); expected one of: "
              "age, classes, entities, labels, min_count, min_score, paths, roots, scan, size"]),
    "unknown-top-level-key": ("""\
        version: 1
        rule:
          - name: r
        """, ["2: rule: unknown key (check the spelling); expected one of: classes, mode, "
              "red_lines, roots, rules, version"]),
    "bad-glob": ("""\
        version: 1
        rules:
          - name: r
            match:
              paths:
                - "*.csv"
                - "data/**x"
        """, ["7: rules[0].match.paths[1]: glob 'data/**x': '**' must be a whole path segment "
              "(like a/**/b), found '**x'"]),
    "unbalanced-bracket": ("""\
        version: 1
        roots:
          - name: ws
            path: /srv/{session}
            owner: a@example.com
            exclude: ["[abc"]
        """, ["6: roots[0].exclude[0]: glob '[abc': '[' at position 1 is never closed by ']'"]),
    "missing-version": ("""\
        mode: audit
        """, ["1: version: required key is missing"]),
    "wrong-version": ("""\
        version: 2
        """, ["1: version: expected version: 1, found 2"]),
    "bad-duration": ("""\
        version: 1
        rules:
          - name: r
            encrypt: {after_idle: 10min}
        """, ["4: rules[0].encrypt.after_idle: unknown duration unit 'min' in '10min'; expected "
              "a duration like 30s, 10m, 24h, 7d, 2w or 1h30m (units w, d, h, m, s)"]),
    "bare-number-duration": ("""\
        version: 1
        rules:
          - name: r
            retain:
              for: 24
              from: first_seen
        """, ["5: rules[0].retain.for: expected a duration like 30s, 10m, 24h, 7d, 2w or 1h30m "
              "(units w, d, h, m, s), found number 24 (add a unit)"]),
    "bad-retain-origin": ("""\
        version: 1
        rules:
          - name: r
            retain: {for: 1d, from: created}
        """, ["4: rules[0].retain.from: expected one of first_seen, modified, session_end, "
              "found 'created'"]),
    "missing-name": ("""\
        version: 1
        rules:
          - name: a
          - match: {classes: [x]}
            record: true
        """, ["4: rules[1].name: required key is missing"]),
    "bad-mode": ("""\
        version: 1
        mode: enforcing
        """, ["2: mode: expected audit or enforce, found 'enforcing'"]),
    "yes-is-not-true": ("""\
        version: 1
        red_lines:
          - id: x
            reason: r
            may_degrade: yes
            deny: [read]
            paths: [/etc/shadow]
        """, ["5: red_lines[0].may_degrade: expected a valid boolean, found string 'yes'"]),
    "red-line-mixed-ops": ("""\
        version: 1
        red_lines:
          - id: x
            reason: r
            deny: [read, connect]
            paths: [/x]
        """, ["3: red_lines[0]: deny mixes [read] with [connect]; split them into two red lines"]),
    "connect-needs-ports": ("""\
        version: 1
        red_lines:
          - id: db
            reason: r
            deny: [connect]
        """, ["3: red_lines[0]: deny [connect] needs ports or except_ports"]),
    "write-needs-outside": ("""\
        version: 1
        red_lines:
          - id: w
            reason: r
            deny: [remove]
            paths: [/x]
        """, ["3: red_lines[0]: deny [remove] needs outside, found paths"]),
    "bad-port": ("""\
        version: 1
        red_lines:
          - id: db
            reason: r
            deny: [bind]
            ports: [80, 70000]
        """, ["6: red_lines[0].ports[1]: expected less than or equal to 65535, found integer "
              "70000"]),
    "encrypt-and-quarantine": ("""\
        version: 1
        rules:
          - name: r
            encrypt: {}
            quarantine: true
        """, ["3: rules[0]: encrypt and quarantine exclude each other (quarantine moves the "
              "file away); choose one"]),
    "bad-entity-name": ("""\
        version: 1
        classes:
          pii: [PERSON, email]
        """, ["3: classes.pii[1]: expected an entity type in upper case like US_SSN, "
              "found 'email'"]),
    "bad-root-path": ("""\
        version: 1
        roots:
          - name: ws
            path: /srv/agents/*/x
            owner: a@example.com
        """, ["4: roots[0].path: root path '/srv/agents/*/x': '*' is not allowed; a root is "
              "literal text and {placeholders} only"]),
    "duplicate-key": ("""\
        version: 1
        rules:
          - name: r
            retain: {for: 1d, from: modified}
            retain: {for: 2d, from: modified}
        """, ["5: duplicate key 'retain' (first on line 4)"]),
    "not-a-mapping": ("""\
        - version: 1
        """, ["1: expected a mapping with 'version: 1' at the top, found list"]),
    "several-errors-in-file-order": ("""\
        version: 1
        mode: on
        roots:
          - name: Bad Name
            path: /srv/{session}
            owner: a@example.com
        """, ["2: mode: expected audit or enforce, found 'on'",
              "4: roots[0].name: expected a name of lower-case letters, digits, '-', '_' or '.' "
              "(at most 63, starting with a letter or digit), found 'Bad Name'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_policy_reports_exact_location(case: str, write: Writer,
                                                policy_path: Path) -> None:
    text, expected = CASES[case]
    path = write("p.yaml", text)
    loaded, errors, _ = check(policy_path)
    assert loaded is None
    assert [str(e) for e in errors] == [f"{path}:{line}" for line in expected]
    assert all(e.file == str(path) and e.line is not None for e in errors)


def test_load_policy_raises_an_aggregate_with_every_error(write: Writer,
                                                          policy_path: Path) -> None:
    write("a.yaml", "version: 1\nmode: loud\n")
    write("b.yaml", "version: 1\nclasses:\n  x: []\n")
    with pytest.raises(PolicyErrors) as e:
        load_policy(policy_path)
    assert isinstance(e.value, PolicyError)
    assert [(Path(x.file or "").name, x.line) for x in e.value.errors] == [
        ("a.yaml", 2), ("b.yaml", 3)]
    assert str(e.value).count("\n") == 1


def test_duplicate_names_across_files(write: Writer, policy_path: Path) -> None:
    a = write("a.yaml", """\
        version: 1
        roots:
          - name: ws
            path: /srv/{session}
            owner: a@example.com
        classes:
          pii: [PERSON]
        """)
    b = write("b.yaml", """\
        version: 1
        classes:
          other: [EMAIL_ADDRESS]
          pii: [PERSON]
        roots:
          - name: ws
            path: /data/{session}
            owner: a@example.com
        """)
    _, errors, _ = check(policy_path)
    assert [str(e) for e in errors] == [
        f"{b}:4: classes.pii: class 'pii' is already defined at {a}:7",
        f"{b}:6: roots[0].name: root 'ws' is already defined at {a}:3",
    ]


def test_duplicate_rule_names_and_rules_in_two_files(write: Writer, policy_path: Path) -> None:
    a = write("a.yaml", """\
        version: 1
        mode: audit
        rules:
          - name: r
          - name: r
        """)
    b = write("b.yaml", """\
        version: 1
        mode: enforce
        rules:
          - name: s
        """)
    _, errors, _ = check(policy_path)
    assert [str(e) for e in errors] == [
        f"{a}:5: rules[1].name: rule 'r' is already defined at {a}:4",
        f"{b}:2: mode already set at {a}:2; mode may be set in one file only",
        f"{b}:3: rules (an ordered list) already set at {a}:3; rules (an ordered list) may be "
        "set in one file only",
    ]


def test_unknown_class_and_root_in_a_rule(write: Writer, policy_path: Path) -> None:
    p = write("p.yaml", """\
        version: 1
        classes:
          pii: [PERSON]
        rules:
          - name: r
            match:
              roots: [nowhere]
              classes: [pii, secret]
        """)
    _, errors, _ = check(policy_path)
    assert [str(e) for e in errors] == [
        f"{p}:7: rules[0].match.roots[0]: unknown root 'nowhere'; expected one of: "
        "(no root is defined)",
        f"{p}:8: rules[0].match.classes[1]: unknown class 'secret'; expected one of: pii",
    ]


def test_empty_directory_and_missing_directory(tmp_path: Path) -> None:
    _, errors, _ = check(tmp_path)
    assert [str(e) for e in errors] == [f"{tmp_path}: no policy files (*.yaml, *.yml) in this "
                                        "directory"]
    _, errors, _ = check(tmp_path / "nope")
    assert errors[0].file == str(tmp_path / "nope")


def test_non_utf8_file(write: Writer, policy_path: Path) -> None:
    (policy_path / "x.yaml").write_bytes(b"version: 1\nmode: \xff\n")
    _, errors, _ = check(policy_path)
    assert [str(e) for e in errors] == [
        f"{policy_path / 'x.yaml'}: expected UTF-8 text, found invalid byte at offset 17"]


def test_unreadable_file_is_reported_not_raised(write: Writer, policy_path: Path) -> None:
    write("good.yaml", "version: 1\n")
    (policy_path / "dangling.yaml").symlink_to(policy_path / "missing-target")
    _, errors, _ = check(policy_path)
    assert [str(e) for e in errors] == [
        f"{policy_path / 'dangling.yaml'}: cannot read the file: No such file or directory"]
