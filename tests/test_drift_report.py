"""ops.drift_report against a local stand-in of GitHub's issues API (127.0.0.1, the documented shapes).

One issue per stack: opened on the first drift, updated on the next, closed (with a comment) once a
run is clean; the body holds names and the providers' drift lines, never a value or a hash.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ops import drift_report

TOKEN = "ghs_token-that-must-never-be-printed"
HASH = "ab" * 32
PASSWORD = "Secr3t-password_value"


class IssuesApi(ThreadingHTTPServer):
    """`/repos/<owner>/<repo>/issues[...]`: list (paged), create, update, comment; records calls."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: list[tuple[int, str]] = []
        self.calls: list[tuple[str, str]] = []
        self.auth: set[str] = set()

    def add(self, **issue: Any) -> int:
        number = len(self.issues) + 1
        self.issues[number] = {"number": number, "state": "open", "body": "", **issue}
        return number


class _Handler(BaseHTTPRequestHandler):
    server: IssuesApi

    def log_message(self, *_args: Any) -> None:
        return None

    def _reply(self, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")

    def _route(self, method: str) -> None:
        api = self.server
        api.calls.append((method, self.path))
        api.auth.add(self.headers.get("Authorization", ""))
        prefix = "/repos/salla/infra/issues"
        if not self.path.startswith(prefix):
            return self._reply(404, {"message": "Not Found"})
        rest = self.path[len(prefix) :]
        if method == "GET" and rest.startswith("?"):
            query = dict(p.split("=", 1) for p in rest[1:].split("&"))
            page, size = int(query.get("page", 1)), int(query["per_page"])
            open_ = [i for i in api.issues.values() if i["state"] == query["state"]]
            return self._reply(200, open_[(page - 1) * size : page * size])
        if method == "POST" and rest == "":
            body = self._body()
            number = api.add(title=body["title"], body=body["body"])
            return self._reply(201, api.issues[number])
        number = int(rest.strip("/").split("/")[0])
        if method == "POST" and rest.endswith("/comments"):
            api.comments.append((number, self._body()["body"]))
            return self._reply(201, {"id": len(api.comments)})
        if method == "PATCH":
            api.issues[number].update(self._body())
            return self._reply(200, api.issues[number])
        return self._reply(405, {"message": "unexpected"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")


@pytest.fixture
def api() -> Iterator[IssuesApi]:
    server = IssuesApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def environ(api: IssuesApi) -> dict[str, str]:
    host, port = api.server_address[:2]
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "salla/infra",
        "GITHUB_API_URL": f"http://{host!s}:{port}",
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
    }


URN = (
    "urn:pulumi:prod::salla-analytics-infra::salla:analytics:WarehouseAccess"
    "$pulumi-python:dynamic/clickhouse:Role::warehouse-access-role-write"
)


def drifted_preview() -> dict[str, Any]:
    """What `pulumi preview --refresh --json` reports for a role granted by hand (values included)."""
    outputs = {
        "name": "analytics_write",
        "connection": {"host": "h", "port": 8443, "password": PASSWORD},
        "passwords_sha256_hex": [HASH],
        "drift": [
            "held by user `backdoor` (not declared)",
            f"password hash {HASH} replaced by hand (BY '{PASSWORD}')",
        ],
    }
    return {
        "steps": [
            {"op": "same", "urn": URN.replace("role-write", "role-read")},
            {
                "op": "update",
                "urn": URN,
                "oldState": {"outputs": outputs},
                "newState": {"outputs": {**outputs, "drift": None}, "inputs": {"secret": PASSWORD}},
                "diffReasons": ["drift"],
            },
        ],
        "diagnostics": [
            {"severity": "error", "message": f"no changes were expected (url rediss://u:{PASSWORD}@h)"}
        ],
    }


def run(api: IssuesApi, tmp_path: Path, stack: str, preview: dict[str, Any] | None, rc: int) -> int:
    path = tmp_path / f"{stack}.json"
    path.write_text(json.dumps(preview) if preview is not None else "not json")
    return drift_report.main(
        ["--stack", stack, "--preview", str(path), "--preview-exit", str(rc)], environ(api)
    )


def test_one_issue_per_stack_opened_updated_then_closed(api: IssuesApi, tmp_path: Path) -> None:
    assert run(api, tmp_path, "prod", drifted_preview(), 255) == 1
    assert [i["title"] for i in api.issues.values()] == ["Drift in stack prod"]
    assert run(api, tmp_path, "prod", drifted_preview(), 255) == 1
    assert len(api.issues) == 1, "a second drift run updates the same issue"
    assert run(api, tmp_path, "dev", drifted_preview(), 255) == 1
    assert len(api.issues) == 2, "each stack has its own issue"
    assert run(api, tmp_path, "prod", {"steps": [{"op": "same", "urn": URN}]}, 0) == 0
    prod, dev = api.issues[1], api.issues[2]
    assert (prod["state"], prod["state_reason"], dev["state"]) == ("closed", "completed", "open")
    assert api.comments == [(1, "Clean drift check: https://github.example/salla/infra/actions/runs/42")]
    assert api.auth == {f"Bearer {TOKEN}"}


def test_the_body_names_what_drifted_and_holds_no_value_or_hash(api: IssuesApi, tmp_path: Path) -> None:
    run(api, tmp_path, "prod", drifted_preview(), 255)
    body = api.issues[1]["body"]
    assert "**update** `pulumi-python:dynamic/clickhouse:Role` `warehouse-access-role-write` (drift)" in body
    assert "held by user `backdoor` (not declared)" in body
    assert "warehouse-access-role-read" not in body, "unchanged resources are not listed"
    assert "no changes were expected" in body
    for secret in (PASSWORD, HASH, TOKEN, "analytics_write"):
        assert secret not in body


def test_clean_run_without_an_issue_writes_nothing(api: IssuesApi, tmp_path: Path) -> None:
    assert run(api, tmp_path, "dev", {"steps": []}, 0) == 0
    assert [m for m, _ in api.calls] == ["GET"]
    assert api.issues == {}


def test_a_failed_check_is_reported_too(api: IssuesApi, tmp_path: Path) -> None:
    assert run(api, tmp_path, "prod", None, 1) == 1
    assert "produced no readable preview" in api.issues[1]["body"]


def test_the_issue_is_found_past_the_first_page(api: IssuesApi, tmp_path: Path) -> None:
    for n in range(120):
        api.add(title=f"other {n}", body="unrelated")
    api.add(title="Drift in stack prod", body=drift_report.marker("prod"))
    run(api, tmp_path, "prod", drifted_preview(), 255)
    assert len(api.issues) == 121, "the existing issue on page 2 is updated, not a new one opened"
    assert "backdoor" in api.issues[121]["body"]


def test_missing_token_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}")
    assert drift_report.main(["--stack", "dev", "--preview", str(path), "--preview-exit", "0"], {}) == 2
    assert "GITHUB_TOKEN, GITHUB_REPOSITORY not set" in capsys.readouterr().err
