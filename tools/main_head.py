"""Refuse to deploy a commit that is no longer main's head (the first step of `deploy (prod)`).

An approval applies to one run. Without this check, approving a pending deploy of an older run,
or re-running an old run's deploy, would apply an older commit over a newer one: a rollback no
reviewer saw. The check asks the GitHub API for refs/heads/main with the job's own read-only
token (`contents: read`) and compares it with GITHUB_SHA, the commit the job checked out.

    GH_TOKEN=... python3 -m tools.main_head      (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_SHA from Actions)
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Callable, Mapping

Fetch = Callable[[str, Mapping[str, str]], bytes]


class StaleCommit(Exception):
    """The job's commit is not main's head."""


def _fetch(url: str, headers: Mapping[str, str]) -> bytes:
    request = urllib.request.Request(url, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def main_head(environ: Mapping[str, str], fetch: Fetch = _fetch) -> str:
    api = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    url = f"{api}/repos/{environ['GITHUB_REPOSITORY']}/git/ref/heads/main"
    headers = {"Authorization": f"Bearer {environ['GH_TOKEN']}", "Accept": "application/vnd.github+json"}
    sha = json.loads(fetch(url, headers))["object"]["sha"]
    return str(sha)


def check(environ: Mapping[str, str], fetch: Fetch = _fetch) -> str:
    """main's head when it is this job's commit; StaleCommit otherwise."""
    commit = environ["GITHUB_SHA"]
    head = main_head(environ, fetch)
    if head != commit:
        raise StaleCommit(
            f"refusing to deploy {commit}: main's head is {head}. Approvals apply to one run, and "
            "this run's commit is no longer the newest: approve the deploy of the newest run "
            "instead (its plan shows that commit), or push a revert to roll back deliberately."
        )
    return head


def main(environ: Mapping[str, str] | None = None, fetch: Fetch = _fetch) -> int:
    try:
        head = check(os.environ if environ is None else environ, fetch)
    except StaleCommit as exc:
        print(f"::error::{exc}", file=sys.stderr)
        return 1
    except (KeyError, OSError, ValueError) as exc:  # fail closed: no answer is no deploy
        print(
            f"::error::cannot read main's head ({type(exc).__name__}: {exc}); not deploying", file=sys.stderr
        )
        return 1
    print(f"{head} is main's head")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
