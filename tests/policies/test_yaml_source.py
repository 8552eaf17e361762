"""The line-keeping YAML loader used for policies and the node config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from policies.yaml_source import (
    errors_from_validation,
    load_yaml_text,
    load_yaml_with_lines,
    validate,
)
from scratchwarden.errors import ConfigError, PolicyError, PolicyErrors

DOC = """\
version: 1
roots:
  - name: ws
    path: /srv
  - name: other
    exclude:
      - "*.tmp"
      - "*.lock"
nested:
  deep:
    key: value
"""


def test_lines_of_keys_and_values() -> None:
    data, lines = load_yaml_text(DOC, "p.yaml")
    assert data["roots"][1]["exclude"] == ["*.tmp", "*.lock"]
    assert lines.line(("version",)) == 1
    assert lines.line(("roots",)) == 2
    assert lines.line(("roots", 0)) == 3
    assert lines.line(("roots", 0, "path")) == 4
    assert lines.line(("roots", 1, "exclude")) == 6
    assert lines.line(("roots", 1, "exclude", 1)) == 8
    assert lines.line(("nested", "deep", "key")) == 11


def test_unknown_path_falls_back_to_nearest_ancestor() -> None:
    _, lines = load_yaml_text(DOC, "p.yaml")
    assert lines.line(("roots", 1, "owner")) == 5  # the item that lacks the key
    assert lines.line(("nope",)) == 1


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(PolicyError) as e:
        load_yaml_text("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")
    assert str(e.value) == "d.yaml:4: duplicate key 'c' (first on line 3)"
    assert (e.value.file, e.value.line) == ("d.yaml", 4)


def test_syntax_error_has_file_and_line() -> None:
    with pytest.raises(PolicyError) as e:
        load_yaml_text("a: 1\nb: [1, 2\nc: 3\n", "s.yaml")
    assert e.value.file == "s.yaml" and e.value.line == 3
    assert "YAML syntax error" in str(e.value)


def test_tab_indentation_is_a_syntax_error_with_line() -> None:
    with pytest.raises(PolicyError) as e:
        load_yaml_text("a:\n\tb: 1\n", "t.yaml")
    assert e.value.line == 2


def test_error_class_is_a_parameter(tmp_path: Path) -> None:
    p = tmp_path / "node.yaml"
    p.write_text("x: 1\nx: 2\n")
    with pytest.raises(ConfigError) as e:
        load_yaml_with_lines(p, error=ConfigError)
    assert str(e.value) == f"{p}:2: duplicate key 'x' (first on line 1)"


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as e:
        load_yaml_with_lines(tmp_path / "missing.yaml")
    assert "cannot read the file" in str(e.value)


@pytest.mark.parametrize(("text", "value"), [
    ("v: yes", "yes"), ("v: no", "no"), ("v: on", "on"), ("v: off", "off"),
    ("v: true", True), ("v: false", False), ("v: 1:30", "1:30"), ("v: 010", 10),
    ("v: 0x1f", 31), ("v: 1.5", 1.5), ("v: null", None), ("v: ~", None), ("v: 10m", "10m"),
])
def test_yaml_1_2_scalars(text: str, value: object) -> None:
    data, _ = load_yaml_text(text, "x.yaml")
    assert data["v"] == value and type(data["v"]) is type(value)


def test_merge_keys_are_rejected() -> None:
    text = "base: &b {a: 1}\nitem:\n  <<: *b\n  c: 2\n"
    with pytest.raises(PolicyError) as e:
        load_yaml_text(text, "m.yaml")
    assert e.value.line == 3 and "merge keys" in str(e.value)


def test_aliases_are_expanded_and_recursion_rejected() -> None:
    data, _ = load_yaml_text("a: &x [1, 2]\nb: *x\n", "a.yaml")
    assert data == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(PolicyError, match="recursive"):
        load_yaml_text("a: &x [1, *x]\n", "r.yaml")


def test_multiple_documents_rejected() -> None:
    with pytest.raises(PolicyError) as e:
        load_yaml_text("a: 1\n---\nb: 2\n", "m.yaml")
    assert e.value.line == 2


def test_empty_file_is_none() -> None:
    assert load_yaml_text("# only a comment\n", "e.yaml")[0] is None


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    port: int
    password: str


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int
    db: _Inner


def test_validation_errors_get_lines_and_can_hide_values() -> None:
    text = "version: 1\ndb:\n  port: 'hunter2-secret'\n  pasword: x\n"
    data, lines = load_yaml_text(text, "node.yaml")
    with pytest.raises(ValidationError) as e:
        _Config.model_validate(data)
    errors = errors_from_validation(e.value, lines, error=ConfigError, show_values=False,
                                    model=_Config)
    assert all(isinstance(x, ConfigError) for x in errors)
    rendered = [str(x) for x in errors]
    assert rendered == [
        "node.yaml:2: db.password: required key is missing",
        "node.yaml:3: db.port: expected a valid integer, found string",
        "node.yaml:4: db.pasword: unknown key (check the spelling); expected one of: "
        "password, port",
    ]
    assert not any("hunter2" in r for r in rendered)


def test_validate_raises_one_located_error_listing_all() -> None:
    text = "version: 1\ndb:\n  port: 'x'\n  pasword: x\n"
    data, lines = load_yaml_text(text, "node.yaml")
    with pytest.raises(ConfigError) as e:
        validate(_Config, data, lines, error=ConfigError, show_values=False)
    assert (e.value.file, e.value.line) == ("node.yaml", 2)
    assert str(e.value).splitlines() == [
        "node.yaml:2: db.password: required key is missing",
        "node.yaml:3: db.port: expected a valid integer, found string",
        "node.yaml:4: db.pasword: unknown key (check the spelling); expected one of: "
        "password, port",
    ]
    assert validate(_Config, {"version": 1, "db": {"port": 1, "password": "p"}},
                    lines).db.port == 1


def test_validate_policy_errors_aggregate() -> None:
    data, lines = load_yaml_text("version: x\n", "p.yaml")
    with pytest.raises(PolicyErrors) as e:
        validate(_Config, data, lines)
    assert [x.line for x in e.value.errors] == [1, 1]
