"""Running the fake: the in-process handle and the blocking CLI server."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp

from gemini_proxy.fake_upstream.runner import base_url, start_fake_upstream
from gemini_proxy.fake_upstream.scenario import FakeConfig
from tests.unit.fake_upstream.conftest import GENERATE, post_json, user_text

SERVE = (
    "from gemini_proxy.fake_upstream.runner import serve_fake_upstream;"
    "from gemini_proxy.fake_upstream.scenario import FakeConfig;"
    "serve_fake_upstream(FakeConfig(), '127.0.0.1', 0)"
)


class TestStartFakeUpstream:
    async def test_context_manager_serves_then_closes(self, session: aiohttp.ClientSession) -> None:
        """The handle's url answers while open and refuses connections after close."""
        async with await start_fake_upstream(FakeConfig()) as fake:
            assert fake.url == f"http://127.0.0.1:{fake.port}"
            assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 200
            assert fake.state.requests_by_key["k1"] == 1
        try:
            await post_json(session, fake.url + GENERATE, user_text("hi"))
        except aiohttp.ClientConnectionError:
            return
        raise AssertionError("the closed fake still answered")

    def test_ipv6_urls_are_bracketed(self) -> None:
        """An IPv6 host is written in brackets in the URL."""
        assert base_url("::1", 8080) == "http://[::1]:8080"


class TestServeFakeUpstream:
    async def test_prints_its_url_and_serves(self, session: aiohttp.ClientSession) -> None:
        """serve_fake_upstream prints one 'listening on' line with the bound port and serves there."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SERVE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
            assert line.startswith("fake upstream listening on http://127.0.0.1:")
            url = line.removeprefix("fake upstream listening on ")
            assert (await post_json(session, url + GENERATE, user_text("hi")))[0] == 200
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0
