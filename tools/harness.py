"""Runs a program under Pulumi mocks: one harness for the tests and `make validate`.

Only the cloud boundary is mocked: the engine's resource monitor (recording each registration
with its options) and the providers' create responses (tools.mocks). Config loading and
validation, the components, the outputs contract and the policies run for real. The program
gets its config the way the language host hands it over (PULUMI_CONFIG and
PULUMI_CONFIG_SECRET_KEYS in the environment), and it runs with public SDK entry points only:
`pulumi.runtime.reset_options`, `set_mocks`, `set_all_config`, `@pulumi.runtime.test`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import yaml

from settings.accounts import ACCOUNT_ENVIRONMENT
from settings.credentials import PROVIDER_ENVIRONMENT
from settings.passwords import PROVISIONER_USER, sha256_b64
from settings.sql_login import SQL_LOGIN_ENVIRONMENT

from .mocks import (
    CLICKHOUSE_PROVIDER,
    KMS_ALIAS,
    KMS_KEY,
    RANDOM_PASSWORD,
    RANDOM_PROVIDER,
    REDIS,
    S3_BUCKET,
    SERVICE,
    TOPIC,
    UPSTASH_PROVIDER,
    PlatformMocks,
    RecordingMonitor,
    Registration,
)
from .project import PROJECT, ROOT
from .sdk_internals import inline_rpcs, pickler_restored, without_source_positions

__all__ = [
    "CLICKHOUSE_PROVIDER",
    "DELETE",
    "KMS_ALIAS",
    "KMS_KEY",
    "PLACEHOLDER_ADMIN_PASSWORD",
    "PLACEHOLDER_ENV",
    "PLACEHOLDER_SECRETS",
    "PLACEHOLDER_SQL_PASSWORD",
    "PROJECT",
    "RANDOM_PASSWORD",
    "RANDOM_PROVIDER",
    "REDIS",
    "ROOT",
    "S3_BUCKET",
    "SERVICE",
    "TOPIC",
    "UPSTASH_PROVIDER",
    "ProgramRun",
    "Registration",
    "Secret",
    "account_env",
    "engine_config",
    "read_stack_config",
    "run_program",
]

PROGRAM = ROOT / "__main__.py"

# The admin password the placeholder hash stands for. The program never gets it: tests look for
# it (and its forms) everywhere to prove that.
PLACEHOLDER_ADMIN_PASSWORD = "Placeholder-Adm1n-Pa55word!x"
# Placeholder values for what a stack file never holds in plaintext. They satisfy the
# validation rules (the hash's format, the password's complexity rule) and are obviously fake.
PLACEHOLDER_SECRETS: dict[str, str] = {
    f"{PROJECT}:clickhouseAdminPasswordHash": sha256_b64(PLACEHOLDER_ADMIN_PASSWORD),
}
# The SQL login's password in the environment (as a deploy job has it). The program never gets
# it: tests look for it in every input, output and pickled provider to prove that.
PLACEHOLDER_SQL_PASSWORD = "Placeholder-Pr0visioner-Pa55!"
# What the providers read from the environment (the program's own list), as placeholders; the SQL
# login is the deploy job's (`provisioner`).
PLACEHOLDER_ENV: dict[str, str] = {
    **{
        name: f"placeholder-{name.lower().replace('_', '-')}"
        for names in PROVIDER_ENVIRONMENT.values()
        for name in names
    },
    **dict(zip(SQL_LOGIN_ENVIRONMENT, (PROVISIONER_USER, PLACEHOLDER_SQL_PASSWORD), strict=True)),
}
# Marker for deleting a key through `overrides`.
DELETE = object()


@dataclass(frozen=True)
class Secret:
    """An override the engine reports as secret (what `pulumi config set --secret [--path]` does)."""

    value: Any


@dataclass
class ProgramRun:
    stack: str
    preview: bool = False
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    unknown_outputs: set[str] = field(default_factory=set)
    error: str | None = None

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}")
        return found[0]

    def named(self, name: str) -> Registration:
        return next(r for r in self.resources if r.name == name)


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, path: Path | None = None) -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, or of another stack file (values as YAML gives them)."""
    path = path or stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path} (committed stacks: dev, prod)")
    stat = path.stat()
    return copy.deepcopy(_parsed_config(path.resolve(), stat.st_mtime_ns, stat.st_size))


