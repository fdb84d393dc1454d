"""Real proxy processes (the CLI) sharing one Redis, and the small HTTP steps the
``test_redis_*`` tests take against them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN
from tests.integration.proc import ProxyProcess, free_port, write_config

FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@asynccontextmanager
async def instances(
    tmp_path: Path, upstream: str, redis_url: str, prefix: str, *, count: int = 2, **sections: Any
) -> AsyncIterator[list[ProxyProcess]]:
    """``count`` proxies on their own ports sharing ``redis_url`` under ``prefix``; killed at exit."""
    started: list[ProxyProcess] = []
    extra_state = sections.pop("state", {})
    try:
        for index in range(count):
            folder = tmp_path / f"instance-{index}"
            folder.mkdir()
            port = free_port()
            state = {
                "path": str(folder / "state.db"),
                "flush_interval_s": 0.2,
                "redis_url": redis_url,
                "redis_prefix": prefix,
                **extra_state,
            }
            config = write_config(folder, upstream, port, state=state, **sections)
            started.append(ProxyProcess(config, port, folder / "log"))
        await asyncio.gather(*(proxy.ready() for proxy in started))
        yield started
    finally:
        for proxy in started:
            proxy.close()


async def generate(session: aiohttp.ClientSession, proxy: ProxyProcess, n: int = 1) -> list[int]:
    """Send ``n`` generateContent requests one after another; their statuses."""
    statuses = []
    for _ in range(n):
        async with session.post(
            proxy.url + FLASH, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
        ) as response:
            await response.read()
            statuses.append(response.status)
    return statuses


async def key_view(session: aiohttp.ClientSession, proxy: ProxyProcess, key: str) -> dict[str, Any]:
    """The admin API's view of one key."""
    async with session.get(f"{proxy.url}/admin/keys/{key}", headers=ADMIN) as response:
        assert response.status == 200, await response.text()
        view: dict[str, Any] = await response.json()
        return view


async def admin_post(
    session: aiohttp.ClientSession, proxy: ProxyProcess, path: str, body: Any = None
) -> dict[str, Any]:
    """POST to the admin API; the JSON answer (2xx asserted)."""
    async with session.post(f"{proxy.url}{path}", headers=ADMIN, json=body) as response:
        assert response.status < 300, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def readiness(session: aiohttp.ClientSession, proxy: ProxyProcess) -> tuple[int, dict[str, Any]]:
    """``GET /readyz``: status code and body."""
    async with session.get(f"{proxy.url}/readyz") as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll ``check`` until it is true; the seconds it took (``AssertionError`` after ``timeout_s``)."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def events(proxy: ProxyProcess, name: str) -> list[dict[str, Any]]:
    """The proxy's log events called ``name``."""
    return [event for event in proxy.log_events() if event.get("event") == name]
