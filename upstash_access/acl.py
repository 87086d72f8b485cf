"""The ACL rules of a consumer's Redis user, and the live user as `ACL GETUSER` reports it (pure).

Every consumer user gets exactly (docs/redis-acl.md explains each rule):

    reset on ><token>... ~<pattern>... resetchannels -@all +@read +@write +@connection +@transaction
    -@admin -@dangerous -@scripting -@pubsub -@blocking -keys -flushall -flushdb -acl -config
    -script -client -debug -monitor -shutdown -memory -scan -randomkey -dbsize

`reset` first, so one SETUSER leaves the user exactly as declared whatever it was before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Commands: reads and writes on the user's keys; never administration, dangerous or Lua commands.
# The explicit removals repeat what the categories already remove, so the list holds even
# where a server files a command under other categories than Redis 6.2 does.
COMMAND_RULES: tuple[str, ...] = (
    "-@all",
    "+@read",
    "+@write",
    "+@connection",
    "+@transaction",
    "-@admin",
    "-@dangerous",
    "-@scripting",
    "-@pubsub",
    "-@blocking",
    "-keys",
    "-flushall",
    "-flushdb",
    "-acl",
    "-config",
    "-script",
    "-client",
    "-debug",
    "-monitor",
    "-shutdown",
    # MEMORY is filed under @read, but DOCTOR/STATS/PURGE/MALLOC-STATS act on the whole server.
    "-memory",
    # @read commands that take no key, so no key pattern applies: SCAN and RANDOMKEY return other
    # consumers' key names, DBSIZE counts the whole database (Redis 6.2 COMMAND: first key 0).
    "-scan",
    "-randomkey",
    "-dbsize",
)
USER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# A key prefix: no glob characters (`*?[]\`), no spaces; ends the pattern's literal part.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9:._{}/-]*\*?$")
RESERVED = frozenset({"default"})


def user_name(value: Any) -> str:
    if not isinstance(value, str) or not USER_NAME.match(value) or value in RESERVED:
        raise ValueError(
            f"Redis user name {value!r} must be 1-63 lowercase letters, digits or '_', not 'default'"
        )
    return value


def key_patterns(value: Any) -> list[str]:
    """1+ distinct glob patterns: a literal prefix, optionally ending in a single `*`."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple) or not value:
        raise ValueError("key_patterns must be a non-empty list of key patterns")
    patterns = [str(v) for v in value]
    for pattern in patterns:
        if not pattern or not KEY_PATTERN.match(pattern):
            raise ValueError(
                f"key pattern {pattern!r} must be a literal prefix (letters, digits, ':._{{}}/-'), "
                "optionally ending in '*'"
            )
    if len(set(patterns)) != len(patterns):
        raise ValueError("key_patterns must not repeat a pattern")
    return patterns


def command_rules(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple) or not value:
        raise ValueError("rules must be a non-empty list of ACL command rules")
    rules = [str(v) for v in value]
    for rule in rules:
        if not re.match(r"^[+-]@?[a-z|-]+$", rule):
            raise ValueError(f"ACL command rule {rule!r} is not of the form +cmd, -cmd, +@cat, -@cat")
    if rules[0] != "-@all":
        raise ValueError("ACL command rules must start with -@all (nothing allowed unless listed)")
    return rules


