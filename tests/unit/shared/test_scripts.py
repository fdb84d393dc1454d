"""The conditional writes in Redis (through ``Publisher``): instances that push late, in any
order, leave the same state."""

from __future__ import annotations

import time

import orjson
import pytest
from redis.asyncio import Redis

from gemini_proxy.keys.pacific import pacific_day_start
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.shared.layout import RedisLayout
from gemini_proxy.shared.outbox import Batch
from gemini_proxy.shared.publisher import Publisher
from gemini_proxy.shared.reader import SharedSnapshot, read_day_usage, read_state
from gemini_proxy.shared.stamps import Stamps
from gemini_proxy.store.records import CooldownRecord

from .conftest import IDS, MODEL, Clock, PoolFactory

PRO = "gemini-2.5-pro"


@pytest.fixture
def clock() -> Clock:
    """Real time: Redis expires usage counters by the wall clock."""
    return Clock(time.time())


async def push(
    pool: KeyPool, layout: RedisLayout, clock: Clock, client: Redis, batch: Batch
) -> list[Exception]:
    """Push ``batch`` as an instance holding ``pool`` would; the commands Redis refused."""
    publisher = Publisher(pool, layout, SecretCipher(None), Stamps(), origin="test", clock=clock)
    return await publisher.push(client, batch)


async def stored(client: Redis, layout: RedisLayout) -> SharedSnapshot:
    return await read_state(client, layout, SecretCipher(None))


class TestRegisters:
    """The disable and breaker registers: the later stamp wins."""

    async def test_an_older_write_does_not_replace_a_newer_one(
        self, client: Redis, layout: RedisLayout, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """A disable stamped later, pushed first, survives an enable stamped earlier, pushed after."""
        disabled, enabled = make_pool(), make_pool()
        disabled.disable(IDS[0], "newer")
        now = clock.now

        assert (
            await push(disabled, layout, clock, client, Batch(registers={("disable", IDS[0]): now + 10}))
            == []
        )
        assert await push(enabled, layout, clock, client, Batch(registers={("disable", IDS[0]): now})) == []

        state = await stored(client, layout)
        assert [(r.key_id, r.disabled, r.disabled_reason) for r in state.snapshot.keys] == [
            (IDS[0], True, "newer")
        ]
        assert state.stamps[IDS[0]].status_at == now + 10


class TestCooldownsAndResets:
    """Cooldowns take the later end; a reset clears what was set before it."""

    async def test_a_cooldown_lands_if_it_ends_later_and_was_set_after_the_last_reset(
        self, client: Redis, layout: RedisLayout, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Before the reset: refused; after it: stored; a shorter one later: refused."""
        long, short = make_pool(), make_pool()
        now = clock.now
        long.apply_cooldown(CooldownRecord(IDS[1], MODEL, now + 60, "long"))
        short.apply_cooldown(CooldownRecord(IDS[1], MODEL, now + 30, "short"))
        await push(long, layout, clock, client, Batch(resets={IDS[1]: now + 5}))

        await push(long, layout, clock, client, Batch(cooldowns={(IDS[1], MODEL): now}))
        assert (await stored(client, layout)).snapshot.cooldowns == ()
        await push(long, layout, clock, client, Batch(cooldowns={(IDS[1], MODEL): now + 6}))
        await push(short, layout, clock, client, Batch(cooldowns={(IDS[1], MODEL): now + 7}))

        state = await stored(client, layout)
        assert [(c.until, c.reason) for c in state.snapshot.cooldowns] == [(now + 60, "long")]
        assert state.cooldown_set_at[(IDS[1], MODEL)] == now + 6

    async def test_a_reset_clears_older_registers_and_cooldowns_and_keeps_newer_ones(
        self, client: Redis, layout: RedisLayout, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """The disable and the flash cooldown set before the reset go; the pro cooldown set after stays."""
        pool = make_pool()
        now = clock.now
        pool.disable(IDS[2])
        pool.apply_cooldown(CooldownRecord(IDS[2], MODEL, now + 60, "q"))
        pool.apply_cooldown(CooldownRecord(IDS[2], PRO, now + 60, "q"))
        await push(
            pool,
            layout,
            clock,
            client,
            Batch(
                registers={("disable", IDS[2]): now},
                cooldowns={(IDS[2], MODEL): now, (IDS[2], PRO): now + 20},
            ),
        )

        await push(pool, layout, clock, client, Batch(resets={IDS[2]: now + 10}))

        state = await stored(client, layout)
        assert [r.disabled for r in state.snapshot.keys] == [False]
        assert [c.model for c in state.snapshot.cooldowns] == [PRO]
        assert state.stamps[IDS[2]].reset_at == now + 10


class TestUsage:
    """Usage is added up in Redis, numbered, and published."""

    async def test_increments_add_up_are_numbered_and_published(
        self, client: Redis, layout: RedisLayout, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Two pushes of 2 requests and 10 tokens: 4 and 20 stored, messages numbered one after the other."""
        pool = make_pool()
        day = pacific_day_start(clock.now)
        pubsub = client.pubsub()
        await pubsub.subscribe(layout.channel)
        await pubsub.get_message(timeout=1.0)  # the subscription's confirmation

        for _ in range(2):
            await push(pool, layout, clock, client, Batch(usage={(day, IDS[0], MODEL): [2, 10]}))

        seq, records = await read_day_usage(client, layout, day)
        assert [(r.requests, r.tokens) for r in records] == [(4, 20)]
        messages = [orjson.loads((await pubsub.get_message(timeout=1.0))["data"]) for _ in range(2)]
        assert [m["s"] for m in messages] == [seq - 1, seq]
        assert messages[0]["u"] == [[IDS[0], MODEL, 2, 10]] and messages[0]["o"] == "test"
        await pubsub.aclose()