# libyaml's loader where PyYAML has it (its wheels do): the pure-Python one is ~10x slower.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=16)
def _parsed_config(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """One parse per version of a stack file (the tests read the committed ones hundreds of times)."""
    data = yaml.load(path.read_text(), Loader=_YAML_LOADER) or {}
    return dict(data.get("config") or {})


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _decrypted(value: Any) -> Any:
    """A value with every `{secure: ...}` replaced by a placeholder (what decryption would give)."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return "placeholder-secret"
        return {k: _decrypted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypted(v) for v in value]
    return value


def engine_config(
    stack_config: dict[str, Any], overrides: Mapping[str, Any] | None = None, *, project: str = PROJECT
) -> tuple[dict[str, str], list[str]]:
    """A stack's config as the engine hands it to a program: JSON strings per key, secret keys.

    Encrypted values of this project (`{secure: ...}`, at any depth) become placeholders and make
    their top-level key secret, as the engine does. The placeholder secrets are added unless the
    file or an override sets the key. `overrides` replaces whole keys (DELETE removes one,
    Secret(value) sets one the engine reports as secret; the project's secrets stay secret). Keys
    without a namespace belong to `project`.
    """
    merged: dict[str, Any] = {}
    secret: set[str] = set()

    def put(key: str, value: Any) -> None:
        full = key if ":" in key else f"{project}:{key}"
        secret.discard(full)
        if value is DELETE:
            merged.pop(full, None)
            return
        if isinstance(value, Secret):
            value = value.value
            secret.add(full)
        elif _has_secure(value):
            secret.add(full)
            whole = isinstance(value, dict) and set(value) == {"secure"}
            value = PLACEHOLDER_SECRETS.get(full, "placeholder-secret") if whole else _decrypted(value)
        merged[full] = copy.deepcopy(value)

    if project == PROJECT:
        for key, value in PLACEHOLDER_SECRETS.items():
            put(key, Secret(value))
    for key, value in stack_config.items():
        put(key, value)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        # Overriding one of the secrets keeps it secret (as `pulumi config set --secret` would).
        keep_secret = full in PLACEHOLDER_SECRETS and value is not DELETE and not isinstance(value, Secret)
        put(key, Secret(value) if keep_secret else value)
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}
    return as_strings, sorted(secret)


def account_env(config: Mapping[str, str], project: str = PROJECT) -> dict[str, str]:
    """CLICKHOUSE_ORG_ID / UPSTASH_EMAIL as the stack's `accounts` block declares them.

    By default a run holds the credentials of the stack's own accounts (as the stack's GitHub
    environment does); a test passes `env=` to simulate another account's.
    """
    try:
        accounts = json.loads(config.get(f"{project}:accounts", "{}"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(accounts, dict):
        return {}
    keys = {name: key.rpartition(".")[2] for name, (_, key) in ACCOUNT_ENVIRONMENT.items()}
    return {name: str(accounts[key]) for name, key in keys.items() if isinstance(accounts.get(key), str)}


@contextlib.contextmanager
def language_host_environment(
    config: dict[str, str], secret_keys: list[str], env: Mapping[str, str]
) -> Iterator[None]:
    """The process environment a program sees under `pulumi preview`: config, secret keys, credentials."""
    names = ["PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS", *PLACEHOLDER_ENV, *env]
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in PLACEHOLDER_ENV:
            os.environ.pop(name, None)
        os.environ.update({k: v for k, v in env.items()})
        os.environ["PULUMI_CONFIG"] = json.dumps(config)
        os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
        # What the Python language host does with them before it runs the program.
        pulumi.runtime.set_all_config(
            pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
        )
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    stack_config: dict[str, Any] | None = None,
    program: Path = PROGRAM,
    project: str = PROJECT,
    preview: bool = False,
    env: Mapping[str, str] | None = None,
) -> ProgramRun:
    """Run a program's __main__.py for `stack` under mocks; a RunError (config problems) lands in `.error`.

    The defaults run this project with Pulumi.<stack>.yaml; `program`/`project` run another one
    (bootstrap/), whose stack file is read beside it. `preview=True` runs a preview: the mocks
    return no computed outputs, so those are unknown, as in `pulumi preview`. `env` replaces the
    placeholder provider credentials (an empty value removes one); CLICKHOUSE_ORG_ID and
    UPSTASH_EMAIL default to the accounts the stack declares.
    """
    if stack_config is None:
        stack_config = read_stack_config(stack, program.parent / f"Pulumi.{stack}.yaml")
    config, secret_keys = engine_config(stack_config, overrides, project=project)
    environment = {**PLACEHOLDER_ENV, **account_env(config, project), **(env or {})}
    environment = {k: v for k, v in environment.items() if v}
    mocks = PlatformMocks(preview=preview)
    monitor = RecordingMonitor(mocks)
    run = ProgramRun(stack=stack, preview=preview)
    if str(program.parent) not in sys.path:
        sys.path.insert(0, str(program.parent))

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # the SDK's decorator is unannotated
    def execute() -> Any:
        runpy.run_path(str(program), run_name="__main__")
        return _collect_outputs(run)

    with language_host_environment(config, secret_keys, environment), inline_rpcs():
        pulumi.runtime.reset_options(project=project, stack=stack, preview=preview)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
        try:
            with pickler_restored(), without_source_positions():  # see tools/sdk_internals
                execute()
        except pulumi.RunError as exc:
            run.error = str(exc)
            run.outputs.clear()
            return run
    run.resources = list(monitor.registrations)
    return run


async def _collect_outputs(run: ProgramRun) -> None:
    """Resolve every stack output: value, and whether it is secret or unknown."""
    root = pulumi.runtime.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    for name, value in exported.items():
        out = pulumi.Output.from_input(value)
        run.outputs[name] = await out.future(with_unknowns=False)
        if await out.is_secret():
            run.secret_outputs.add(name)
        if not await out.is_known():
            run.unknown_outputs.add(name)
