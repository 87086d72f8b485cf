"""URL helpers shared by the components."""

from urllib.parse import quote


def credential_url(scheme: str, user: str, password: str, host: str | None, port: int | None) -> str:
    """`scheme://user:password@host:port` with the credentials percent-encoded."""
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}"
