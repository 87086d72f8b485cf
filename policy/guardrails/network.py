"""IP/CIDR helpers for the guardrails (self-contained: the pack is published on its own)."""

from __future__ import annotations

import ipaddress


def cidr_problem(source: object) -> str | None:
    if not isinstance(source, str) or not source.strip():
        return "is empty"
    try:
        ipaddress.ip_network(source, strict=True)
    except ValueError as exc:
        return f"is not a valid IP address or CIDR block ({exc})"
    return None


def is_open(source: object) -> bool:
    """True when the source admits the whole internet (any /0 network)."""
    if not isinstance(source, str):
        return False
    try:
        return ipaddress.ip_network(source, strict=False).prefixlen == 0
    except ValueError:
        return source.strip() in ("0.0.0.0/0", "::/0")
