"""Redis going away and coming back under two real proxy processes: no client request fails,
readiness says ``degraded``, and the state converges once Redis is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis

from gemini_proxy.keys.model import key_id
from tests.conftest import KEYS, FakeFactory
from tests.integration.proc import ProxyProcess
from tests.integration.redis_instances import (
    admin_post,
    events,
    generate,
    instances,
    key_view,
    readiness,
    wait_for,
)
from tests.redis_support import RedisServer, unique_prefix


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server (not started yet), killed at the end."""
    private = RedisServer(tmp_path / "redis")
    yield private
    private.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Load:
    """Two loops sending requests without pause to each instance in turn; every status kept."""

    def __init__(self, session: aiohttp.ClientSession, proxies: list[ProxyProcess]) -> None:
        self.statuses: list[int] = []
        self._session = session
        self._proxies = proxies
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._run(offset)) for offset in range(2)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self, offset: int) -> None:
        turn = offset
        while not self._stop.is_set():
            self.statuses += await generate(self._session, self._proxies[turn % len(self._proxies)])
            turn += 1

    async def stop(self) -> list[int]:
        """Stop both loops (a loop that failed raises here) and return the statuses."""
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.statuses


async def shared_up(session: aiohttp.ClientSession, proxy: ProxyProcess) -> bool:
    status, body = await readiness(session, proxy)
    return status == 200 and body["status"] == "ready" and body["shared_state"]["up"] is True


async def degraded(session: aiohttp.ClientSession, proxy: ProxyProcess) -> bool:
    status, body = await readiness(session, proxy)
    return status == 200 and body["status"] == "degraded" and body["shared_state"]["up"] is False


async def metric(session: aiohttp.ClientSession, proxy: ProxyProcess, name: str) -> float:
    async with session.get(f"{proxy.url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


class TestOutage:
    """Redis stopped in the middle of a load and started again, empty."""

    async def test_every_request_is_answered_and_the_state_converges(
        self, tmp_path: Path, fake_factory: FakeFactory, server: RedisServer, session: aiohttp.ClientSession
    ) -> None:
        """While Redis is down both instances serve and say degraded; changes made meanwhile meet after."""
        fake = await fake_factory()
        server.start()
        x, y = key_id(KEYS[0]), key_id(KEYS[1])
        prefix = unique_prefix("outage")
        async with (
            instances(tmp_path, fake.url, server.url, prefix) as (a, b),
            Load(session, [a, b]) as load,
        ):
            await asyncio.sleep(0.3)
            server.stop()
            for proxy in (a, b):
                await wait_for(lambda proxy=proxy: degraded(session, proxy), 3.0, "readiness says degraded")
                assert await metric(session, proxy, "gemini_proxy_shared_state_up") == 0.0
            await admin_post(session, a, f"/admin/keys/{x}/disable")
            await admin_post(session, b, f"/admin/keys/{y}/disable")
            await asyncio.sleep(0.5)
            assert (await key_view(session, b, x))["state"] == "active", "nothing can be shared now"

            server.start()
            for proxy in (a, b):
                await wait_for(lambda proxy=proxy: shared_up(session, proxy), 5.0, "the link is back")
            await asyncio.sleep(0.3)
            statuses = await load.stop()

            assert statuses and set(statuses) == {200}, f"a request failed: {sorted(set(statuses))}"
            for proxy in (a, b):
                for key in (x, y):
                    assert (await key_view(session, proxy, key))["state"] == "disabled"
                assert await metric(session, proxy, "gemini_proxy_shared_state_up") == 1.0
                assert len(events(proxy, "shared_state_down")) == 1
                assert len(events(proxy, "shared_state_restored")) == 1
            await admin_post(session, b, f"/admin/keys/{x}/enable")

            async def a_sees_enable() -> bool:
                return (await key_view(session, a, x))["state"] == "active"

            await wait_for(a_sees_enable, 1.0, "a change after the outage reaches A")
        with redis.Redis.from_url(server.url, decode_responses=True) as client:
            assert client.hget(f"{prefix}:key:{y}", "disabled") == "1", (
                "Redis came back empty and was re-seeded"
            )
            assert client.hget(f"{prefix}:key:{x}", "disabled") == "0"

    async def test_an_instance_started_without_redis_serves_and_connects_later(
        self, tmp_path: Path, fake_factory: FakeFactory, server: RedisServer, session: aiohttp.ClientSession
    ) -> None:
        """Redis unreachable at start: the proxy serves degraded, then shares once Redis starts."""
        fake = await fake_factory()
        prefix = unique_prefix("late")
        async with instances(tmp_path, fake.url, server.url, prefix, count=1) as (alone,):
            assert await generate(session, alone, 4) == [200] * 4
            assert await degraded(session, alone)
            assert len(events(alone, "shared_state_down")) == 1
            await admin_post(session, alone, f"/admin/keys/{key_id(KEYS[2])}/disable")

            server.start()
            await wait_for(lambda: shared_up(session, alone), 5.0, "the link comes up")
            assert await generate(session, alone, 4) == [200] * 4

        with redis.Redis.from_url(server.url, decode_responses=True) as client:
            stored = client.hgetall(f"{prefix}:key:{key_id(KEYS[2])}")
        assert stored["disabled"] == "1", "the disable made while Redis was away was pushed"
