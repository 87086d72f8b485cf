"""`make provisioner` runs only reviewed code: a clean tree whose HEAD is on the remote's main.

The admin password is typed into whatever is checked out, so before any prompt the tool checks:

1. the working tree has no uncommitted change (`git status --porcelain`: staged, unstaged and
   untracked files; ignored files such as virtualenvs do not count);
2. HEAD is contained in the remote's main (`git fetch <remote> main`, then
   `git merge-base --is-ancestor HEAD <remote>/main`): it was merged, hence reviewed.

Without network the fetch fails, and the check fails closed: the last fetched `<remote>/main`
could be stale only in the safe direction (a commit merged since is refused, never the opposite),
but a tree that cannot prove it is reviewed is refused; `--break-glass` is the way out. A git
that is missing or hangs is a clean refusal too (a hanging fetch counts as no network).

This guards against accidents (running a local edit or an unmerged branch with the admin
password), not against an attacker who controls the checkout: it trusts the checkout's own git
binary, its `.git` and its remote's URL, any of which such a person could change. So the remote
must be the canonical repository: its URL is shown on every run for the operator to compare.
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


GIT_TIMEOUT = 120.0  # seconds, per git command


class UnreviewedCode(Exception):
    """The tree is not a reviewed commit; the message names both conditions and the fix."""


class _GitTimedOut(UnreviewedCode):
    """A git command did not finish within GIT_TIMEOUT."""


@dataclass(frozen=True)
class Verdict:
    dirty: list[str]  # the changed paths (empty: clean)
    on_main: bool
    why_not_on_main: str  # empty when on_main
    remote_url: str = "(not set)"  # the remote's URL in this checkout: it should be the canonical repository

    @property
    def reviewed(self) -> bool:
        return not self.dirty and self.on_main


def _git(root: Path, *argv: str, remote: str = "origin") -> subprocess.CompletedProcess[str]:
    """One git command; a missing git or a hang is an UnreviewedCode naming the command and the fix."""
    command = f"git {argv[0]}"
    try:
        return subprocess.run(
            ["git", "-C", str(root), *argv], capture_output=True, text=True, check=False, timeout=GIT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise _GitTimedOut(
            f"`{command}` did not finish within {GIT_TIMEOUT:g} s in {root}, so make provisioner cannot "
            f"tell whether this checkout is reviewed code. {FIX.format(remote=remote)}"
        ) from None
    except OSError as exc:  # FileNotFoundError: no git on PATH
        raise UnreviewedCode(
            f"`{command}` could not run ({exc.strerror or type(exc).__name__}): make provisioner checks "
            "with git that it runs reviewed code, so it needs git on PATH. fix: install git (or fix "
            f"PATH) and run it from a clone of the repository; {FIX.format(remote=remote)}"
        ) from None


def origin_url(root: Path, remote: str = "origin") -> str:
    """The remote's URL as configured in this checkout (shown, so the operator can compare it)."""
    found = _git(root, "config", "--get", f"remote.{remote}.url", remote=remote).stdout.strip()
    return found or "(not set)"


def inspect(root: Path, remote: str = "origin") -> Verdict:
    """Both conditions, checked with git in `root`."""
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", remote=remote)
    if status.returncode != 0:
        raise UnreviewedCode(
            f"`git status` failed in {root}: is it a git checkout? {FIX.format(remote=remote)}"
        )
    dirty = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    url = origin_url(root, remote)
    try:
        fetch = _git(root, "fetch", "--quiet", remote, f"+refs/heads/main:refs/remotes/{remote}/main")
    except _GitTimedOut:  # a hanging network: like no network (break-glass may proceed)
        why = f"`git fetch {remote} main` did not finish within {GIT_TIMEOUT:g} s (slow or no network)"
        return Verdict(dirty, False, why, url)
    if fetch.returncode != 0:
        why = f"`git fetch {remote} main` failed (no network or no such remote)"
        return Verdict(dirty, False, why, url)
    contained = _git(root, "merge-base", "--is-ancestor", "HEAD", f"{remote}/main", remote=remote)
    if contained.returncode == 0:
        return Verdict(dirty, True, "", url)
    head = _git(root, "rev-parse", "--short", "HEAD", remote=remote).stdout.strip() or "HEAD"
    return Verdict(dirty, False, f"HEAD {head} is not contained in {remote}/main", url)


def conditions(verdict: Verdict, remote: str = "origin") -> str:
    """Both conditions, each with whether it holds."""
    shown = ", ".join(verdict.dirty[:5]) + (", ..." if len(verdict.dirty) > 5 else "")
    clean = f"NO: uncommitted changes in {shown}" if verdict.dirty else "yes"
    on_main = "yes" if verdict.on_main else f"NO: {verdict.why_not_on_main}"
    return (
        f"(1) working tree clean: {clean}; (2) HEAD contained in {remote}/main ({remote} = "
        f"{verdict.remote_url}): {on_main}"
    )


def message(verdict: Verdict, remote: str = "origin") -> str:
    """One error naming both conditions and the fix."""
    return (
        "make provisioner runs only reviewed code, and this checkout is not: "
        f"{conditions(verdict, remote)}. {FIX.format(remote=remote)}"
    )


def require_reviewed(root: Path, remote: str = "origin", *, break_glass: bool = False) -> str | None:
    """Raise UnreviewedCode unless the checkout is reviewed (with `break_glass`, return a warning
    instead); for reviewed code, a note naming the remote's URL, which the operator should see."""
    verdict = inspect(root, remote)
    if verdict.reviewed:
        return (
            f"reviewed code: clean tree, HEAD contained in {remote}/main ({remote} = {verdict.remote_url}: "
            "it must be the canonical repository, docs/provisioning.md)"
        )
    if not break_glass:
        raise UnreviewedCode(message(verdict, remote))
    return (
        f"WARNING: BREAK-GLASS: running code that is not a reviewed commit on main: "
        f"{conditions(verdict, remote)}. Record why in the incident, and have the change reviewed "
        "and merged (or reverted) right after."
    )
