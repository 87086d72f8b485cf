"""Turn a stack's outputs contract into the environment variables the consumer services read.

    python -m tools.outputs --stack prod --format dotenv        # -> outputs/prod.env
    python -m tools.outputs --stack dev --format json --out /secure/dev.json

The values come from `pulumi stack output --json --show-secrets` (run without a shell, from the
repository root so Pulumi.yaml's backend applies). The file is written atomically with mode
0600; nothing but its path and the variable names is ever printed. `outputs/` and `*.env` are
git-ignored, and a path inside this work tree that git does not ignore is refused.

Variable names (one per contract output, no aliases):

- ClickHouse: CLICKHOUSE_URL (the full https connection string, with credentials),
  CLICKHOUSE_HOST, CLICKHOUSE_HTTPS_PORT, CLICKHOUSE_SERVICE_ID.
- Redis: REDIS_URL (rediss:// for TCP clients). The REST endpoint and tokens use the names
  Upstash documents and `Redis.fromEnv()` of @upstash/redis reads: UPSTASH_REDIS_REST_URL and
  UPSTASH_REDIS_REST_TOKEN; the read-only token follows the same family:
  UPSTASH_REDIS_REST_READ_ONLY_TOKEN.
- QStash: QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY (the names the
  @upstash/qstash client and Receiver examples use) and QSTASH_TOPICS (topic names,
  comma-separated).

dotenv dialect: every value is double-quoted; backslash, double quote, `$` and backtick are
backslash-escaped and CR/LF are written as \\r/\\n. A file written this way can be sourced by
bash (`set -a; . outputs/prod.env`) without any expansion or command substitution, and dotenv
parsers read it unchanged for the characters these values actually contain (URLs with
percent-encoded credentials, tokens, host names). Parsers disagree on escapes, so a value that
ever needs one should be read from the json format instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal, get_args

from stack.contract import OUTPUTS

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_DIR: Final = ROOT / "outputs"

Format = Literal["dotenv", "json"]
FORMATS: Final[tuple[str, ...]] = get_args(Format)
EXTENSIONS: Final[dict[str, str]] = {"dotenv": "env", "json": "json"}

# contract output name -> environment variable name
ENV_VARS: Final[dict[str, str]] = {
    "clickhouse_connection_string": "CLICKHOUSE_URL",
    "clickhouse_host": "CLICKHOUSE_HOST",
    "clickhouse_https_port": "CLICKHOUSE_HTTPS_PORT",
    "clickhouse_service_id": "CLICKHOUSE_SERVICE_ID",
    "redis_url": "REDIS_URL",
    "redis_rest_url": "UPSTASH_REDIS_REST_URL",
    "redis_token": "UPSTASH_REDIS_REST_TOKEN",
    "redis_read_only_token": "UPSTASH_REDIS_REST_READ_ONLY_TOKEN",
    "qstash_token": "QSTASH_TOKEN",
    "qstash_current_signing_key": "QSTASH_CURRENT_SIGNING_KEY",
    "qstash_next_signing_key": "QSTASH_NEXT_SIGNING_KEY",
    "qstash_topics": "QSTASH_TOPICS",
}

ENV_NAME: Final = re.compile(r"^[A-Z_][A-Z0-9_]*$")
STACK_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+){0,2}$")
# What `pulumi stack output` prints for a secret when --show-secrets did not take effect.
SECRET_PLACEHOLDER: Final = "[secret]"
_DOTENV_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`", "\n": "\\n", "\r": "\\r"}


class OutputsError(Exception):
    """A problem with the stack's outputs or the destination; the message holds no value."""


