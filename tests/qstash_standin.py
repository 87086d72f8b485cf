"""A local stand-in for the Upstash developer API and the QStash REST API (http.server, 127.0.0.1).

It follows the documented shapes only: `GET /v2/qstash/user` with HTTP Basic (email:api key) ->
{id, customer_id, token, ...}; `GET /v2/keys` and `POST /v2/keys/rotate` with `Bearer <token>` ->
{current, next}, where rotating makes next the current key and a new next. Every request is recorded.
`lose_rotate_replies` simulates a reply lost on the way back: the rotation happens, no answer comes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMAIL = "platform+upstash-dev@salla-analytics.example"
API_KEY = "test-upstash-api-key"


@dataclass
class Account:
    email: str = EMAIL
    api_key: str = API_KEY
    token: str = field(default_factory=lambda: "qstash-token-" + secrets.token_hex(8))
    current: str = field(default_factory=lambda: "sig_" + secrets.token_hex(8))
    next: str = field(default_factory=lambda: "sig_" + secrets.token_hex(8))
    requests: list[tuple[str, str]] = field(default_factory=list)
    customer_id: str = ""  # what GET /v2/qstash/user answers as customer_id (empty: the e-mail)
    lose_rotate_replies: int = 0  # this many rotations happen, then the connection drops unanswered

    def rotate(self) -> None:
        self.current, self.next = self.next, "sig_" + secrets.token_hex(8)

    def calls(self, method: str, path: str) -> int:
        return self.requests.count((method, path))


def _handler(account: Account) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return None

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            account.requests.append((method, self.path))
            auth = self.headers.get("Authorization", "")
            basic = "Basic " + base64.b64encode(f"{account.email}:{account.api_key}".encode()).decode()
            if (method, self.path) == ("GET", "/v2/qstash/user"):
                if auth != basic:
                    return self._send(401, {"error": "unauthorized"})
                return self._send(
                    200,
                    {
                        "id": "99a4c327-31f0-490f-a594-043ade84085a",
                        "customer_id": account.customer_id or account.email,
                        "token": account.token,
                        "state": "active",
                        "type": "paid",
                    },
                )
            if self.path.startswith("/v2/keys"):
                if auth != f"Bearer {account.token}":
                    return self._send(401, {"error": "invalid token"})
                if (method, self.path) == ("POST", "/v2/keys/rotate"):
                    account.rotate()
                    if account.lose_rotate_replies > 0:  # rotated, but the reply never arrives
                        account.lose_rotate_replies -= 1
                        self.close_connection = True
                        return None
                elif (method, self.path) != ("GET", "/v2/keys"):
                    return self._send(404, {"error": "not found"})
                return self._send(200, {"current": account.current, "next": account.next})
            return self._send(404, {"error": "not found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler


@contextlib.contextmanager
def serving(account: Account) -> Iterator[str]:
    """The stand-in's base URL (both APIs on one server) while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(account))
    # A short poll interval: shutdown() waits for it (as the loopback server of the transport tests).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
