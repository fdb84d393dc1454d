"""Fetching remote images for OpenAI requests, without becoming a way into private networks.

A chat request may name an ``http(s)`` image URL (protocol.md D.4, F#12). When the
operator allows it (``openai.fetch_remote_media``), the proxy downloads it with a size
cap and a time limit, and only from public addresses: a URL whose host is, or resolves
to, a loopback, private, link-local, multicast, reserved or otherwise non-global address
is refused. The check is made three times, so no path slips past it:

- the URL's host when it is an IP literal (aiohttp does not resolve those);
- every address a host name resolves to (``GuardedResolver``: one bad address refuses the
  host, so DNS answers that mix public and private addresses do not get through);
- the address of every socket about to connect (``socket_factory``), which also covers
  DNS rebinding between a check and the connection.

Redirects are followed by hand (at most ``MAX_REDIRECTS``), each hop checked the same
way. Every failure is an ``InvalidRequest`` (400) that says which URL and why.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate import FetchedMedia

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

MAX_REDIRECTS = 3
MAX_REMOTE_URLS = 16
_CONCURRENT_FETCHES = 4
_READ_SIZE = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ACCEPTED_TYPES = ("", "application/octet-stream", "binary/octet-stream")
_SHOWN_URL_CHARS = 200


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (the default policy).

    IPv6 forms that embed an IPv4 address (mapped, 6to4, NAT64) are judged by that
    IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


class ForbiddenAddress(OSError):
    """A host resolved to, or a socket was about to connect to, an address the policy refuses."""


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """Resolves host names and refuses the host if any of its addresses fails the policy."""

    def __init__(self, policy: AddressPolicy, resolver: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            address = _parse_address(result["host"])
            if address is None or not self._policy(address):
                raise ForbiddenAddress(f"{host} resolves to {result['host']}, which is not a public address")
        return results

    async def close(self) -> None:
        await self._resolver.close()


def guarded_socket_factory(policy: AddressPolicy) -> aiohttp.SocketFactoryType:
    """A ``socket_factory`` for ``TCPConnector`` that refuses to connect to an address the policy refuses."""

    def create(addr_info: aiohttp.AddrInfoType) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = _parse_address(str(sockaddr[0]))
        if address is None or not policy(address):
            raise ForbiddenAddress(f"refusing to connect to {sockaddr[0]}: not a public address")
        return socket.socket(family=family, type=kind, proto=proto)

    return create


def _refused(url: str, reason: str) -> InvalidRequest:
    shown = url if len(url) <= _SHOWN_URL_CHARS else url[:_SHOWN_URL_CHARS] + "..."
    return InvalidRequest(
        f"The image at {shown} could not be used: {reason}.", param="messages", code="invalid_image_url"
    )


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """How much one remote image may weigh and how long its download (redirects included) may take."""

    max_bytes: int
    timeout_s: float


class RemoteMediaFetcher:
    """Downloads remote images within ``MediaLimits``, from addresses the policy allows.

    One ``aiohttp.ClientSession`` of its own (never the upstream's), created on first
    use and closed by ``close``; no cookies, no proxy from the environment. The limits
    are given per call, so a configuration reload applies to the next request.
    """

    def __init__(self, *, policy: AddressPolicy = is_public_address, max_urls: int = MAX_REMOTE_URLS) -> None:
        self._policy = policy
        self._max_urls = max_urls
        self._session: aiohttp.ClientSession | None = None

    def _session_for_fetch(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._policy),
                socket_factory=guarded_socket_factory(self._policy),
                limit=32,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                headers={"User-Agent": "gemini-proxy (remote media fetch)", "Accept": "image/*"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_all(self, urls: Sequence[str], limits: MediaLimits) -> dict[str, FetchedMedia]:
        """Every URL's (media type, bytes), fetched a few at a time; the first failure is raised."""
        if len(urls) > self._max_urls:
            raise InvalidRequest(
                f"A request may refer to at most {self._max_urls} remote images; it refers to {len(urls)}.",
                param="messages",
                code="too_many_images",
            )
        limit = asyncio.Semaphore(_CONCURRENT_FETCHES)

        async def fetch_one(url: str) -> tuple[str, FetchedMedia]:
            async with limit:
                return url, await self.fetch(url, limits)

        tasks = [asyncio.ensure_future(fetch_one(url)) for url in urls]
        try:
            return dict(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def fetch(self, url: str, limits: MediaLimits) -> FetchedMedia:
        """One image's (media type, bytes); ``InvalidRequest`` naming the URL when it cannot be used."""
        try:
            async with asyncio.timeout(limits.timeout_s):
                return await self._follow(url, limits.max_bytes)
        except TimeoutError:
            raise _refused(url, f"it did not arrive within {limits.timeout_s:g} s") from None
        except ForbiddenAddress as exc:
            raise _refused(url, str(exc)) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ForbiddenAddress):
                raise _refused(url, str(exc.os_error)) from None
            raise _refused(url, "its host cannot be reached") from None
        except aiohttp.ClientError as exc:
            raise _refused(url, f"the download failed ({type(exc).__name__})") from None

    async def _follow(self, url: str, max_bytes: int) -> FetchedMedia:
        target = self._checked_url(url, url)
        session = self._session_for_fetch()
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(target, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise _refused(url, "it redirects without a Location")
                    target = self._checked_url(url, str(target.join(URL(location))))
                    continue
                if response.status != 200:
                    raise _refused(url, f"its server answered HTTP {response.status}")
                return await self._read(url, response, max_bytes)
        raise _refused(url, f"it redirects more than {MAX_REDIRECTS} times")

    def _checked_url(self, original: str, url: str) -> URL:
        try:
            parsed = URL(url)
        except ValueError:
            raise _refused(original, "it is not a valid URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise _refused(original, "only http and https URLs with a host can be fetched")
        address = _parse_address(parsed.host)
        if address is not None and not self._policy(address):
            raise _refused(original, f"{parsed.host} is not a public address")
        return parsed

    async def _read(self, url: str, response: aiohttp.ClientResponse, max_bytes: int) -> FetchedMedia:
        mime = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if not mime.startswith("image/") and mime not in _ACCEPTED_TYPES:
            raise _refused(url, f"it is not an image (Content-Type {mime})")
        declared = response.content_length
        if declared is not None and declared > max_bytes:
            raise _refused(url, f"it is larger than {max_bytes} bytes")
        pieces: list[bytes] = []
        size = 0
        async for piece in response.content.iter_chunked(_READ_SIZE):
            size += len(piece)
            if size > max_bytes:
                raise _refused(url, f"it is larger than {max_bytes} bytes")
            pieces.append(piece)
        if not size:
            raise _refused(url, "it is empty")
        return mime, b"".join(pieces)
