"""Two real proxy processes sharing key state through Redis, in front of one fake upstream."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import KEYS, FakeFactory
from tests.integration.proc import ProxyProcess
from tests.integration.redis_instances import (
    ADMIN,
    admin_post,
    generate,
    instances,
    key_view,
    wait_for,
)
from tests.redis_support import (
    REDIS_URL,
    delete_prefix,
    require_redis,
    stored_values,
    unique_prefix,
)

ADDED_KEY = "AIzaSyADDEDsharedabcdefghijklmnopqrstu01"
SECRET = "a-long-random-state-secret-for-tests-0001"


@pytest.fixture(autouse=True)
def _redis_is_running() -> None:
    """These tests need the shared Redis; without it they fail rather than skip."""
    require_redis()


@pytest.fixture
def prefix() -> Iterator[str]:
    value = unique_prefix("sharing")
    yield value
    delete_prefix(REDIS_URL, value)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def state_is(
    session: aiohttp.ClientSession, proxy: ProxyProcess, key: str, state: str
) -> Callable[[], object]:
    async def check() -> bool:
        return (await key_view(session, proxy, key_id(key)))["state"] == state

    return check


class TestCooldownsAndDisables:
    """What one instance learns about a key, the other acts on."""

    async def test_429_on_a_cools_the_key_on_b(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """A rate limit seen by A cools that key on B: B sends it no traffic for the model."""
        rule = Rule(
            key_prefix=KEYS[0], model="gemini-2.5-flash", behavior=Behavior.RATE_MINUTE, retry_delay_s=60
        )
        fake = await fake_factory(FakeConfig(rules=(rule,)))
        async with instances(tmp_path, fake.url, REDIS_URL, prefix) as (a, b):  # type: ignore[arg-type]
            assert await generate(session, a, 4) == [200] * 4
            assert fake.state.requests_by_key[KEYS[0]] == 1
            await wait_for(state_is(session, b, KEYS[0], "cooling"), 1.0, "B sees the cooldown")  # type: ignore[arg-type]
            fake.state.reset()

            assert await generate(session, b, 8) == [200] * 8
            assert fake.state.requests_by_key[KEYS[0]] == 0
            assert sum(fake.state.requests_by_key.values()) == 8

    async def test_key_rejected_on_a_gets_no_traffic_from_b(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """A key the upstream rejects on A is disabled on B too."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY),))
        )
        async with instances(tmp_path, fake.url, REDIS_URL, prefix) as (a, b):  # type: ignore[arg-type]
            assert await generate(session, a, 4) == [200] * 4
            assert fake.state.requests_by_key[KEYS[1]] == 1
            await wait_for(state_is(session, b, KEYS[1], "disabled"), 1.0, "B sees the disable")  # type: ignore[arg-type]
            fake.state.reset()

            assert await generate(session, b, 8) == [200] * 8
            assert fake.state.requests_by_key[KEYS[1]] == 0

    async def test_admin_disable_and_enable_on_a_apply_on_b(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """An admin's disable on A takes the key out on B; the enable on A brings it back on B."""
        fake = await fake_factory()
        target = key_id(KEYS[2])
        async with instances(tmp_path, fake.url, REDIS_URL, prefix) as (a, b):  # type: ignore[arg-type]
            await admin_post(session, a, f"/admin/keys/{target}/disable", {"reason": "rotating"})
            await wait_for(state_is(session, b, KEYS[2], "disabled"), 1.0, "B sees the disable")  # type: ignore[arg-type]
            assert (await key_view(session, b, target))["disabled"]["reason"] == "rotating"
            assert await generate(session, b, 8) == [200] * 8
            assert fake.state.requests_by_key[KEYS[2]] == 0

            await admin_post(session, a, f"/admin/keys/{target}/enable")
            await wait_for(state_is(session, b, KEYS[2], "active"), 1.0, "B sees the enable")  # type: ignore[arg-type]
            assert await generate(session, b, 8) == [200] * 8
            assert fake.state.requests_by_key[KEYS[2]] == 2


class TestAddedKeys:
    """Keys added or removed through one instance's admin API."""

    async def test_key_added_on_a_serves_on_b_and_is_stored_encrypted(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """B takes the key A added and uses it; Redis holds it only encrypted (state.secret)."""
        fake = await fake_factory()
        async with instances(
            tmp_path,  # type: ignore[arg-type]
            fake.url,
            REDIS_URL,
            prefix,
            state={"secret": SECRET},
        ) as (a, b):
            await admin_post(session, a, "/admin/keys", {"key": ADDED_KEY, "name": "late"})

            async def b_has_it() -> bool:
                async with session.get(f"{b.url}/admin/keys/{key_id(ADDED_KEY)}", headers=ADMIN) as response:
                    return response.status == 200

            await wait_for(b_has_it, 1.0, "B has the added key")
            assert await generate(session, b, 10) == [200] * 10
            assert fake.state.requests_by_key[ADDED_KEY] == 2
            stored = stored_values(REDIS_URL, prefix)
            assert b"secret_enc" in stored
            assert ADDED_KEY.encode() not in stored
            for key in KEYS:
                assert key.encode() not in stored
            assert ADDED_KEY not in b.log_path.read_text()

    async def test_key_removed_on_a_leaves_b(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """A key an admin removes on A is gone from B's pool as well."""
        fake = await fake_factory()
        target = key_id(KEYS[3])
        async with instances(tmp_path, fake.url, REDIS_URL, prefix) as (a, b):  # type: ignore[arg-type]
            async with session.delete(f"{a.url}/admin/keys/{target}", headers=ADMIN) as response:
                assert response.status == 200

            async def b_lost_it() -> bool:
                async with session.get(f"{b.url}/admin/keys/{target}", headers=ADMIN) as response:
                    return response.status == 404

            await wait_for(b_lost_it, 1.0, "B removed the key")
            assert await generate(session, b, 6) == [200] * 6
            assert fake.state.requests_by_key[KEYS[3]] == 0


# Picks never wait on Redis, so two instances picking within the propagation delay (about
# a millisecond, pinned by TestPropagation) can both take a key's last unit. The requests
# here alternate between the instances further apart than that.
SPACING_S = 0.02


class TestUsageCounters:
    """The rpm/rpd/tpm counters are shared: the limit holds for the instances together."""

    async def test_rpd_adds_up_across_both_instances(
        self, tmp_path: object, fake_factory: FakeFactory, prefix: str, session: aiohttp.ClientSession
    ) -> None:
        """With rpd 3 per key, the upstream sees 3 requests per key in total, whichever instance sent them."""
        fake = await fake_factory()
        async with instances(
            tmp_path,  # type: ignore[arg-type]
            fake.url,
            REDIS_URL,
            prefix,
            pool={"limits": {"rpd": 3}},
        ) as (a, b):
            statuses: list[int] = []
            for turn in range(30):
                statuses += await generate(session, (a, b)[turn % 2])
                await asyncio.sleep(SPACING_S)

            assert statuses.count(200) == 3 * len(KEYS)
            assert set(statuses[3 * len(KEYS) :]) == {429}
            assert {key: fake.state.requests_by_key[key] for key in KEYS} == dict.fromkeys(KEYS, 3)
            for proxy in (a, b):
                views = [await key_view(session, proxy, key_id(key)) for key in KEYS]
                assert [view["usage"][0]["requests_today"] for view in views] == [3] * len(KEYS)


class TestPropagation:
    """How long a change takes to reach the other instance."""

    async def test_a_change_on_a_reaches_b_within_100_ms(
        self,
        tmp_path: object,
        fake_factory: FakeFactory,
        prefix: str,
        session: aiohttp.ClientSession,
        record_property: Callable[[str, object], None],
    ) -> None:
        """Disables and enables made on A show on B within 100 ms (20 changes, each timed)."""
        fake = await fake_factory()
        target = key_id(KEYS[0])
        latencies_ms: list[float] = []
        async with instances(tmp_path, fake.url, REDIS_URL, prefix) as (a, b):  # type: ignore[arg-type]
            for turn in range(20):
                action, state = ("disable", "disabled") if turn % 2 == 0 else ("enable", "active")
                started = time.perf_counter()
                await admin_post(session, a, f"/admin/keys/{target}/{action}")
                await wait_for(state_is(session, b, KEYS[0], state), 1.0, f"B sees the {action}")  # type: ignore[arg-type]
                latencies_ms.append((time.perf_counter() - started) * 1000)
        latencies_ms.sort()
        figures = {
            "p50_ms": round(statistics.median(latencies_ms), 2),
            "p95_ms": round(latencies_ms[int(0.95 * (len(latencies_ms) - 1))], 2),
            "max_ms": round(latencies_ms[-1], 2),
        }
        for name, value in figures.items():
            record_property(f"redis_propagation_{name}", value)
        print(f"redis propagation A -> B (admin change until B's admin API shows it): {figures}")
        assert figures["max_ms"] < 100
