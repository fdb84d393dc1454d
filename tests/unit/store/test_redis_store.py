"""What the Redis store does beyond the store contract: prefixes, sealed keys, Redis away."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.store.base import StoreUnavailable
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, PoolSnapshot
from gemini_proxy.store.redis_store import RedisStore
from tests.redis_support import (
    REDIS_URL,
    delete_prefix,
    require_redis,
    stored_values,
    unique_prefix,
    unreachable_redis_url,
)

from .harness import SECRET

STATE_SECRET = "state-secret-for-the-redis-store-tests"

StoreFactory = Callable[..., RedisStore]


@pytest.fixture
def prefixes() -> Iterator[list[str]]:
    """Prefixes handed out by ``open_store``; deleted at the end."""
    require_redis()
    made: list[str] = []
    yield made
    for prefix in made:
        delete_prefix(REDIS_URL, prefix)


@pytest.fixture
async def open_store(prefixes: list[str]) -> AsyncIterator[StoreFactory]:
    """``open_store(prefix=None, secret=None)``: a Redis store (a new prefix unless given)."""
    opened: list[RedisStore] = []

    def build(prefix: str | None = None, secret: str | None = None) -> RedisStore:
        if prefix is None:
            prefix = unique_prefix("redis-store")
            prefixes.append(prefix)
        store = RedisStore(REDIS_URL, prefix=prefix, cipher=SecretCipher(secret))
        opened.append(store)
        return store

    yield build
    for store in opened:
        await store.close()


def added(secret: str = SECRET) -> AddedKeyRecord:
    return AddedKeyRecord(key_id="a1b2c3d4e5f6", secret=secret, name="late", added_at=5.0)


class TestPrefixes:
    """Several pools share one Redis, each under its prefix."""

    async def test_stores_under_different_prefixes_do_not_see_each_other(
        self, open_store: StoreFactory
    ) -> None:
        """What one prefix holds, another does not load, reset or remove."""
        first, second = open_store(), open_store()
        await first.save(PoolSnapshot(keys=(KeyStateRecord("k1", requests=3),)))
        await first.add_key(added())

        await second.reset()
        assert await second.remove_key(added().key_id) is False

        assert await second.load() == PoolSnapshot()
        assert (await first.load()).keys == (KeyStateRecord("k1", requests=3),)


class TestSealedKeys:
    """Added keys are encrypted with ``state.secret``."""

    async def test_with_a_secret_no_raw_key_is_stored_and_the_key_loads_back(
        self, open_store: StoreFactory, prefixes: list[str]
    ) -> None:
        """The stored values hold no raw key; the same secret loads the record whole."""
        store = open_store(secret=STATE_SECRET)
        await store.add_key(added())

        assert SECRET.encode() not in stored_values(REDIS_URL, prefixes[0])
        assert (await store.load()).added_keys == (added(),)

    async def test_a_key_sealed_with_another_secret_is_left_out_not_fatal(
        self, open_store: StoreFactory, prefixes: list[str]
    ) -> None:
        """An instance with the wrong secret starts without that key instead of failing."""
        await open_store(secret=STATE_SECRET).add_key(added())
        await open_store(prefix=prefixes[0], secret=STATE_SECRET).save(
            PoolSnapshot(keys=(KeyStateRecord("k1"),))
        )

        loaded = await open_store(prefix=prefixes[0], secret="some-other-secret-value").load()

        assert loaded.added_keys == () and loaded.keys == (KeyStateRecord("k1"),)


class TestDamagedValues:
    """A value that cannot be read is skipped; the rest loads."""

    async def test_garbage_in_one_hash_does_not_stop_the_load(
        self, open_store: StoreFactory, prefixes: list[str]
    ) -> None:
        store = open_store()
        await store.save(
            PoolSnapshot(
                keys=(KeyStateRecord("good"), KeyStateRecord("bad")),
                cooldowns=(CooldownRecord("good", "m", 10.0),),
            )
        )
        with redis.Redis.from_url(REDIS_URL) as client:
            client.hset(f"{prefixes[0]}:key:bad", "disabled", "perhaps")
            client.hset(f"{prefixes[0]}:cooldowns:good", "other", "{not json")

        loaded = await store.load()

        assert loaded.keys == (KeyStateRecord("good"),)
        assert loaded.cooldowns == (CooldownRecord("good", "m", 10.0),)


class TestRedisAway:
    """Every operation raises StoreUnavailable when Redis cannot be reached."""

    async def test_each_operation_raises_store_unavailable(self) -> None:
        """load, save, add_key, remove_key and reset, against a port nobody listens on."""
        store = RedisStore(unreachable_redis_url(), prefix="unused")
        calls = [
            store.load(),
            store.save(PoolSnapshot()),
            store.add_key(added()),
            store.remove_key("k"),
            store.reset(),
            store.reset("k"),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable, match="redis"):
                await call
        await store.close()
