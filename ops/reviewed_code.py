"""`make provisioner` runs only reviewed code: a clean tree whose HEAD is on the remote's main.

The admin password is typed into whatever is checked out, so before any prompt the tool checks:

1. the working tree has no uncommitted change (`git status --porcelain`: staged, unstaged and
   untracked files; ignored files such as virtualenvs do not count);
2. HEAD is contained in the remote's main (`git fetch <remote> main`, then
   `git merge-base --is-ancestor HEAD <remote>/main`): it was merged, hence reviewed.

Without network the fetch fails, and the check fails closed: the last fetched `<remote>/main`
could be stale only in the safe direction (a commit merged since is refused, never the opposite),
but a tree that cannot prove it is reviewed is refused; `--break-glass` is the way out.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

FIX = (
    "fix: commit or stash your changes, then run from a commit that is on main "
    "(`git fetch {remote} && git checkout {remote}/main`); in an emergency only, "
    "`make provisioner ... BREAK_GLASS=1` (docs/provisioning.md, break-glass)"
)


class UnreviewedCode(Exception):
    """The tree is not a reviewed commit; the message names both conditions and the fix."""


@dataclass(frozen=True)
class Verdict:
    dirty: list[str]  # the changed paths (empty: clean)
    on_main: bool
    why_not_on_main: str  # empty when on_main

    @property
    def reviewed(self) -> bool:
        return not self.dirty and self.on_main


def _git(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *argv], capture_output=True, text=True, check=False, timeout=120
    )


def inspect(root: Path, remote: str = "origin") -> Verdict:
    """Both conditions, checked with git in `root`."""
    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    if status.returncode != 0:
        raise UnreviewedCode(
            f"`git status` failed in {root}: is it a git checkout? {FIX.format(remote=remote)}"
        )
    dirty = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    fetch = _git(root, "fetch", "--quiet", remote, f"+refs/heads/main:refs/remotes/{remote}/main")
    if fetch.returncode != 0:
        return Verdict(dirty, False, f"`git fetch {remote} main` failed (no network or no such remote)")
    contained = _git(root, "merge-base", "--is-ancestor", "HEAD", f"{remote}/main")
    if contained.returncode == 0:
        return Verdict(dirty, True, "")
    head = _git(root, "rev-parse", "--short", "HEAD").stdout.strip() or "HEAD"
    return Verdict(dirty, False, f"HEAD {head} is not contained in {remote}/main")


def conditions(verdict: Verdict, remote: str = "origin") -> str:
    """Both conditions, each with whether it holds."""
    shown = ", ".join(verdict.dirty[:5]) + (", ..." if len(verdict.dirty) > 5 else "")
    clean = f"NO: uncommitted changes in {shown}" if verdict.dirty else "yes"
    on_main = "yes" if verdict.on_main else f"NO: {verdict.why_not_on_main}"
    return f"(1) working tree clean: {clean}; (2) HEAD contained in {remote}/main: {on_main}"


def message(verdict: Verdict, remote: str = "origin") -> str:
    """One error naming both conditions and the fix."""
    return (
        "make provisioner runs only reviewed code, and this checkout is not: "
        f"{conditions(verdict, remote)}. {FIX.format(remote=remote)}"
    )


def require_reviewed(root: Path, remote: str = "origin", *, break_glass: bool = False) -> str | None:
    """Raise UnreviewedCode unless the checkout is reviewed; with `break_glass`, return a warning instead."""
    verdict = inspect(root, remote)
    if verdict.reviewed:
        return None
    if not break_glass:
        raise UnreviewedCode(message(verdict, remote))
    return (
        f"WARNING: BREAK-GLASS: running code that is not a reviewed commit on main: "
        f"{conditions(verdict, remote)}. Record why in the incident, and have the change reviewed "
        "and merged (or reverted) right after."
    )
