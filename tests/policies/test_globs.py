"""Glob validation and matching; root patterns."""

from __future__ import annotations

import pytest

from policies.globs import check_glob, check_root_pattern, expand_placeholders, glob_matches

ROOT_FILE = "/srv/agents/acme/sessions/s1/data/out/report.csv"
REL = "data/out/report.csv"


@pytest.mark.parametrize(("pattern", "hit"), [
    ("*.csv", True), ("*.CSV", False), ("report.???", True), ("*.json", False),
    ("data/**", True), ("data/*", False), ("data/*/*.csv", True), ("**/report.csv", True),
    ("**/out/**", True), ("data/**/report.csv", True), ("out/**", False),
    ("/srv/agents/**", True), ("/srv/agents/*", False), ("/srv/**/*.csv", True),
    ("[rR]eport.csv", True), ("[!r]eport.csv", False), ("data/[a-z]ut/*", True),
    ("data/[!o]ut/*", False),
    ("./data/out/report.csv", True),
])
def test_matching(pattern: str, hit: bool) -> None:
    check_glob(pattern)
    assert glob_matches(pattern, ROOT_FILE, REL) is hit


def test_star_never_crosses_a_slash_and_unknown_relative_never_matches() -> None:
    assert not glob_matches("data*", ROOT_FILE, "data/x")
    assert not glob_matches("data/**", ROOT_FILE, None)


@pytest.mark.parametrize(("pattern", "message"), [
    ("**x", "'**' must be a whole path segment"),
    ("a/b**/c", "'**' must be a whole path segment"),
    ("[abc", "never closed"),
    ("a/[b/c]", "never closed"),
    ("{a,b}.txt", "braces are not supported"),
    ("{session_dir}/x", "unknown placeholder {session_dir}"),
    ("a{b", "braces are not supported"),
    ("", "non-empty"),
    ("~/.aws/**", "only allowed in red-line paths"),
])
def test_invalid_globs(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        check_glob(pattern)
    assert message in str(e.value)


def test_red_line_globs_allow_home_and_known_placeholders() -> None:
    allowed = frozenset({"session_dir"})
    assert check_glob("~/.aws/**", allow_home=True) == "~/.aws/**"
    assert check_glob("{session_dir}/**", placeholders=allowed)
    with pytest.raises(ValueError, match="'~user' is not supported"):
        check_glob("~bob/x", allow_home=True)


@pytest.mark.parametrize(("pattern", "message"), [
    ("srv/x", "absolute"), ("/srv/x/", "trailing"), ("/srv//x", "doubled"),
    ("/srv/../x", "'..'"), ("/srv/{a}/{a}", "appears twice"), ("/srv/*/x", "'*'"),
    ("/srv/{root}", "reserved"),
])
def test_invalid_root_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        check_root_pattern(pattern)
    assert message in str(e.value)


def test_expand_placeholders_for_one_agent() -> None:
    values = {"session_dir": "/srv/a/s[1]*"}
    assert expand_placeholders("{session_dir}/**", values) == "/srv/a/s[[]1][*]/**"
    assert glob_matches(expand_placeholders("{session_dir}/**", values), "/srv/a/s[1]*/x", None)
    assert not glob_matches(expand_placeholders("{session_dir}/**", values), "/srv/a/s1x/x",
                            None)
    assert expand_placeholders("~/.aws/**", {}, home="/home/agent") == "/home/agent/.aws/**"
    with pytest.raises(ValueError, match="home directory"):
        expand_placeholders("~/.ssh/**", {})
    with pytest.raises(ValueError, match="no value for {session_dir}"):
        expand_placeholders("{session_dir}", {})
