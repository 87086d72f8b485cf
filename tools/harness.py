"""Runs the real program under Pulumi mocks: one harness for the tests and `make validate`.

Only the cloud boundary is mocked: the engine's resource monitor (recording every
registration with its options) and the providers' create responses (provider-shaped outputs).
Config loading, validation, the components and the outputs contract run for real.
"""

from __future__ import annotations

import copy
import hashlib
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
PROJECT = "salla-analytics-infra"

# Resource type tokens as the engine sees them.
SERVICE = "clickhouse:index/service:Service"
REDIS = "upstash:index/redisDatabase:RedisDatabase"
TOPIC = "upstash:index/qStashTopicV2:QStashTopicV2"
CLICKHOUSE_PROVIDER = "pulumi:providers:clickhouse"
UPSTASH_PROVIDER = "pulumi:providers:upstash"
# AWS resources of the bootstrap project (bootstrap/: the state bucket and its KMS key).
S3_BUCKET = "aws:s3/bucket:Bucket"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
MOCK_ACCOUNT = "000000000000"

# Placeholder values for what a stack file never holds in plaintext. They satisfy the
# validation rules (the password meets the complexity rule) and are obviously fake.
PLACEHOLDER_SECRETS: dict[str, str] = {
    f"{PROJECT}:clickhouseAdminPassword": "Placeholder-Pa55word!x",
    f"{PROJECT}:qstashToken": "placeholder-qstash-token",
    f"{PROJECT}:qstashCurrentSigningKey": "sig_placeholder_current",
    f"{PROJECT}:qstashNextSigningKey": "sig_placeholder_next",
    "clickhouse:tokenSecret": "placeholder-token-secret",
    "upstash:apiKey": "placeholder-api-key",
}
PLACEHOLDER_PLAIN: dict[str, str] = {
    "clickhouse:organizationId": "00000000-0000-0000-0000-000000000000",
    "clickhouse:tokenKey": "placeholder-token-key",
    "upstash:email": "platform@example.com",
}
# Marker for deleting a key through `overrides`.
DELETE = object()
_SECRET_SIG = rpc._special_secret_sig  # "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = rpc._special_sig_key


@dataclass(frozen=True)
class Registration:
    """One resource as the engine would have received it."""

    urn: str
    id: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    protect: bool
    inputs: dict[str, Any]  # camelCase, as the SDK sent them (secrets still wrapped)
    wire_inputs: dict[str, Any]  # the same, in the JSON form the policy analyzer receives
    secret_inputs: frozenset[str]  # top-level input names that arrived as secrets
    state: dict[str, Any]
    wire_state: dict[str, Any] = field(default_factory=dict)  # outputs, as stack policies get them


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    error: str | None = None

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


