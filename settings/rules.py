"""Pure validation rules shared by the config loader and the policy pack."""

from __future__ import annotations

import ipaddress
import re
import uuid
from urllib.parse import urlsplit

OPEN_INGRESS = frozenset({"0.0.0.0/0", "::/0"})

PASSWORD_MIN_LENGTH = 16
_SYMBOLS = re.compile(r"[^A-Za-z0-9]")
# Topic names: QStash accepts letters, digits, '-', '_' and '.'.
TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Lowercase alphanumerics with hyphens (the seeds' naming convention).
RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def cidr_problem(source: str) -> str | None:
    """Why `source` is not a valid IP address or CIDR block (None when it is)."""
    try:
        ipaddress.ip_network(source, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(source, strict=False)
        except ValueError:
            return f"not a valid IP address or CIDR block ({exc})"
        return f"has host bits set; did you mean {loose}?"
    return None


def normalise_cidr(source: str) -> str:
    """Canonical text of a valid CIDR (e.g. '10.0.0.1' -> '10.0.0.1/32')."""
    return str(ipaddress.ip_network(source, strict=True))


def is_open_ingress(source: str) -> bool:
    """True for sources that admit the whole internet (0.0.0.0/0, ::/0 or spelled alike)."""
    try:
        net = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return source.strip() in OPEN_INGRESS
    return net.prefixlen == 0


def password_problems(password: str) -> list[str]:
    """Complexity rules the ClickHouse admin password misses (empty when it passes)."""
    missing = []
    if len(password) < PASSWORD_MIN_LENGTH:
        missing.append(f"at least {PASSWORD_MIN_LENGTH} characters (has {len(password)})")
    if not re.search(r"[A-Z]", password):
        missing.append("an uppercase letter")
    if not re.search(r"[a-z]", password):
        missing.append("a lowercase letter")
    if not re.search(r"[0-9]", password):
        missing.append("a digit")
    if not _SYMBOLS.search(password):
        missing.append("a symbol")
    return missing


def https_url_problem(url: str) -> str | None:
    """Why `url` is not an absolute https URL usable as a webhook (None when it is)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme != "https":
        return "must use the https scheme"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not embed credentials (QStash signs requests instead)"
    return None


def uuid_problem(value: str) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return "not a UUID (ClickHouse Cloud backup ids look like 1b2c...-...)"
    return None
