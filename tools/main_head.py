"""Refuse to deploy a commit that is no longer main's head (the first step of `deploy (prod)`).

An approval applies to one run. Without this check, approving a pending deploy of an older run,
or re-running an old run's deploy, would apply an older commit over a newer one: a rollback no
reviewer saw. The check asks the GitHub API for refs/heads/main with the job's own read-only
token (`contents: read`) and compares it with GITHUB_SHA, the commit the job checked out.

    GH_TOKEN=... python3 -m tools.main_head      (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_SHA from Actions)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from tools.github_api import Api, github_api


class StaleCommit(Exception):
    """The job's commit is not main's head."""


def main_head(environ: Mapping[str, str], api: Api | None = None) -> str:
    api = api or github_api(environ)
    ref = api("GET", f"/repos/{environ['GITHUB_REPOSITORY']}/git/ref/heads/main", None)
    return str(ref["object"]["sha"])


def check(environ: Mapping[str, str], api: Api | None = None) -> str:
    """main's head when it is this job's commit; StaleCommit otherwise."""
    commit = environ["GITHUB_SHA"]
    head = main_head(environ, api)
    if head != commit:
        raise StaleCommit(
            f"refusing to deploy {commit}: main's head is {head}. Approvals apply to one run, and "
            "this run's commit is no longer the newest: approve the deploy of the newest run "
            "instead (its plan shows that commit), or push a revert to roll back deliberately."
        )
    return head


def main(environ: Mapping[str, str] | None = None, api: Api | None = None) -> int:
    try:
        head = check(os.environ if environ is None else environ, api)
    except StaleCommit as exc:
        print(f"::error::{exc}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, OSError, ValueError) as exc:  # fail closed: no answer is no deploy
        print(
            f"::error::cannot read main's head ({type(exc).__name__}: {exc}); not deploying", file=sys.stderr
        )
        return 1
    print(f"{head} is main's head")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
