"""The one long-lived upstream HTTP client. aiohttp's errors are mapped here, once, into
our own (``UpstreamUnavailable``, ``UpstreamTimeout``, ``UpstreamStreamBroken``);
nothing above this module sees the HTTP library's exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from gemini_proxy.errors import UpstreamError, UpstreamStreamBroken, UpstreamTimeout, UpstreamUnavailable

# Request headers a client may send that are forwarded upstream as they are. Anything
# else (credentials, cookies, hop-by-hop headers, Host) stays behind.
_NO_CONTENT_TYPE = ("Content-Type",)
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept", "User-Agent", "x-goog-api-client")


@dataclass(slots=True)
class UpstreamRequest:
    """One call to make upstream, without its credential (the pool adds that)."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    stream: bool = False
    bearer_auth: bool = False  # Google's OpenAI-compatible paths take the key as a Bearer token


def _map_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout("the upstream did not answer in time")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamStreamBroken("the upstream response ended early")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamUnavailable("the upstream closed the connection")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailable("the upstream cannot be reached")
    return UpstreamUnavailable(f"upstream connection error ({type(exc).__name__})")


class UpstreamResponse:
    """An open upstream response; read it whole or chunk by chunk, then close it."""

    __slots__ = ("_response", "content_type", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status: int = response.status
        self.content_type: str = response.headers.get("Content-Type", "application/json")

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        """The whole body; the connection then goes back to the keep-alive pool."""
        try:
            body = await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc
        self._response.release()
        return body

    async def next_chunk(self) -> bytes:
        """The next piece of the body as it arrives; b"" at its end."""
        try:
            return await self._response.content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc

    def close(self) -> None:
        """Drop the connection (cancels an unfinished upstream call)."""
        self._response.close()

    def release(self) -> None:
        """Give a fully read connection back to the keep-alive pool."""
        self._response.release()


class UpstreamClient:
    """One ``aiohttp.ClientSession`` with one keep-alive connection pool to the upstream."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float,
        request_timeout_s: float,
        max_connections: int = 0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        # A whole non-streamed call must finish within request_timeout_s (one timer); a
        # stream may run longer, but never goes request_timeout_s without a byte.
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=connect_timeout_s)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=request_timeout_s
        )
        self._connector_limit = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connector_limit, keepalive_timeout=30, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            # bodies are relayed as they come: ask for them unencoded
            headers={"Accept-Encoding": "identity"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        return self._session

    async def send(self, request: UpstreamRequest, secret: str) -> UpstreamResponse:
        """Send ``request`` with the pool key ``secret``; returns once headers arrived."""
        headers = dict(request.headers)  # Accept-Encoding: identity is a session default
        if request.bearer_auth:
            headers["Authorization"] = f"Bearer {secret}"
        else:
            headers["x-goog-api-key"] = secret
        url = self._base_url + request.path
        if request.query:
            url = f"{url}?{request.query}"
        timeout = self._stream_timeout if request.stream else self._timeout
        session = self._session
        if session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        try:
            if request.body is None:
                response = await session.request(
                    request.method,
                    URL(url, encoded=True),
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout,
                    skip_auto_headers=_NO_CONTENT_TYPE,
                )
            else:
                response = await session.request(
                    request.method,
                    URL(url, encoded=True),
                    data=request.body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc
        except asyncio.CancelledError:
            raise
        return UpstreamResponse(response)

    async def get(self, path: str, secret: str) -> tuple[int, bytes]:
        """A small GET (models list, probes), read whole."""
        response = await self.send(UpstreamRequest("GET", path), secret)
        try:
            return response.status, await response.read()
        finally:
            response.close()  # after a whole read, a no-op: the connection is back in the pool
