"""The stack account's QStash token and signing keys, read from the Upstash API at deploy time.

Documented shapes (Upstash developer API and QStash REST API):
- `GET  <api>/v2/qstash/user` (HTTP Basic: UPSTASH_EMAIL, UPSTASH_API_KEY) -> {id, customer_id, token, ...}
- `GET  <qstash>/v2/keys` (Bearer: the QStash token)                       -> {current, next}
- `POST <qstash>/v2/keys/rotate` (Bearer)  -> {current, next}: next becomes current, a new next is made

QStashCredentialsProvider calls them only in create, update and read (refresh): check and diff
make no call, so a preview without refresh needs no Upstash credentials, and a no-op `up`
calls nothing. Rotation is a config step: a new `signing_key_rotation` label makes update call
the rotate endpoint exactly once; the first create only records the label.

Exactly once also when the rotate call's reply is lost (the rotation happened, the update failed,
the state still holds the previous label): the output `rotation_base` is the next key as the last
create/update stored it (a refresh keeps it). Before rotating, the update reads the keys; when the
current key is already `rotation_base`, the rotation it is asked for has happened (a lost reply,
or a roll in the console): it stores the keys without rotating again, which would retire the key
the receivers still verify with.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from dynamic_props import DRIFT, host_errors, is_known, plain

API_URL = "https://api.upstash.com"
QSTASH_URL = "https://qstash.upstash.io"
TIMEOUT_SECONDS = 30
ROTATION = "signing_key_rotation"
BASE = "rotation_base"  # output: the next key as the last create/update stored it (secret)
SECRET_OUTPUTS = ("token", "current_signing_key", "next_signing_key", BASE)


class QStashApiError(RuntimeError):
    """A failed or unexpected API answer; the message names the call, never a credential."""


host_errors.install(QStashApiError)  # worded for a user: the engine shows the message alone


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _request(method: str, url: str, auth: str) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:  # plain http: a local stand-in only
        raise QStashApiError(f"{method} {parts.path}: refusing to send credentials over {parts.scheme}")
    request = urllib.request.Request(
        url, method=method, headers={"Authorization": auth, "Accept": "application/json"}
    )
    where = f"{method} {parts.path}"
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = json.loads(response.read().decode() or "null")
    except urllib.error.HTTPError as exc:
        hint = " (check UPSTASH_EMAIL / UPSTASH_API_KEY)" if exc.code in (401, 403) else ""
        raise QStashApiError(f"{where}: HTTP {exc.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise QStashApiError(f"{where}: unreachable ({type(exc).__name__})") from None
    except ValueError:
        raise QStashApiError(f"{where}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise QStashApiError(f"{where}: expected a JSON object")
    return body


def _field(body: Mapping[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise QStashApiError(f"{where}: the answer has no {key!r}")
    return value


def api_credentials(environ: Mapping[str, str]) -> tuple[str, str]:
    """The account e-mail and the Basic authorization header of the Upstash API credentials."""
    email, key = environ.get("UPSTASH_EMAIL", "").strip(), environ.get("UPSTASH_API_KEY", "").strip()
    if not email or not key:
        raise QStashApiError("UPSTASH_EMAIL and UPSTASH_API_KEY must be set to read the QStash credentials")
    return email, "Basic " + base64.b64encode(f"{email}:{key}".encode()).decode()


class QStashCredentialsProvider(ResourceProvider):
    """Holds only the two base URLs (no credential, no client)."""

    def __init__(self, api_url: str = API_URL, qstash_url: str = QSTASH_URL) -> None:
        super().__init__()
        self._api_url, self._qstash_url = api_url.rstrip("/"), qstash_url.rstrip("/")

    def user(self, account: str) -> dict[str, str]:
        used, authorization = api_credentials(os.environ)
        body = _request("GET", f"{self._api_url}/v2/qstash/user", authorization)
        where = "GET /v2/qstash/user"
        owner = str(body.get("customer_id") or "")
        if account and "@" in owner and owner.lower() != account.lower():
            raise QStashApiError(f"{where}: the QStash user belongs to {owner}, the stack declares {account}")
        # No e-mail to compare (a team account's id, or none): the answer belongs to whoever the
        # credentials authenticate, so the credentials themselves must be the declared account's.
        # The program checks UPSTASH_EMAIL == accounts.upstashEmail when it loads; checked again
        # here because this runs in the provider host (e.g. a `pulumi refresh`, no program load).
        if account and "@" not in owner and used.lower() != account.lower():
            raise QStashApiError(
                f"{where}: the QStash user names no account e-mail, and UPSTASH_EMAIL ({used}) is not "
                f"the account the stack declares ({account}): set UPSTASH_EMAIL/UPSTASH_API_KEY to it"
            )
        return {
            "token": _field(body, "token", where),
            "qstash_user_id": str(body.get("id") or ""),
        }

    def keys(self, token: str, *, rotate: bool = False) -> dict[str, str]:
        method, path = ("POST", "/v2/keys/rotate") if rotate else ("GET", "/v2/keys")
        body = _request(method, f"{self._qstash_url}{path}", f"Bearer {token}")
        where = f"{method} {path}"
        return {
            "current_signing_key": _field(body, "current", where),
            "next_signing_key": _field(body, "next", where),
        }

    def rotated(self, token: str, base: str) -> dict[str, str]:
        """Rotate unless the current key is already `base` (that rotation happened: its reply was lost)."""
        keys = self.keys(token)
        if base and keys["current_signing_key"] == base:
            return keys
        return self.keys(token, rotate=True)

    def _fetch(self, p: Mapping[str, Any], *, rotate: bool, base: str = "") -> dict[str, Any]:
        user = self.user(str(p.get("account") or ""))
        keys = self.rotated(user["token"], base) if rotate else self.keys(user["token"])
        return {
            "account": p.get("account"),
            ROTATION: p.get(ROTATION) or "",
            "token": user["token"],
            "qstash_user_id": user["qstash_user_id"],
            **keys,
            BASE: keys["next_signing_key"],
            DRIFT: [],
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        return CreateResult("qstash", self._fetch(p, rotate=False))

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        olds, news = plain(_olds), plain(_news)
        changed = [
            k
            for k in (ROTATION, "account")
            if not is_known(news.get(k)) or (olds.get(k) or "") != (news.get(k) or "")
        ]
        return DiffResult(
            changes=bool(changed) or bool(olds.get(DRIFT)), replaces=[], delete_before_replace=None
        )

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        rotate = bool(news.get(ROTATION)) and (olds.get(ROTATION) or "") != news.get(ROTATION)
        base = str(olds.get(BASE) or olds.get("next_signing_key") or "")
        return UpdateResult(self._fetch(news, rotate=rotate, base=base))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = plain(props)
        fresh = self._fetch(p, rotate=False)
        drift = []
        if p.get("token") and fresh["token"] != p.get("token"):
            drift.append("the QStash token changed outside the program (reset in the console?)")
        if p.get("current_signing_key") and (fresh["current_signing_key"], fresh["next_signing_key"]) != (
            p.get("current_signing_key"),
            p.get("next_signing_key"),
        ):
            drift.append("the signing keys changed outside the program (rolled in the console?)")
        # A refresh stores the keys it finds, but not as the rotation's base (see the module doc).
        base = p.get(BASE) or p.get("next_signing_key") or fresh[BASE]
        return ReadResult(id_, {**fresh, BASE: base, DRIFT: drift})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the account's QStash credentials outlive the stack
