"""Remote image URLs: refused when fetching is off, never fetched from non-public addresses,
fetched within limits otherwise. A local aiohttp server plays the remote site."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from aiohttp import web

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.services import SERVICES
from gemini_proxy.upstream.media import (
    ForbiddenAddress,
    GuardedResolver,
    IPAddress,
    RemoteMediaFetcher,
    guarded_socket_factory,
    is_public_address,
)
from tests.conftest import ProxyFactory, RunningProxy
from tests.integration.openai_sdk import async_client, upstream_bodies

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MAX_BYTES = 1000


@dataclass
class ImageSite:
    """The local "remote" site and the paths it was asked for."""

    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def site() -> AsyncIterator[ImageSite]:
    """Serves /cat.png, redirects, an oversized image, an HTML page, a slow image and a 404."""
    served = ImageSite(port=0)

    async def handle(request: web.Request) -> web.StreamResponse:
        served.hits.append(request.path)
        if request.path == "/cat.png":
            return web.Response(body=PNG, content_type="image/png")
        if request.path == "/redirect":
            raise web.HTTPFound(str(request.query["to"]))
        if request.path == "/big.png":
            return web.Response(body=b"\x89PNG" + b"\x00" * 5000, content_type="image/png")
        if request.path == "/big-chunked.png":
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(10):
                await response.write(b"\x00" * 500)
            await response.write_eof()
            return response
        if request.path == "/page.html":
            return web.Response(text="<html></html>", content_type="text/html")
        if request.path == "/slow.png":
            await asyncio.sleep(2)
            return web.Response(body=PNG, content_type="image/png")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = int(runner.addresses[0][1])
    yield served
    await runner.cleanup()


def _image_message(url: str) -> list[Any]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def _bad_request(proxy: RunningProxy, url: str) -> openai.BadRequestError:
    async with async_client(proxy) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="gemini-2.5-flash", messages=_image_message(url))
    return raised.value


@pytest.fixture
async def fetching(proxy_factory: ProxyFactory, fake: RunningFake) -> RunningProxy:
    """A proxy with remote media fetching on, a 1000-byte cap and a short timeout."""
    return await proxy_factory(
        upstream={"base_url": fake.url},
        openai={
            "fetch_remote_media": True,
            "remote_media_max_bytes": MAX_BYTES,
            "remote_media_timeout_s": 0.3,
        },
    )


@pytest.fixture
def loopback_allowed(fetching: RunningProxy) -> RunningProxy:
    """``fetching`` with a fetcher whose policy allows exactly 127.0.0.1 (our test site), nothing else."""
    allowed = ipaddress.ip_address("127.0.0.1")
    fetching.app[SERVICES].media_fetcher = RemoteMediaFetcher(policy=lambda address: address == allowed)
    return fetching


class TestFetchingOff:
    async def test_remote_url_is_refused_without_fetching(
        self, proxy: RunningProxy, fake: RunningFake, site: ImageSite
    ) -> None:
        """With fetching off (the default), a remote URL is a clear 400 and nobody is contacted."""
        error = await _bad_request(proxy, site.url("/cat.png"))
        assert error.code == "remote_media_disabled"
        assert "not enabled" in error.message
        assert site.hits == []
        assert sum(fake.state.requests_by_key.values()) == 0


class TestNonPublicAddressesAreRefused:
    @pytest.mark.parametrize(
        "host",
        [
            "127.0.0.1",
            "localhost",
            "[::1]",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "[::ffff:127.0.0.1]",
        ],
    )
    async def test_refused_before_any_connection(
        self, fetching: RunningProxy, fake: RunningFake, site: ImageSite, host: str
    ) -> None:
        """Loopback, private, link-local and unspecified hosts (or names resolving to them) are a 400."""
        error = await _bad_request(fetching, site.url("/cat.png", host=host))
        assert error.code == "invalid_image_url"
        assert "not a public address" in error.message
        assert site.hits == []
        assert sum(fake.state.requests_by_key.values()) == 0

    async def test_redirect_to_a_refused_address(
        self, loopback_allowed: RunningProxy, site: ImageSite
    ) -> None:
        """A redirect from an allowed host to a refused one is not followed."""
        target = site.url("/cat.png", host="127.0.0.2")
        error = await _bad_request(loopback_allowed, site.url(f"/redirect?to={target}"))
        assert "127.0.0.2 is not a public address" in error.message
        assert site.hits == ["/redirect"]

    @pytest.mark.parametrize(
        ("address", "public"),
        [
            ("8.8.8.8", True),
            ("2001:4860:4860::8888", True),
            ("64:ff9b::808:808", True),  # NAT64 of a public address
            ("127.0.0.1", False),
            ("10.0.0.1", False),
            ("172.16.0.1", False),
            ("192.168.1.1", False),
            ("100.64.0.1", False),  # carrier-grade NAT
            ("169.254.169.254", False),  # cloud metadata
            ("224.0.0.1", False),  # multicast (which Python counts as global)
            ("240.0.0.1", False),  # reserved
            ("0.0.0.0", False),
            ("::1", False),
            ("fe80::1", False),
            ("fc00::1", False),
            ("ff02::1", False),
            ("::ffff:10.0.0.1", False),  # IPv4-mapped private
            ("2002:7f00:1::", False),  # 6to4 of loopback
            ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ],
    )
    def test_address_policy(self, address: str, public: bool) -> None:
        """Only public unicast addresses pass, judged by the IPv4 address an IPv6 form embeds."""
        parsed: IPAddress = ipaddress.ip_address(address)
        assert is_public_address(parsed) is public


class TestFetchingWithinLimits:
    async def test_image_is_fetched_and_sent_inline(
        self, loopback_allowed: RunningProxy, fake: RunningFake, site: ImageSite
    ) -> None:
        """An allowed image (through a redirect) goes upstream as inlineData with its type and bytes."""
        url = site.url(f"/redirect?to={site.url('/cat.png')}")
        async with async_client(loopback_allowed) as client:
            completion = await client.chat.completions.create(
                model="gemini-2.5-flash", messages=_image_message(url)
            )
        assert completion.choices[0].message.content == "Echo: describe"
        parts = upstream_bodies(fake, "generateContent")[-1]["contents"][0]["parts"]
        assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
        assert site.hits == ["/redirect", "/cat.png"]

    @pytest.mark.parametrize(
        ("path", "says"),
        [
            ("/big.png", f"larger than {MAX_BYTES} bytes"),
            ("/big-chunked.png", f"larger than {MAX_BYTES} bytes"),
            ("/page.html", "not an image"),
            ("/slow.png", "did not arrive within 0.3 s"),
            ("/missing.png", "HTTP 404"),
        ],
    )
    async def test_unusable_download_is_400(
        self, loopback_allowed: RunningProxy, fake: RunningFake, site: ImageSite, path: str, says: str
    ) -> None:
        """Too large, not an image, too slow or missing: a 400 that names the URL and the reason."""
        url = site.url(path)
        error = await _bad_request(loopback_allowed, url)
        assert error.code == "invalid_image_url"
        assert url in error.message and says in error.message
        assert sum(fake.state.requests_by_key.values()) == 0


class TestEachGuardOnItsOwn:
    async def test_resolver_refuses_a_name_of_a_loopback_address(self) -> None:
        """The resolver alone refuses a host name that resolves to loopback."""
        resolver = GuardedResolver(is_public_address)
        try:
            with pytest.raises(ForbiddenAddress, match="not a public address"):
                await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    def test_socket_factory_refuses_a_loopback_address(self) -> None:
        """The socket factory alone refuses to open a socket to a refused address."""
        create = guarded_socket_factory(is_public_address)
        with pytest.raises(ForbiddenAddress, match=r"127\.0\.0\.1"):
            create((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80)))

    def test_socket_factory_opens_an_allowed_address(self) -> None:
        """The socket factory opens a socket for an address the policy allows."""
        create = guarded_socket_factory(lambda address: True)
        with create((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80))) as sock:
            assert sock.family == socket.AF_INET
