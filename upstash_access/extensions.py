"""The seam: Upstash's own ACL subcommands, the only place the program uses them.

Upstash documents (redis/commands/server/acl-gentoken, acl-resttoken):
- `ACL SETUSER <user> >password` accepts only a value produced by `ACL GENTOKEN <user>`;
- `ACL GENTOKEN <user>` returns a token string and changes no user; the user need not exist yet;
- the token is also the user's REST token (usable directly as UPSTASH_REDIS_REST_TOKEN), with the
  user's permissions; `ACL RESTTOKEN <user> <token>` exchanges it for another REST token and fails
  when the user does not exist or the password does not match.

So the REST token handed out is the GENTOKEN token itself (no RESTTOKEN call: it would mint a new
token on every deploy). What is checked here is what the program relies on: a non-empty token
without whitespace (it goes into a `>token` rule and a URL), different for every call.

A plain Redis server has no GENTOKEN: the tests use `LocalTokens`, which generates the token the
way a client would (any string is a valid Redis password), so the real server exercises the ACL.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from dynamic_props import host_errors

TOKEN_BYTES = 32


class ExtensionError(RuntimeError):
    """An Upstash extension answered outside its documented behaviour (the message holds no token)."""


host_errors.install(ExtensionError)  # worded for a user: the engine shows the message alone


class Extensions(Protocol):
    def gentoken(self, client: Any, user: str) -> str: ...


def checked_token(reply: Any, user: str) -> str:
    token = reply.decode() if isinstance(reply, bytes) else reply
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise ExtensionError(f"ACL GENTOKEN {user}: expected a token string, got a {type(reply).__name__}")
    if token == user:
        raise ExtensionError(f"ACL GENTOKEN {user}: returned the user name instead of a token")
    return token


class UpstashExtensions:
    """The real subcommands (Upstash only)."""

    def gentoken(self, client: Any, user: str) -> str:
        return checked_token(client.execute_command("ACL", "GENTOKEN", user), user)


class LocalTokens:
    """Test double for a plain Redis server: a random URL-safe token, checked the same way."""

    def gentoken(self, client: Any, user: str) -> str:
        return checked_token(secrets.token_urlsafe(TOKEN_BYTES), user)
