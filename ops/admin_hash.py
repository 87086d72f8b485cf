"""`make admin-hash`: the ClickHouse admin password's hash for `clickhouseAdminPasswordHash`.

    make -s admin-hash STACK=prod |
      pulumi config set --secret salla-analytics-infra:clickhouseAdminPasswordHash --stack prod

Prompts twice for the password (getpass: nothing echoed, nothing stored), checks the complexity
rule, and prints only the hash (base64 of the SHA-256 digest, what the service's `password_hash`
takes) on stdout, so it can be piped; the hint goes to stderr. The password itself never reaches
stdout, stderr, an error message or a file, and the hash never reaches a command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from settings.passwords import password_problems, sha256_b64
from tools.project import PROJECT

KEY = f"{PROJECT}:clickhouseAdminPasswordHash"


def main(
    argv: Sequence[str] | None = None,
    *,
    prompt: Callable[[str], str] = getpass.getpass,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="make admin-hash", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="<stack>", help="the stack the hint's command names")
    stack: str = parser.parse_args(argv).stack
    try:
        password = prompt("ClickHouse admin (default) password: ")
        again = prompt("The same password again: ")
    except (EOFError, KeyboardInterrupt):
        print("\nstopped: no input (the prompts need a terminal); nothing was printed", file=err)
        return 1
    if again != password:
        print("error: the two passwords differ; nothing was printed", file=err)
        return 1
    if missing := password_problems(password):
        print(
            "error: the password does not meet the complexity rule; it needs " + ", ".join(missing), file=err
        )
        return 1
    print(sha256_b64(password), file=out)
    print(
        "set it (the hash, never the password) as the stack's secret, without putting it on a command line:\n"
        f"  make -s admin-hash STACK={stack} | pulumi config set --secret {KEY} --stack {stack}\n"
        "then `pulumi up`, and keep the password itself in the team password manager only.",
        file=err,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
