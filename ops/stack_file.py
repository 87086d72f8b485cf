"""What `make provisioner` reads from Pulumi.<stack>.yaml and the stack's outputs, checked.

The tool reads the file itself (no Pulumi engine, no decryption): the database name and, during the
namespace migration, the consumers' former SQL user names. A user's mistake there (a YAML syntax
error, `dataWarehouse: analytics` instead of a mapping, a consumer that is not a mapping, a port
output that is not a number) is one ProvisionerError naming the file and key, the bad value, the
rule and the fix, with every problem of the file together; never a traceback. Values under a
`secure:` key are never shown, and a YAML syntax error is reported by line and column only (the
parser's excerpt of the line could hold a value).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ops.provisioner_sql import ProvisionerError
from settings.consumers import legacy_sql_user_name
from settings.rules import SQL_NAME

DEFAULT_DATABASE = "analytics"
CLICKHOUSE_ACCESS = ("read", "write")
_SHOWN_MAX = 60
SECRET_RULE = "is stored as a secret, but it holds no secret and the program reads it as a plain mapping"
SECRET_FIX = (
    "store it in plain text: `pulumi config rm {key} --stack {stack}`, then write it back as a mapping"
)


def _secret(value: Any) -> bool:
    """A `pulumi config set --secret` value: `{secure: <ciphertext>}`."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def shown(value: Any) -> str:
    """A value for an error message: secrets (`secure:`) redacted, long values cut."""
    if _secret(value):
        return "<secret>"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


@dataclass
class _Problems:
    where: str  # the file name
    fix: str  # how to check the whole file
    found: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any, rule: str, fix: str) -> None:
        self.found.append(f"  - {key} = {shown(value)}: {rule}\n      fix: {fix}")

    def raise_any(self) -> None:
        if self.found:
            raise ProvisionerError(
                f"{self.where} has {len(self.found)} problem(s) `make provisioner` cannot work around:\n"
                + "\n".join(self.found)
                + f"\n{self.fix}"
            )


@dataclass(frozen=True)
class StackFile:
    """The values `make provisioner` takes from Pulumi.<stack>.yaml."""

    database: str
    legacy_users: list[str]


def _config(path: Path, problems: _Problems) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ProvisionerError(f"cannot read {path.name}: {reason}; {problems.fix}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ProvisionerError(
            f"{path.name} is not valid YAML ({at}: {problem}): fix the syntax there "
            f"(indentation, a `key: value` per line, quotes around values with ': '); {problems.fix}"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        problems.add(
            "(the whole file)", document, "must be a mapping with a `config:` key",
            "restore the file from main (`git checkout origin/main -- " + path.name + "`)",
        )  # fmt: skip
        return {}
    config = document.get("config") or {}
    if not isinstance(config, dict):
        rule = "must be a mapping of `<project>:<key>: value`"
        problems.add("config", config, rule, "restore it from main")
        return {}
    return config


def read(path: Path, project: str, *, legacy: bool) -> StackFile:
    """The database and (with `legacy`) the former user names, or one error with every problem."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    problems = _Problems(path.name, f"check the whole file with `make validate STACK={stack}`")
    config = _config(path, problems)
    warehouse_key, consumers_key = f"{project}:dataWarehouse", f"{project}:consumers"
    warehouse = config.get(warehouse_key)
    database: Any = DEFAULT_DATABASE
    if _secret(warehouse):
        problems.add(warehouse_key, warehouse, SECRET_RULE, SECRET_FIX.format(key=warehouse_key, stack=stack))
    elif warehouse is not None and not isinstance(warehouse, dict):
        problems.add(
            warehouse_key, warehouse, "must be a mapping of the warehouse's settings, not a single value",
            f"write it as a mapping, e.g. `{warehouse_key}:` then, indented, `database: analytics`",
        )  # fmt: skip
    elif isinstance(warehouse, dict) and "database" in warehouse:
        database = warehouse["database"]
        if not isinstance(database, str) or not SQL_NAME.match(database):
            problems.add(
                f"{warehouse_key}.database", database,
                "must be a ClickHouse database name: lowercase letters, digits, '_' (max 63), "
                "starting with a letter",
                f"set it to the database the consumers use, e.g. `database: {DEFAULT_DATABASE}`",
            )  # fmt: skip
    legacy_users: list[str] = []
    consumers = config.get(consumers_key)
    if legacy and _secret(consumers):
        problems.add(consumers_key, consumers, SECRET_RULE, SECRET_FIX.format(key=consumers_key, stack=stack))
    elif legacy:
        legacy_users = _legacy_users(consumers, consumers_key, problems)
    problems.raise_any()
    return StackFile(str(database), legacy_users)


def _legacy_users(consumers: Any, key: str, problems: _Problems) -> list[str]:
    """The former user names of the consumers with a ClickHouse user (`app`, `data_pipeline`)."""
    if consumers is None:
        return []
    if not isinstance(consumers, dict):
        problems.add(
            key, consumers, "must be a mapping of consumer name to its access",
            f"write it as a mapping, e.g. `{key}:` then, indented, `app: {{clickhouse: read}}`",
        )  # fmt: skip
        return []
    names: list[str] = []
    for name, consumer in consumers.items():
        if not isinstance(name, str):
            problems.add(f"{key} (a consumer name)", name, "must be a text name", "quote it or rename it")
        elif not isinstance(consumer, dict):
            problems.add(
                f"{key}.{name}", consumer, "must be a mapping of the consumer's access",
                f"write it as a mapping, e.g. `{name}: {{clickhouse: read, redis: none}}`",
            )  # fmt: skip
        elif consumer.get("clickhouse") in CLICKHOUSE_ACCESS:
            names.append(legacy_sql_user_name(name))
    return names


def endpoint(outputs_json: str, stack: str) -> tuple[str, int]:
    """host and HTTPS port from `pulumi stack output --json`, checked."""
    fix = f"pass them yourself: `make provisioner STACK={stack} HOST=<host> PORT=<https port>`"
    try:
        outputs = json.loads(outputs_json or "{}")
    except json.JSONDecodeError:
        command = f"`pulumi stack output --json --stack {stack}`"
        raise ProvisionerError(f"{command} did not print JSON; {fix}") from None
    if not isinstance(outputs, dict):
        raise ProvisionerError(f"`pulumi stack output --json --stack {stack}` is not a mapping; {fix}")
    host, port = outputs.get("clickhouse_host"), outputs.get("clickhouse_https_port")
    if not host or not port:
        raise ProvisionerError(
            f"stack {stack!r} has no clickhouse_host/clickhouse_https_port output yet "
            f"(run `pulumi up` first); or {fix}"
        )
    return str(host), checked_port(port, f"the output clickhouse_https_port of stack {stack!r}", fix)


def checked_port(port: Any, key: str, fix: str) -> int:
    """A TCP port (1-65535), or a clean error naming `key` and the value."""
    number: int | None = None
    if isinstance(port, int) and not isinstance(port, bool):
        number = port
    elif isinstance(port, str) and port.strip().isdigit():
        number = int(port.strip())
    if number is None or not 1 <= number <= 65535:
        raise ProvisionerError(f"{key} = {shown(port)}: must be a TCP port number (1-65535); {fix}")
    return number
