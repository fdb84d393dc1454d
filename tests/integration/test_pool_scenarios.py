"""Key pool scenarios with the real proxy and the fake upstream over loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy

BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"


async def _post_many(proxy: RunningProxy, n: int, *, concurrency: int = 8) -> list[int]:
    statuses: list[int] = []
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with (
                semaphore,
                session.post(
                    proxy.url + FLASH, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
                ) as response,
            ):
                await response.read()
                statuses.append(response.status)

        await asyncio.gather(*(one() for _ in range(n)))
    return statuses


def _generations(fake: RunningFake, key: str) -> int:
    return sum(1 for r in fake.state.recorded if r.key == key and r.api_method == "generateContent")


def _events(proxy: RunningProxy, name: str) -> list[dict[str, Any]]:
    return [e for e in proxy.log_events() if e.get("event") == name]


async def _wait_for_event(proxy: RunningProxy, name: str, key: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e.get("key_id") == key_id(key) for e in _events(proxy, name)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {name} event for the key within {timeout_s} s")


class TestRateLimitStorm:
    async def test_429_storm_on_half_the_keys(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Two keys answer 429: every client request succeeds and each storm key is tried once."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=60),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE, retry_delay_s=60),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})
        statuses = await _post_many(proxy, 40, concurrency=1)
        assert statuses == [200] * 40
        assert fake.state.requests_by_key[KEYS[0]] == 1
        assert fake.state.requests_by_key[KEYS[1]] == 1
        assert fake.state.requests_by_key[KEYS[2]] + fake.state.requests_by_key[KEYS[3]] == 40
        assert await _post_many(proxy, 40, concurrency=8) == [200] * 40
        assert fake.state.requests_by_key[KEYS[0]] + fake.state.requests_by_key[KEYS[1]] == 2
        cooled = {e["key_id"] for e in _events(proxy, "key_cooled")}
        assert cooled == {key_id(KEYS[0]), key_id(KEYS[1])}


class TestProactiveLimits:
    async def test_rpm_limit_keeps_upstream_free_of_429s(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """With rpm set to the fake's real quota, no 429 comes from upstream; past capacity the proxy says 429."""
        fake = await fake_factory(FakeConfig(rules=(Rule(rpm=3),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"limits": {"rpm": 3}})
        statuses = await _post_many(proxy, 12)
        assert statuses == [200] * 12
        async with (
            aiohttp.ClientSession() as session,
            session.post(proxy.url + FLASH, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}) as response,
        ):
            assert response.status == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert sum(fake.state.requests_by_key.values()) == 12
        upstream_statuses = {e.get("upstream_status") for e in _events(proxy, "access")}
        assert 429 not in upstream_statuses


class TestRejectedKeyAndProber:
    async def test_invalid_key_gets_no_traffic_then_returns_after_probe(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A rejected key gets no more requests; the prober's models GET brings it back."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),))
        )
        proxy = await proxy_factory(
            upstream={"base_url": fake.url},
            pool={"probe_initial_s": 0.3, "probe_interval_s": 0.05},
        )
        assert await _post_many(proxy, 8, concurrency=1) == [200] * 8
        assert _generations(fake, KEYS[0]) == 1
        await _wait_for_event(proxy, "key_probe_failed", KEYS[0])
        assert _generations(fake, KEYS[0]) == 1, "probes never generate"
        fake.state.set_rules(())
        await _wait_for_event(proxy, "key_enabled", KEYS[0])
        assert await _post_many(proxy, 8) == [200] * 8
        assert _generations(fake, KEYS[0]) > 1
        probes = [r for r in fake.state.recorded if r.key == KEYS[0] and r.api_method == "models.get"]
        assert probes, "the probe is a models GET"


class TestBreaker:
    async def test_flaky_503_key_opens_then_half_opens_and_closes(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Three 503s open the key's breaker; after the open period one trial goes through and closes it."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.FLAKY, every=1),))
        )
        proxy = await proxy_factory(
            upstream={"base_url": fake.url},
            pool={"failure_threshold": 3, "backoff_base_s": 0.3, "backoff_max_s": 0.3},
        )
        assert await _post_many(proxy, 16, concurrency=1) == [200] * 16
        await _wait_for_event(proxy, "key_opened", KEYS[0])
        failures = fake.state.requests_by_key[KEYS[0]]
        assert failures == 3
        assert await _post_many(proxy, 8, concurrency=1) == [200] * 8
        assert fake.state.requests_by_key[KEYS[0]] == 3, "an open key gets no traffic"
        fake.state.set_rules(())
        await asyncio.sleep(0.35)
        assert await _post_many(proxy, 8, concurrency=1) == [200] * 8
        await _wait_for_event(proxy, "key_half_open", KEYS[0])
        await _wait_for_event(proxy, "key_closed", KEYS[0])
        assert fake.state.requests_by_key[KEYS[0]] > 3


class TestWaitForKey:
    async def test_request_waits_for_a_cooling_key(
        self, proxy_factory: ProxyFactory, fake: RunningFake
    ) -> None:
        """With wait_for_key_s, a request finding every key cooling waits for the recovery and succeeds."""
        proxy = await proxy_factory(
            upstream={"base_url": fake.url},
            keys=[{"key": KEYS[0]}],
            pool={"wait_for_key_s": 3},
        )
        fake.state.set_rules((Rule(behavior=Behavior.RATE_MINUTE, retry_delay_s=0.5),))

        async def heal() -> None:
            await asyncio.sleep(0.2)
            fake.state.set_rules(())

        healing = asyncio.create_task(heal())
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as session,
            session.post(proxy.url + FLASH, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}) as response,
        ):
            assert response.status == 200
            assert orjson.loads(await response.read())["candidates"]
        await healing
        assert 0.4 <= time.monotonic() - started <= 3
        assert fake.state.requests_by_key[KEYS[0]] == 2
