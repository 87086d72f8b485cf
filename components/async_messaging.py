"""AsyncMessaging: Upstash QStash topics, and the account's QStash credentials (REQ-DATA-002)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import upstash_pulumi as upstash

from settings import Messaging
from upstash_access.resources import QStashCredentials


@dataclass
class AsyncMessagingArgs:
    settings: Messaging
    # The stack's declared Upstash account (accounts.upstashEmail): the QStash user must be its.
    account: str
    protect: bool = False


class AsyncMessaging(pulumi.ComponentResource):
    """One QStash topic (v2 API) per configured topic; the token and signing keys from the API.

    No provider data source returns the QStash token or signing keys, so a dynamic resource
    (upstash_access.qstash) reads them at deploy time with the provider's own credentials, and
    rotates the signing keys once per new `messaging.signingKeyRotation` label (docs/qstash.md).
    """

    topic_names: pulumi.Output[list[str]]
    qstash_token: pulumi.Output[str]
    current_signing_key: pulumi.Output[str]
    next_signing_key: pulumi.Output[str]

    def __init__(
        self, name: str, args: AsyncMessagingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:AsyncMessaging", name, None, opts)
        self.topics = {
            topic.name: upstash.QStashTopicV2(
                f"{name}-{topic.name}",
                name=topic.name,
                endpoints=list(topic.endpoints),
                # Topics are deleted by name, account-wide: prod's are protected.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            for topic in args.settings.topics
        }
        self.topic_names = pulumi.Output.all(*(t.name for t in self.topics.values()))
        self.credentials = QStashCredentials(
            f"{name}-credentials",
            account=args.account,
            signing_key_rotation=args.settings.signing_key_rotation or "",
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Secret outputs of the resource (additional_secret_outputs).
        self.qstash_token = self.credentials.token
        self.current_signing_key = self.credentials.current_signing_key
        self.next_signing_key = self.credentials.next_signing_key
        self.register_outputs({"topic_names": self.topic_names})
