"""Config schemas shared by several policies."""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema


def switch(name: str) -> PolicyConfigSchema:
    """A policy's one boolean setting, off unless the stack's policy config turns it on."""
    return PolicyConfigSchema(properties={name: {"type": "boolean", "default": False}})
