"""The GitHub REST API as the workflow's own jobs call it: their token (GH_TOKEN), JSON in and out.

Standard library only (the jobs that use it run no virtualenv of the program):
tools.main_head (deploy-prod's head check) and tools.drift_issue (the drift jobs' issue).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

# (method, path, body) -> decoded JSON answer
Api = Callable[[str, str, Mapping[str, Any] | None], Any]
# request -> the raw answer (a test passes its own)
Opener = Callable[[urllib.request.Request], bytes]


def _open(request: urllib.request.Request) -> bytes:
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def github_api(environ: Mapping[str, str], opener: Opener = _open) -> Api:
    """Calls to GITHUB_API_URL (default api.github.com) with the job's token GH_TOKEN."""
    base = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    token = environ["GH_TOKEN"]

    def call(method: str, path: str, payload: Mapping[str, Any] | None) -> Any:
        request = urllib.request.Request(
            base + path,
            data=None if payload is None else json.dumps(payload).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        )
        return json.loads(opener(request) or b"null")

    return call