def _as_text(name: str, value: object) -> str:
    """One output as an environment variable string (problems name the output, never the value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        items = [str(item) for item in value if isinstance(item, str | int)]
        if len(items) != len(value) or any("," in item for item in items):
            raise OutputsError(f"output {name!r} must be a list of names without commas")
        return ",".join(items)
    raise OutputsError(f"output {name!r} has an unexpected type ({type(value).__name__})")


def env_values(outputs: Mapping[str, object]) -> dict[str, str]:
    """Map stack outputs to environment variables; every contract output must be present."""
    unmapped = sorted(set(OUTPUTS) - set(ENV_VARS))
    if unmapped:
        raise OutputsError("contract outputs without an environment variable: " + ", ".join(unmapped))
    missing = sorted(name for name in ENV_VARS if outputs.get(name) is None)
    if missing:
        raise OutputsError(
            "the stack is missing contract outputs: "
            + ", ".join(missing)
            + " (run `pulumi up` for the stack, or see the outputs contract in contract.py)"
        )
    hidden = sorted(name for name in ENV_VARS if outputs[name] == SECRET_PLACEHOLDER)
    if hidden:
        raise OutputsError(
            "secret outputs came back masked (was --show-secrets ignored?): " + ", ".join(hidden)
        )
    return {env: _as_text(name, outputs[name]) for name, env in ENV_VARS.items()}


def _dotenv_quote(value: str) -> str:
    return '"' + "".join(_DOTENV_ESCAPES.get(ch, ch) for ch in value) + '"'


def render_dotenv(values: Mapping[str, str]) -> str:
    lines = ["# Generated by `make outputs` - contains secrets, never commit or share."]
    for key, value in values.items():
        if not ENV_NAME.match(key):
            raise OutputsError(f"{key!r} is not a valid environment variable name")
        lines.append(f"{key}={_dotenv_quote(value)}")
    return "\n".join(lines) + "\n"


def render_json(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), indent=2) + "\n"


def render(values: Mapping[str, str], fmt: Format) -> str:
    return render_dotenv(values) if fmt == "dotenv" else render_json(values)


def read_stack_outputs(stack: str) -> dict[str, object]:
    """`pulumi stack output --json --show-secrets` for the stack, parsed (no shell involved)."""
    if not STACK_NAME.match(stack):
        raise OutputsError(f"{stack!r} is not a stack name")
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise OutputsError("the pulumi CLI is not on PATH")
    argv = [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # pulumi's own error text (no stack output on failure), trimmed.
        detail = result.stderr.strip().splitlines()[-1:] or ["no error text"]
        raise OutputsError(
            f"`pulumi stack output` failed for stack {stack!r} (exit {result.returncode}): {detail[0]}"
        )
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise OutputsError("`pulumi stack output --json` did not print JSON") from None
    if not isinstance(parsed, dict):
        raise OutputsError("`pulumi stack output --json` did not print a JSON object")
    return {str(k): v for k, v in parsed.items()}


def default_path(stack: str, fmt: Format) -> Path:
    return DEFAULT_DIR / f"{stack.replace('/', '-')}.{EXTENSIONS[fmt]}"


def _refuse_tracked_location(path: Path) -> None:
    """Refuse a destination inside this git work tree that git would not ignore (or that is tracked)."""
    try:
        path.resolve().relative_to(ROOT)
    except ValueError:
        return  # outside the work tree
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return
    check = subprocess.run(
        [git, "check-ignore", "--quiet", str(path.resolve())],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if check.returncode == 1:
        raise OutputsError(
            f"refusing to write secrets to {path}: it is inside the work tree and not git-ignored "
            "(use the default outputs/ directory or a path outside the repository)"
        )


def write_private(path: Path, content: str) -> None:
    """Write `content` to `path` atomically, readable by the owner only (0600).

    The data goes to a new temporary file in the same directory, created with O_EXCL and mode
    0600, and is then renamed over the destination, so no reader ever sees a partial file or a
    wider mode, and an existing file (or symlink) at the path is replaced, not written through.
    """
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # independent of the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make outputs",
        description="Write a stack's outputs contract as consumer environment variables (mode 0600).",
    )
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument("--format", choices=FORMATS, default="dotenv", help="file format (default dotenv)")
    parser.add_argument("--out", type=Path, help="destination (default outputs/<stack>.env or .json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stack: str = args.stack
    fmt: Format = "json" if args.format == "json" else "dotenv"
    out: Path = args.out if args.out is not None else default_path(stack, fmt)
    try:
        _refuse_tracked_location(out)
        values = env_values(read_stack_outputs(stack))
        write_private(out, render(values, fmt))
    except (OutputsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} (mode 0600, {fmt}) for stack {stack}: {', '.join(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
