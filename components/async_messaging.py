"""AsyncMessaging: Upstash QStash topics and their subscriber endpoints (REQ-DATA-002)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import upstash_pulumi as upstash

from settings import Messaging


@dataclass
class AsyncMessagingArgs:
    settings: Messaging
    # The QStash token and signing keys: no provider data source returns them, so they come
    # from encrypted stack config and are passed through as secret outputs.
    qstash_token: pulumi.Output[str]
    current_signing_key: pulumi.Output[str]
    next_signing_key: pulumi.Output[str]
    protect: bool = False


class AsyncMessaging(pulumi.ComponentResource):
    """One QStash topic (v2 API) per configured topic, fanning out to its https endpoints."""

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
        # Already secret Outputs (settings hands secrets out only that way).
        self.qstash_token = args.qstash_token
        self.current_signing_key = args.current_signing_key
        self.next_signing_key = args.next_signing_key
        self.register_outputs(
            {
                "topic_names": self.topic_names,
                "qstash_token": self.qstash_token,
                "current_signing_key": self.current_signing_key,
                "next_signing_key": self.next_signing_key,
            }
        )
