"""``SharedState``: two pools kept in step through Redis, and an instance that starts or goes
on without Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared import SecretCipher, SharedState
from tests.redis_support import REDIS_URL, RedisServer, unreachable_redis_url

from .conftest import IDS, MODEL, Clock, PoolFactory


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


def linked(
    url: str, prefix: str, make_pool: PoolFactory, clock: Clock, *, rpd: int | None = None
) -> tuple[SharedState, KeyPool]:
    """A pool wired to a SharedState the way the app wires them (not started)."""
    state = SharedState(
        url, prefix=prefix, cipher=SecretCipher(None), clock=clock, log=structlog.get_logger()
    )
    pool = make_pool(on_event=state.key_event, rpd=rpd)
    state.attach(pool, on_key_added=lambda secret: None)
    return state, pool


async def until(check: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.002)


class TestTwoInstances:
    """What happens to one pool happens to the other."""

    async def test_a_rate_limit_a_disable_and_usage_reach_the_other_pool(
        self, prefix: str, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """A 429 on A cools the pair on B, A's disable disables on B, A's picks count on B."""
        a_state, a = linked(REDIS_URL, prefix, make_pool, clock, rpd=50)
        b_state, b = linked(REDIS_URL, prefix, make_pool, clock, rpd=50)
        await a_state.start()
        await b_state.start()
        try:
            assert a_state.up and b_state.up
            lease = a.acquire(MODEL)
            a.release(
                lease, Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=60), latency_s=0.1
            )
            a.disable(IDS[2], "rotating")

            await until(lambda: b.view(lease.key_id).status == "cooling")
            await until(lambda: b.view(IDS[2]).status == "disabled")
            assert b.view(IDS[2]).disabled_reason == "rotating"
            await until(lambda: b.view(lease.key_id).usage[0].requests_today == 1)
        finally:
            await a_state.close()
            await b_state.close()

    async def test_a_breaker_opening_and_a_reset_reach_the_other_pool(
        self, prefix: str, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Three failures on A open the key's breaker on B; A's reset clears it (and its cooldown) on B."""
        a_state, a = linked(REDIS_URL, prefix, make_pool, clock)
        b_state, b = linked(REDIS_URL, prefix, make_pool, clock)
        await a_state.start()
        await b_state.start()
        others = [key for key in IDS if key != IDS[1]]
        try:
            for _ in range(3):
                lease = a.acquire(MODEL, exclude=others)
                a.release(lease, Outcome(OutcomeKind.TRANSIENT, "http_500"), latency_s=0.1)
            lease = a.acquire(MODEL)
            a.release(lease, Outcome(OutcomeKind.RATE_LIMITED, "q", retry_after_s=60), latency_s=0.1)
            await until(lambda: b.view(IDS[1]).status == "open")
            await until(lambda: b.view(lease.key_id).status == "cooling")

            a.reset(IDS[1])
            a.reset(lease.key_id)

            await until(lambda: b.view(IDS[1]).status == "active")
            await until(lambda: b.view(lease.key_id).status == "active")
        finally:
            await a_state.close()
            await b_state.close()


class TestWithoutRedis:
    """Redis away: the pool keeps its changes and the link says so once."""

    async def test_start_without_redis_is_down_and_logged_once(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Nothing listens: ``up`` is false, one ``shared_state_down``, changes stay pending."""
        with capture_logs() as logs:
            state, pool = linked(unreachable_redis_url(), "unused", make_pool, clock)
            await state.start(wait_s=3.0)
            pool.disable(IDS[0])
            await asyncio.sleep(0.3)  # a few reconnect attempts
            assert not state.up and state.status().pending == 1
            await state.close()
        assert [e["event"] for e in logs].count("shared_state_down") == 1
        assert any(e["event"] == "shared_state_unflushed" for e in logs)

    async def test_changes_made_while_down_are_pushed_when_redis_comes(
        self, tmp_path: Path, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """A disable made with Redis away reaches a pool that connects after Redis starts."""
        server = RedisServer(tmp_path / "redis")
        heard: list[bool] = []
        try:
            a_state, a = linked(server.url, "late", make_pool, clock)
            a_state.watch(heard.append)
            await a_state.start(wait_s=3.0)
            a.disable(IDS[1], "while away")

            server.start()
            await until(lambda: a_state.up, timeout_s=5.0)
            b_state, b = linked(server.url, "late", make_pool, clock)
            await b_state.start()
            assert b.view(IDS[1]).disabled_reason == "while away"
            assert heard == [True]
            server.stop()
            await until(lambda: not a_state.up, timeout_s=5.0)
            assert heard == [True, False]
            await a_state.close()
            await b_state.close()
        finally:
            server.stop()