def token_hash(token: str) -> str:
    """How Redis shows a password in GETUSER/LIST: its hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def setuser_full(
    name: str, tokens: Sequence[str], patterns: Sequence[str], rules: Sequence[str]
) -> list[str]:
    """`ACL SETUSER` leaving the user exactly as declared (tokens: the passwords it accepts)."""
    return [
        "ACL",
        "SETUSER",
        name,
        "reset",
        "on",
        *(f">{t}" for t in tokens),
        *(f"~{p}" for p in patterns),
        "resetchannels",
        *rules,
    ]


def setuser_passwords(name: str, add: Sequence[str], remove: Sequence[str]) -> list[str]:
    """`ACL SETUSER` adding (`>tok`) and removing (`<tok`) passwords only."""
    return ["ACL", "SETUSER", name, *(f">{t}" for t in add), *(f"<{t}" for t in remove)]


@dataclass(frozen=True)
class LiveUser:
    """What `ACL GETUSER` reports, normalised (no password, only hashes)."""

    flags: tuple[str, ...]
    password_hashes: tuple[str, ...]
    keys: tuple[str, ...]
    channels: tuple[str, ...]
    commands: str

    def shape(self) -> dict[str, Any]:
        """Everything but the passwords: what our own SETUSER left (stored, compared on read)."""
        return {
            "flags": list(self.flags),
            "keys": list(self.keys),
            "channels": list(self.channels),
            "commands": self.commands,
        }


def text(value: Any) -> str:
    """A reply value as text (redis-py returns bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [p for p in text(value).split() if p]
    return [text(v) for v in value]


def live_user(reply: Mapping[str, Any] | None) -> LiveUser | None:
    """Normalise redis-py's parsed `ACL GETUSER` reply (None: no such user)."""
    if not reply:
        return None
    keys = [k.removeprefix("~") for k in _list(reply.get("keys"))]
    channels = [c.removeprefix("&") for c in _list(reply.get("channels"))]
    return LiveUser(
        flags=tuple(sorted(_list(reply.get("flags")))),
        password_hashes=tuple(sorted(_list(reply.get("passwords")))),
        keys=tuple(sorted(keys)),
        channels=tuple(sorted(channels)),
        # redis-py splits the rendering into categories and single commands; a server may list both
        # in any order (Redis 6.2 walks a hash table seeded at start): compared as sorted sets.
        commands=" ".join(sorted(_list(reply.get("categories"))) + sorted(_list(reply.get("commands")))),
    )


def rule_differences(live: LiveUser, shape: Mapping[str, Any] | None, patterns: Sequence[str]) -> list[str]:
    """Every difference but the passwords between the live user and the declaration.

    `shape`: what the server showed right after the program's own SETUSER (servers render rules in
    their own form, so the rendering is compared, not the rule text); None: nothing stored yet.
    """
    found: list[str] = []
    if "on" not in live.flags:
        found.append("is disabled (off), declared: on")
    if "nopass" in live.flags:
        found.append("accepts any password (nopass)")
    if sorted(live.keys) != sorted(patterns):
        found.append(
            f"key patterns {', '.join(live.keys) or '(none)'}, declared: {', '.join(sorted(patterns))}"
        )
    if shape is not None:
        declared_channels = list(shape.get("channels", []))
        if list(live.channels) != declared_channels:
            shown = ", ".join(live.channels) or "(none)"
            found.append(f"channels {shown}, declared: {', '.join(declared_channels) or '(none)'}")
        if live.commands != shape.get("commands"):
            found.append(f"command rules '{live.commands}', declared: '{shape.get('commands')}'")
        other_flags = set(live.flags) - {"on", "off", "nopass"}
        if sorted(other_flags) != sorted(set(shape.get("flags", [])) - {"on", "off", "nopass"}):
            found.append(f"flags {', '.join(live.flags)}, declared: {', '.join(shape.get('flags', []))}")
    return found


def password_differences(live: LiveUser, hashes: Mapping[str, str]) -> list[str]:
    """Declared passwords (`hashes`: label -> token hash) the user lacks, and any it has besides."""
    found = [
        f"lacks the password labelled {label!r}"
        for label, h in hashes.items()
        if h not in live.password_hashes
    ]
    extra = len(set(live.password_hashes) - set(hashes.values()))
    if extra:
        found.append(f"accepts {extra} password(s) not declared")
    return found


def differences(
    live: LiveUser, shape: Mapping[str, Any] | None, patterns: Sequence[str], hashes: Mapping[str, str]
) -> list[str]:
    """Every difference between the live user and the declaration (what `read` stores as drift)."""
    return rule_differences(live, shape, patterns) + password_differences(live, hashes)