def _fake_hex(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class PlatformMocks(pulumi.runtime.Mocks):
    """Provider-shaped create responses for the resources this project uses."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == SERVICE:
            sid = (
                _fake_hex(args.name, "service", length=8)
                + "-0000-4000-8000-"
                + _fake_hex(args.name, length=12)
            )
            region, cloud = inputs.get("region", "us-east-1"), inputs.get("cloudProvider", "aws")
            host = f"{_fake_hex(args.name, 'host', length=10)}.{region}.{cloud}.clickhouse.cloud"
            state = {
                **inputs,
                "endpoints": {
                    "https": {"host": host, "port": 8443},
                    "nativesecure": {"host": host, "port": 9440},
                    "mysql": {"enabled": False},
                },
                "isPrimary": True,
                "iamRole": f"arn:aws:iam::000000000000:role/CH-S3-{sid[:8]}",
            }
            return sid, state
        if args.typ == REDIS:
            db = _fake_hex(args.name, "redis", length=8)
            endpoint = f"{inputs.get('databaseName', 'db')}-{db[:5]}.upstash.io"
            return db, {
                **inputs,
                "databaseId": db,
                "endpoint": endpoint,
                "port": 6379,
                "password": "mockRedisPassw0rd/" + db,
                "restToken": "mock-rest-token-" + db,
                "readOnlyRestToken": "mock-ro-rest-token-" + db,
                "state": "active",
                "databaseType": "Pay as You Go",
                "userEmail": "platform@example.com",
            }
        if args.typ == TOPIC:
            return inputs.get("name", args.name), {**inputs, "createdAt": 1, "updatedAt": 1}
        if args.typ == S3_BUCKET:
            bucket = inputs.get("bucket") or f"{args.name}-{_fake_hex(args.name, length=7)}"
            region = inputs.get("region", "us-east-1")
            return bucket, {
                **inputs,
                "bucket": bucket,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "region": region,
            }
        if args.typ == KMS_KEY:
            key_id = (
                _fake_hex(args.name, "key", length=8) + "-0000-4000-8000-" + _fake_hex(args.name, length=12)
            )
            arn = f"arn:aws:kms:{inputs.get('region', 'us-east-1')}:{MOCK_ACCOUNT}:key/{key_id}"
            return key_id, {**inputs, "arn": arn, "keyId": key_id}
        if args.typ == KMS_ALIAS:
            name = inputs.get("name", f"alias/{args.name}")
            arn = f"arn:aws:kms:{inputs.get('region', 'us-east-1')}:{MOCK_ACCOUNT}:{name}"
            return name, {**inputs, "name": name, "arn": arn}
        return f"{args.name}-id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _secret_paths(struct: Any) -> frozenset[str]:
    as_dict = json_format.MessageToDict(struct)
    return frozenset(k for k, v in as_dict.items() if isinstance(v, dict) and v.get(_SIG_KEY) == _SECRET_SIG)


class RecordingMonitor(mocks.MockMonitor):
    """The mock engine monitor, also recording the options the mocks API does not expose."""

    def __init__(self, platform_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(platform_mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            urn = self.make_urn(request.parent, request.type, request.name)
            inputs = rpc.deserialize_properties(request.object)
            self.registrations.append(
                Registration(
                    urn=urn,
                    id=self.resources[urn].id if urn in self.resources else "",
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    protect=bool(request.protect),
                    inputs=inputs,
                    wire_inputs=json_format.MessageToDict(request.object),
                    secret_inputs=_secret_paths(request.object),
                    state=self.resources[urn].state if urn in self.resources else {},
                    wire_state=json_format.MessageToDict(response.object),
                )
            )
        return response


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, path: Path | None = None) -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, or of another stack file (values as YAML gives them)."""
    path = path or stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path} (committed stacks: dev, prod)")
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("config") or {})


def engine_config(
    stack_config: dict[str, Any], overrides: dict[str, Any] | None = None, *, project: str = PROJECT
) -> tuple[dict[str, str], list[str]]:
    """Turn a stack's config into what the engine hands a program, with placeholder secrets.

    `overrides` replaces whole keys (DELETE removes one); it may also set a secret key, which
    then stays secret. A key written as `{secure: ...}` in the file counts as an encrypted
    value and is replaced by its placeholder. Keys without a namespace belong to `project`.
    """
    merged: dict[str, Any] = {}
    secret_keys: set[str] = set(PLACEHOLDER_SECRETS)
    for key, value in {**PLACEHOLDER_PLAIN, **PLACEHOLDER_SECRETS}.items():
        merged[key] = value
    for key, value in stack_config.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(full)
            merged.setdefault(full, PLACEHOLDER_SECRETS.get(full, "placeholder"))
            continue
        merged[full] = copy.deepcopy(value)
        if full in PLACEHOLDER_SECRETS:
            secret_keys.discard(full)  # present in plaintext: the program must reject it
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if value is DELETE:
            merged.pop(full, None)
            secret_keys.discard(full)
        else:
            merged[full] = copy.deepcopy(value)
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}
    return as_strings, sorted(secret_keys & set(as_strings))


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    *,
    stack_config: dict[str, Any] | None = None,
    program: Path = PROGRAM,
    project: str = PROJECT,
    stack_file_dir: Path | None = None,
) -> ProgramRun:
    """Run a program's __main__.py for `stack` under mocks; config problems land in `.error`.

    The defaults run this project; `program`/`project` run another one (e.g. bootstrap/), whose
    stack files are read from `stack_file_dir` (default: the program's directory).
    """
    path = (program.parent if stack_file_dir is None else stack_file_dir) / f"Pulumi.{stack}.yaml"
    config = read_stack_config(stack, path) if stack_config is None else stack_config
    values, secret_keys = engine_config(config, overrides, project=project)
    set_all_config(values, secret_keys)
    platform = PlatformMocks()
    monitor = RecordingMonitor(platform)
    settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks.set_mocks(platform, project=project, stack=stack, preview=False, monitor=monitor)
    if str(program.parent) not in sys.path:
        sys.path.insert(0, str(program.parent))
    run = ProgramRun(stack=stack)

    def run_main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    try:
        _sync_await(run_pulumi_func(run_main))
    except pulumi.RunError as exc:
        run.error = str(exc)
        return run
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    for name, value in exported.items():
        out = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            run.secret_outputs.add(name)
    run.resources = list(monitor.registrations)
    return run
