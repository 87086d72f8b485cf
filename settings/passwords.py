"""ClickHouse password rules and hash formats, shared by the settings and the operator tools.

The program never sees the ClickHouse admin (`default`) password: the service takes its SHA-256
hash (`password_hash`: base64 of the digest), which `make admin-hash` computes from a typed
password. SQL users are created with `IDENTIFIED WITH sha256_hash BY '<hex digest>'`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from clickhouse_sql import login

PASSWORD_MIN_LENGTH = 16
# The SQL user the program's SQL objects are managed with (created by `make provisioner`).
PROVISIONER_USER = login.PROVISIONER
# The read-only SQL user previews, plans and drift jobs log in as (also made by `make provisioner`).
OBSERVER_USER = login.OBSERVER
# base64 of a 32-byte digest: 43 significant characters and one `=` of padding.
SHA256_B64_LENGTH = 44


def password_problems(password: str) -> list[str]:
    """Complexity rules a ClickHouse password misses (empty when it passes)."""
    checks = [
        (
            len(password) >= PASSWORD_MIN_LENGTH,
            f"at least {PASSWORD_MIN_LENGTH} characters (has {len(password)})",
        ),
        (re.search(r"[A-Z]", password), "an uppercase letter"),
        (re.search(r"[a-z]", password), "a lowercase letter"),
        (re.search(r"[0-9]", password), "a digit"),
        (re.search(r"[^A-Za-z0-9]", password), "a symbol"),
    ]
    return [what for ok, what in checks if not ok]


def sha256_b64(password: str) -> str:
    """The service's `password_hash` format: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()


def sha256_hex(password: str) -> str:
    """What `IDENTIFIED WITH sha256_hash BY` takes: the hex digest (not the service's base64 form)."""
    return hashlib.sha256(password.encode()).hexdigest()


def is_sha256_b64(value: str) -> bool:
    """True for exactly what `password_hash` takes: 44 base64 characters decoding to 32 bytes."""
    if len(value) != SHA256_B64_LENGTH:
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == hashlib.sha256().digest_size
    except (binascii.Error, ValueError):
        return False
