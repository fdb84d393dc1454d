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


def connect(url: str, *, retries: int = 1, single_connection: bool = False) -> Redis:
    """A client for ``url`` (nothing is opened until the first command).

    ``retries``: how many times a command is sent again, at once, on a fresh connection
    after a connection error. The shared-state link uses 0, so that every interruption
    surfaces and is followed by a reconciliation (a pub/sub connection that reconnected
    quietly would have missed messages). ``single_connection``: single commands share one
    connection instead of taking one from the pool each time (about 15% less CPU per
    command); pipelines and pub/sub still use connections of their own.
    """
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(NoBackoff(), retries),
        health_check_interval=HEALTH_CHECK_S,
        single_connection_client=single_connection,
    )
    return client
