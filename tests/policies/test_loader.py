"""Loading a policy directory: files, merge, revision (git + content hash), lint."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.loader import check, load_policy, split_files

Writer = Callable[[str, str], Path]

ROOTS = """\
    version: 1
    mode: enforce
    roots:
      - name: ws
        path: /srv/agents/{tenant}/sessions/{session}
        owner: a@example.com
    """
RULES = """\
    version: 1
    classes:
      pii: [PERSON]
    rules:
      - name: pii
        match: {classes: [pii]}
        retain: {for: 7d, from: session_end}
      - name: rest
    """


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "HOME": str(cwd), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def test_sections_merge_across_files(write: Writer, policy_path: Path) -> None:
    write("10-roots.yaml", ROOTS)
    write("20-rules.yml", RULES)
    loaded = load_policy(policy_path)
    assert [r.name for r in loaded.policy.rules] == ["pii", "rest"]
    assert [r.name for r in loaded.policy.roots] == ["ws"]
    assert loaded.files == (str(policy_path / "10-roots.yaml"), str(policy_path / "20-rules.yml"))
    assert str(loaded.origins["rule:rest"]) == f"{policy_path / '20-rules.yml'}:8"
    assert str(loaded.origins["root:ws"]) == f"{policy_path / '10-roots.yaml'}:4"


def test_test_files_hidden_files_and_subdirectories_are_not_policy(
        write: Writer, policy_path: Path) -> None:
    write("policy.yaml", ROOTS)
    write("policy_test.yaml", "not: a policy\n")
    write("tests/cases.yaml", "also: not a policy\n")
    write(".hidden.yaml", "broken: [\n")
    write("sub/other.yaml", "broken: [\n")
    write("README.md", "# notes\n")
    policy, tests = split_files(policy_path)
    assert [p.name for p in policy] == ["policy.yaml"]
    assert [p.name for p in tests] == ["policy_test.yaml", "cases.yaml"]
    assert load_policy(policy_path).files == (str(policy_path / "policy.yaml"),)


def test_content_hash_covers_names_and_bytes(write: Writer, policy_path: Path) -> None:
    write("a.yaml", ROOTS)
    first = load_policy(policy_path).revision.content_hash
    assert load_policy(policy_path).revision.content_hash == first
    write("a.yaml", ROOTS + "# a comment changes the bytes\n")
    second = load_policy(policy_path).revision.content_hash
    assert second != first
    (policy_path / "a.yaml").rename(policy_path / "b.yaml")
    assert load_policy(policy_path).revision.content_hash not in (first, second)
    write("b_test.yaml", "version: 1\n")  # tests are not part of the policy
    assert load_policy(policy_path).revision.content_hash not in (first, second)


def test_outside_git_the_commit_is_none(write: Writer, policy_path: Path) -> None:
    write("a.yaml", ROOTS)
    rev = load_policy(policy_path).revision
    assert (rev.commit, rev.dirty) == (None, None)
    assert len(rev.content_hash) == 64
    assert str(rev).startswith("no-git sha256:")


def test_revision_from_a_real_git_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    pol = repo / "policies"
    pol.mkdir(parents=True)
    (pol / "a.yaml").write_text(ROOTS.replace("    ", "", 1).replace("\n    ", "\n"))
    (repo / "unrelated.txt").write_text("x")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "policy")
    head = git(repo, "rev-parse", "HEAD")

    clean = load_policy(pol).revision
    assert (clean.commit, clean.dirty) == (head, False)

    (repo / "unrelated.txt").write_text("changed outside the policy directory")
    assert load_policy(pol).revision.dirty is False

    (pol / "a.yaml").write_text((pol / "a.yaml").read_text() + "# edited\n")
    loaded, errors, warnings = check(pol)
    assert not errors and loaded is not None
    assert (loaded.revision.commit, loaded.revision.dirty) == (head, True)
    assert loaded.revision.content_hash != clean.content_hash
    assert any("uncommitted changes" in str(w) for w in warnings)
    assert str(loaded.revision) == f"{head[:12]}+dirty sha256:{loaded.revision.content_hash[:12]}"

    git(repo, "commit", "-q", "-am", "edit")
    again = load_policy(pol).revision
    assert again.commit != head and again.dirty is False

    (pol / "new_test.yaml").write_text("version: 1\n")
    assert load_policy(pol).revision.dirty is True  # untracked files count


def test_git_environment_does_not_leak_in(tmp_path: Path, write: Writer, policy_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "f").write_text("x")
    git(other, "init", "-q")
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "x")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    write("a.yaml", ROOTS)
    assert load_policy(policy_path).revision.commit is None


def test_git_missing_gives_no_commit(write: Writer, policy_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    write("a.yaml", ROOTS)
    assert load_policy(policy_path).revision.commit is None


def test_lint_warnings(write: Writer, policy_path: Path) -> None:
    p = write("p.yaml", """\
        version: 1
        roots:
          - name: flat
            path: /var/cache/agents
            owner: a@example.com
        classes:
          unused: [US_SNN]
          pii: [PERSON]
        rules:
          - name: pii
            match: {classes: [pii], labels: {tenant: acme}}
            retain: {for: 1d, from: session_end}
          - name: all
          - name: never
            match: {classes: [pii]}
        """)
    loaded, errors, warnings = check(policy_path)
    assert not errors and loaded is not None
    assert [str(w) for w in warnings] == [
        f"{p}:10: warning: rule 'pii' retains from session_end, but root(s) flat have no "
        "{session} placeholder: their files have no session end and are never deleted",
        f"{p}:10: warning: rule 'pii' matches label 'tenant', which no root path defines "
        "(known: none); it can never match",
        f"{p}:14: warning: rule 'never' is unreachable: the catch-all rule 'all' comes before it",
        f"{p}:7: warning: class 'unused' is not used by any rule",
        f"{p}:7: warning: class 'unused': entity type 'US_SNN' is not emitted by any built-in "
        "recognizer; check the spelling or make sure a custom recognizer emits it",
        f"{p}:1: warning: no global 'mode:' is set; rules and red lines without their own mode "
        "only audit",
    ]


def test_lint_warns_when_the_last_rule_is_not_a_catch_all(write: Writer,
                                                          policy_path: Path) -> None:
    p = write("p.yaml", """\
        version: 1
        mode: audit
        roots:
          - name: ws
            path: /srv/{session}
            owner: a@example.com
        rules:
          - name: only
            match: {paths: ["*.csv"]}
        """)
    _, _, warnings = check(policy_path)
    assert [str(w) for w in warnings] == [
        f"{p}:8: warning: the last rule is not a catch-all (a rule without match:); files that "
        "match no rule are only recorded"]
