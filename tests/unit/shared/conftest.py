"""Fixtures of the shared-state tests: pools on a fake clock, and a prefix of the test Redis."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.asyncio import Redis

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.limits import ModelLimits, RateLimits
from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared.layout import RedisLayout
from tests.redis_support import REDIS_URL, delete_prefix, require_redis, unique_prefix

NOW = 1_748_865_600.0
MODEL = "gemini-2.5-flash"
SECRETS = [f"AIzaSySHARED{i:02d}abcdefghijklmnopqrstuv{i:02d}" for i in range(3)]
IDS = [key_id(secret) for secret in SECRETS]


class Clock:
    """A wall clock moved by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PoolFactory = Callable[..., KeyPool]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_pool(clock: Clock) -> PoolFactory:
    """``make_pool(on_event=None, rpd=None)``: a pool of the three ``SECRETS`` on the fake clock."""

    def build(on_event: Callable[[KeyEvent], None] | None = None, rpd: int | None = None) -> KeyPool:
        limits = ModelLimits(default=RateLimits(rpd=rpd)) if rpd else ModelLimits()
        return KeyPool(
            [KeySpec(secret) for secret in SECRETS],
            PoolPolicy(default_limits=limits),
            clock=clock,
            rng=random.Random(3),
            on_event=on_event,
        )

    return build


@pytest.fixture
def prefix() -> Iterator[str]:
    """A prefix of the shared test Redis, deleted afterwards (skips without Redis)."""
    require_redis()
    value = unique_prefix("shared")
    yield value
    delete_prefix(REDIS_URL, value)


@pytest.fixture
def layout(prefix: str) -> RedisLayout:
    return RedisLayout(prefix)


@pytest.fixture
async def client(prefix: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()
