"""The cloud boundary under test: provider-shaped responses and a monitor that records options.

`PlatformMocks` answers resource registrations the way the providers would (ids, endpoints,
tokens). In a preview it answers with the inputs only, so every computed output is unknown, as in
`pulumi preview`. `RecordingMonitor` subclasses the SDK's public `MockMonitor` to keep what its
API does not expose: protect, parent, provider, which inputs were secret, and the JSON form the
policy analyzer receives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

# Resource type tokens as the engine sees them.
SERVICE = "clickhouse:index/service:Service"
REDIS = "upstash:index/redisDatabase:RedisDatabase"
TOPIC = "upstash:index/qStashTopicV2:QStashTopicV2"
CLICKHOUSE_PROVIDER = "pulumi:providers:clickhouse"
UPSTASH_PROVIDER = "pulumi:providers:upstash"
RANDOM_PROVIDER = "pulumi:providers:random"
# AWS resources of the bootstrap project (bootstrap/: the state bucket and its KMS keys).
S3_BUCKET = "aws:s3/bucket:Bucket"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
# The program's own Upstash dynamic resources (upstash_access): what their create would return.
REDIS_USER = "pulumi-python:dynamic/upstash:RedisUser"
QSTASH_CREDENTIALS = "pulumi-python:dynamic/upstash:QStashCredentials"
MOCK_ACCOUNT = "000000000000"


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
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    alias_names: tuple[str, ...] = ()  # the `name` of each alias spec (an earlier name of the resource)


def _fake_hex(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _fake_uuid(name: str, salt: str) -> str:
    return _fake_hex(name, salt, length=8) + "-0000-4000-8000-" + _fake_hex(name, length=12)


def _service(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sid = _fake_uuid(name, "service")
    region, cloud = inputs.get("region", "us-east-1"), inputs.get("cloudProvider", "aws")
    host = f"{_fake_hex(name, 'host', length=10)}.{region}.{cloud}.clickhouse.cloud"
    return sid, {
        **inputs,
        "endpoints": {
            "https": {"host": host, "port": 8443},
            "nativesecure": {"host": host, "port": 9440},
            "mysql": {"enabled": False},
        },
        "isPrimary": True,
        "iamRole": f"arn:aws:iam::{MOCK_ACCOUNT}:role/CH-S3-{sid[:8]}",
    }


def _redis(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    db = _fake_hex(name, "redis", length=8)
    return db, {
        **inputs,
        "databaseId": db,
        "endpoint": f"{inputs.get('databaseName', 'db')}-{db[:5]}.upstash.io",
        "port": 6379,
        "password": "mockRedisPassw0rd/" + db,
        "restToken": "mock-rest-token-" + db,
        "readOnlyRestToken": "mock-ro-rest-token-" + db,
        "state": "active",
        "databaseType": "Pay as You Go",
        "userEmail": "platform@example.com",
    }


def _bucket(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("bucket") or f"{name}-{_fake_hex(name, length=7)}"
    region = inputs.get("region", "us-east-1")
    return bucket, {
        **inputs,
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _kms_key(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key_id = _fake_uuid(name, "key")
    arn = f"arn:aws:kms:{inputs.get('region', 'us-east-1')}:{MOCK_ACCOUNT}:key/{key_id}"
    return key_id, {**inputs, "arn": arn, "keyId": key_id}


def _kms_alias(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alias = inputs.get("name", f"alias/{name}")
    arn = f"arn:aws:kms:{inputs.get('region', 'us-east-1')}:{MOCK_ACCOUNT}:{alias}"
    return alias, {**inputs, "name": alias, "arn": arn}


def _topic(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return inputs.get("name", name), {**inputs, "createdAt": 1, "updatedAt": 1}


def _random_password(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Deterministic per name and keepers (a new `rotation` gives a new password), meets the rules.
    seed = _fake_hex(name, str(sorted((inputs.get("keepers") or {}).items())), length=24)
    result = ("Pw-" + seed + "Aa1")[: int(inputs.get("length", 32))]
    return "none", {**inputs, "result": result, "bcryptHash": "$2a$10$" + seed}


def _redis_user(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # What ACL GENTOKEN would return: one token per password label, distinct per user and label.
    labels = inputs.get("passwords", [])
    tokens = {label: "mock-acl-token-" + _fake_hex(name, label, length=20) for label in labels}
    return inputs.get("name", name), {**inputs, "tokens": tokens, "drift": []}


def _qstash_credentials(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # What the Upstash API would return for the account (GET /v2/qstash/user, GET /v2/keys).
    account = str(inputs.get("account", ""))
    return "qstash", {
        **inputs,
        "token": "mock-qstash-token-" + _fake_hex(account, "token"),
        "current_signing_key": "sig_mock_current_" + _fake_hex(account, "current"),
        "next_signing_key": "sig_mock_next_" + _fake_hex(account, "next"),
        "qstash_user_id": _fake_uuid(account, "qstash"),
        "drift": [],
    }


RESPONSES = {
    REDIS_USER: _redis_user,
    QSTASH_CREDENTIALS: _qstash_credentials,
    RANDOM_PASSWORD: _random_password,
    SERVICE: _service,
    REDIS: _redis,
    TOPIC: _topic,
    S3_BUCKET: _bucket,
    KMS_KEY: _kms_key,
    KMS_ALIAS: _kms_alias,
}


class PlatformMocks(pulumi.runtime.Mocks):
    """Provider-shaped create responses; in a preview, the inputs only (computed outputs unknown)."""

    def __init__(self, preview: bool = False) -> None:
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.preview:
            return None, inputs
        respond = RESPONSES.get(args.typ)
        if respond is None:
            return f"{args.name}-id", inputs
        return respond(args.name, inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _secret_inputs(inputs: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k, v in inputs.items() if rpc.is_rpc_secret(v))


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also recording what its API does not expose."""

    def __init__(self, platform_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(platform_mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        # What the engine does and the SDK's mock monitor does not: outputs named in
        # additional_secret_outputs come back secret (e.g. a Redis password, a random password).
        plain = json_format.MessageToDict(response.object)
        for key in request.additionalSecretOutputs:
            if key in plain and not rpc.is_rpc_secret(plain[key]):
                response.object.fields[key].struct_value.update(rpc.wrap_rpc_secret(plain[key]))
        urn = self.make_urn(request.parent, request.type, request.name)
        registered = self.resources.get(urn)
        inputs = rpc.deserialize_properties(request.object)
        self.registrations.append(
            Registration(
                urn=urn,
                id=(registered.id or "") if registered else "",
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                provider=request.provider,
                protect=bool(request.protect),
                inputs=inputs,
                wire_inputs=json_format.MessageToDict(request.object),
                secret_inputs=_secret_inputs(inputs),
                state=registered.state if registered else {},
                wire_state=json_format.MessageToDict(response.object),
                delete_before_replace=bool(request.deleteBeforeReplace),
                retain_on_delete=bool(request.retainOnDelete),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                alias_names=tuple(alias.spec.name for alias in request.aliases if alias.HasField("spec")),
            )
        )
        return response
