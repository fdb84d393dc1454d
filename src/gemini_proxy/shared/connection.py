"""The Redis client every shared-state component uses, and the errors that mean "Redis is down".

Commands fail fast (short timeouts, one immediate retry on a fresh connection) instead of
redis-py's default of retrying with a backoff: the caller decides what to do when Redis
is away, and nothing on the request path ever waits for it.
"""

from __future__ import annotations

from typing import Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

# What a call to Redis raises when the server is unreachable, slow or refuses the command.
REDIS_ERRORS: Final = (RedisError, OSError, TimeoutError)

CONNECT_TIMEOUT_S: Final = 1.0
COMMAND_TIMEOUT_S: Final = 5.0
HEALTH_CHECK_S: Final = 2


def connect(url: str) -> Redis:
    """A client for ``url`` (nothing is opened until the first command)."""
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=HEALTH_CHECK_S,
    )
    return client
