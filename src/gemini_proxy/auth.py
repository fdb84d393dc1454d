"""Client and admin token checks. Tokens are compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

from aiohttp import web

from gemini_proxy.errors import Unauthorized

ANONYMOUS = "anonymous"


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def find_client_credential(request: web.BaseRequest) -> str | None:
    """The client credential, looked up as Gemini clients send it (protocol.md A.2):
    ``x-goog-api-key``, then ``?key=``, then ``Authorization: Bearer``."""
    headers = request.headers
    value = headers.get("x-goog-api-key")
    if value:
        return value
    if "key=" in request.rel_url.raw_query_string:  # parse the query only when it may hold one
        value = request.query.get("key")
        if value:
            return value
    authorization = headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if token and scheme.lower() == "bearer":
        return token
    return None


class ClientAuthenticator:
    """Maps a presented client token to the configured token's name."""

    def __init__(self, tokens: Sequence[tuple[str, str]], *, allow_unauthenticated: bool) -> None:
        self._tokens = [(name, _bytes(token)) for name, token in tokens]
        self._open = allow_unauthenticated and not self._tokens

    @property
    def token_values(self) -> list[str]:
        """The configured token values (for the log redaction processor)."""
        return [token.decode("utf-8", "surrogateescape") for _, token in self._tokens]

    def authenticate(self, credential: str | None) -> str:
        """The name of the matching token; raises ``Unauthorized`` otherwise.

        Every configured token is compared, whatever matched, so the time taken does not
        say which token (or which prefix) was close.
        """
        if self._open:
            return ANONYMOUS
        if credential is None:
            raise Unauthorized(
                "missing client token: send it as x-goog-api-key, ?key= or Authorization: Bearer"
            )
        presented = credential.encode("utf-8", "surrogateescape")  # as ``_bytes``
        matched: str | None = None
        for name, token in self._tokens:
            if hmac.compare_digest(presented, token) and matched is None:
                matched = name
        if matched is None:
            raise Unauthorized("invalid client token")
        return matched


class AdminAuthenticator:
    """Checks ``Authorization: Bearer <admin token>``; no admin token configured: all refused."""

    def __init__(self, token: str | None) -> None:
        self._token = _bytes(token) if token else None

    def authenticate(self, headers: Mapping[str, str]) -> None:
        authorization = headers.get("Authorization", "")
        scheme, _, presented = authorization.partition(" ")
        candidate = _bytes(presented.strip()) if scheme.lower() == "bearer" else b""
        expected = self._token if self._token is not None else b"\x00" * 32
        ok = hmac.compare_digest(candidate, expected)
        if not ok or self._token is None:
            raise Unauthorized("admin authentication required")
