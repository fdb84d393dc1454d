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
    """An open upstream response; read it whole or chunk by chunk, then close it.

    A streamed response given ``idle_timeout_s`` ends with ``UpstreamTimeout`` once a read
    has waited that long for a byte. aiohttp's own ``sock_read`` timeout does the same with
    a new timer on every chunk received (1,000 streams of 100 chunks: 100,000 timers, each
    left in the event loop's heap until it is swept); this keeps one timer per stream,
    re-armed only when it fires: it then looks at how long the current read has waited,
    and either ends the stream or sleeps for the rest of the allowance. Time the proxy
    spends writing to a slow client does not count, as with ``sock_read``.
    """

    __slots__ = ("_idle_s", "_loop", "_response", "_timer", "_waiting_since", "content_type", "status")

    def __init__(self, response: aiohttp.ClientResponse, idle_timeout_s: float | None = None) -> None:
        self._response = response
        self.status: int = response.status
        self.content_type: str = response.headers.get("Content-Type", "application/json")
        self._idle_s = idle_timeout_s
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        if idle_timeout_s is not None:
            self._loop = asyncio.get_running_loop()
            self._timer = self._loop.call_later(idle_timeout_s, self._check_idle)

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        """The whole body; the connection then goes back to the keep-alive pool."""
        try:
            body = await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc
        self.release()
        return body

    async def next_chunk(self) -> bytes:
        """The next piece of the body as it arrives; b"" at its end."""
        if self._timer is not None:
            self._waiting_since = self._loop.time()
        try:
            chunk = await self._response.content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc
        finally:
            self._waiting_since = None
        if not chunk:
            self._stop_timer()
        return chunk

    def close(self) -> None:
        """Drop the connection (cancels an unfinished upstream call)."""
        self._stop_timer()
        self._response.close()

    def release(self) -> None:
        """Give a fully read connection back to the keep-alive pool."""
        self._stop_timer()
        self._response.release()

    def _check_idle(self) -> None:
        assert self._idle_s is not None
        if self._response.closed:  # dropped without close(): nothing left to watch
            self._timer = None
            return
        now = self._loop.time()
        waiting = self._waiting_since
        if waiting is not None and now - waiting >= self._idle_s:
            self._timer = None
            # what aiohttp's sock_read timeout raises; the read maps it to UpstreamTimeout
            self._response.content.set_exception(
                aiohttp.ServerTimeoutError("no data from the upstream in time")
            )
            return
        self._timer = self._loop.call_at(
            (now if waiting is None else waiting) + self._idle_s, self._check_idle
        )

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


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
        # stream must have its headers within request_timeout_s, and may then run longer,
        # but never waits request_timeout_s for a byte (UpstreamResponse's idle timer).
        self._request_timeout_s = request_timeout_s
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=connect_timeout_s)
        self._stream_timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s)
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
        session = self._session
        if session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        # A body-less call must not be given a Content-Type by aiohttp.
        pending = session.request(
            request.method,
            URL(url, encoded=True),
            data=request.body,
            headers=headers,
            allow_redirects=False,
            timeout=self._stream_timeout if request.stream else self._timeout,
            skip_auto_headers=_NO_CONTENT_TYPE if request.body is None else None,
        )
        try:
            if request.stream:  # its headers within request_timeout_s (a unary call: its ClientTimeout)
                async with asyncio.timeout(self._request_timeout_s):
                    response = await pending
            else:
                response = await pending
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _map_error(exc) from exc
        return UpstreamResponse(response, self._request_timeout_s if request.stream else None)

    async def get(self, path: str, secret: str) -> tuple[int, bytes]:
        """A small GET (models list, probes), read whole."""
        response = await self.send(UpstreamRequest("GET", path), secret)
        try:
            return response.status, await response.read()
        finally:
            response.close()  # after a whole read, a no-op: the connection is back in the pool
