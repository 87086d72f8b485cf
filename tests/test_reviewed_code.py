"""`make provisioner` runs only reviewed code: real git, a local bare repository as the remote."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ops import reviewed_code
from ops.reviewed_code import UnreviewedCode, require_reviewed

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *argv: str) -> str:
    result = subprocess.run(
        ["git", *argv], cwd=cwd, capture_output=True, text=True, check=True, env={**os.environ, **ENV}
    )
    return result.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone of a bare `origin` whose main holds one reviewed commit; the clone is on it."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    origin, seed, work = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(seed))
    (seed / "tool.py").write_text("print('reviewed')\n")
    (seed / ".gitignore").write_text(".venv/\n")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "reviewed")
    git(seed, "push", "--quiet", str(origin), "main")
    git(tmp_path, "clone", "--quiet", str(origin), str(work))
    return work


def test_a_clean_commit_on_main_passes(checkout: Path) -> None:
    (checkout / ".venv").mkdir()
    (checkout / ".venv" / "x").write_text("ignored files do not count")
    note = require_reviewed(checkout)
    # The operator sees which repository "reviewed" refers to.
    origin = str(checkout.parent / "origin.git")
    assert note == (
        f"reviewed code: clean tree, HEAD contained in origin/main (origin = {origin}: "
        "it must be the canonical repository, docs/provisioning.md)"
    )
    verdict = reviewed_code.inspect(checkout)
    assert verdict.reviewed and verdict.dirty == []


def test_uncommitted_changes_are_refused_naming_both_conditions(checkout: Path) -> None:
    (checkout / "tool.py").write_text("print('changed')\n")
    (checkout / "new.py").write_text("print('untracked')\n")
    with pytest.raises(UnreviewedCode) as refused:
        require_reviewed(checkout)
    message = str(refused.value)
    assert "(1) working tree clean: NO: uncommitted changes in tool.py, new.py" in message
    assert f"(2) HEAD contained in origin/main (origin = {checkout.parent / 'origin.git'}): yes" in message
    assert "fix: commit or stash" in message and "BREAK_GLASS=1" in message


def test_a_commit_not_on_main_is_refused(checkout: Path) -> None:
    git(checkout, "checkout", "--quiet", "-b", "feature")
    (checkout / "tool.py").write_text("print('unreviewed')\n")
    git(checkout, "commit", "--quiet", "-am", "unreviewed")
    head = git(checkout, "rev-parse", "--short", "HEAD")
    with pytest.raises(UnreviewedCode) as refused:
        require_reviewed(checkout)
    message = str(refused.value)
    assert "(1) working tree clean: yes" in message
    assert (
        f"origin/main (origin = {checkout.parent / 'origin.git'}): NO: HEAD {head} is not contained"
        in message
    )
    # Merged (pushed to main): now reviewed; the check fetches, so a stale origin/main is no obstacle.
    git(checkout, "push", "--quiet", "origin", "feature:main")
    assert str(require_reviewed(checkout)).startswith("reviewed code:")


def test_both_conditions_at_once_and_a_commit_behind_main_is_fine(checkout: Path) -> None:
    git(checkout, "commit", "--quiet", "--allow-empty", "-m", "local only")
    (checkout / "tool.py").write_text("print('dirty')\n")
    with pytest.raises(UnreviewedCode, match=r"clean: NO: .* origin/main \(origin = .*\): NO: HEAD"):
        require_reviewed(checkout)
    git(checkout, "checkout", "--quiet", "--", "tool.py")
    git(checkout, "reset", "--quiet", "--hard", "HEAD~1")
    # An older commit of main is contained in main: reviewed.
    git(checkout, "push", "--quiet", "origin", "HEAD:refs/heads/tmp")
    assert str(require_reviewed(checkout)).startswith("reviewed code:")


def test_no_network_fails_closed_and_break_glass_proceeds_with_a_warning(checkout: Path) -> None:
    git(checkout, "remote", "set-url", "origin", str(checkout.parent / "unreachable.git"))
    with pytest.raises(UnreviewedCode, match=r"`git fetch origin main` failed \(no network"):
        require_reviewed(checkout)
    warning = require_reviewed(checkout, break_glass=True)
    assert warning is not None and warning.startswith("WARNING: BREAK-GLASS")
    assert "fetch origin main` failed" in warning


def test_not_a_git_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreviewedCode, match="`git status` failed"):
        require_reviewed(tmp_path / "nowhere")


# -- git itself missing or hanging: a clean refusal, never a traceback --------------------------------
def fake_git(bin_dir: Path, body: str) -> None:
    """A `git` first on PATH: `body` is shell, "$@" the arguments; REAL_GIT is the real one."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def test_no_git_on_path_is_a_clean_refusal(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(checkout.parent / "empty-bin"))
    for break_glass in (False, True):  # nothing can be checked or shown: break-glass cannot help
        with pytest.raises(UnreviewedCode, match=r"`git status` could not run .*needs git on PATH"):
            require_reviewed(checkout, break_glass=break_glass)


def test_a_hanging_git_is_a_clean_refusal(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reviewed_code, "GIT_TIMEOUT", 0.5)
    bin_dir = checkout.parent / "bin"
    fake_git(bin_dir, "exec sleep 5")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UnreviewedCode, match=r"`git status` did not finish within 0.5 s .*fix: commit"):
        require_reviewed(checkout)


def test_a_hanging_fetch_is_like_no_network(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reviewed_code, "GIT_TIMEOUT", 1.0)
    real, bin_dir = shutil.which("git"), checkout.parent / "bin"
    # git -C <root> fetch ...: $3 is the command.
    fake_git(bin_dir, f'if [ "$3" = fetch ]; then exec sleep 5; fi\nexec {real} "$@"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UnreviewedCode, match=r"NO: `git fetch origin main` did not finish within 1 s"):
        require_reviewed(checkout)
    warning = require_reviewed(checkout, break_glass=True)
    assert warning is not None and warning.startswith("WARNING: BREAK-GLASS")


def test_the_tool_turns_a_missing_git_into_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Through ops.provisioner.main with the real check: exit 2, one error line, no traceback."""
    import io

    from ops import provisioner

    monkeypatch.setenv("PATH", str(tmp_path))
    err = io.StringIO()
    code = provisioner.main(["--stack", "prod"], prompt=lambda _: "", ask=lambda _: "", env={}, err=err)
    assert code == 2 and err.getvalue().startswith("error: `git status` could not run")
    assert "Traceback" not in err.getvalue()
