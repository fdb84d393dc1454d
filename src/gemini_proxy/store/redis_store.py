"""The Redis store: the shared state of several proxy instances (``state.redis_url``).

With Redis configured it is the source of truth: instances load it at start and write
their changes to it as they happen (``gemini_proxy.shared``); this class is the
``StateStore`` view of the same data (layout: ``gemini_proxy.shared.layout``), used for
the start-up load, the admin API's added keys and the store contract.

``save`` replaces the stored key states, cooldowns and usage as the protocol says; the
app does not call it with Redis configured, since a whole snapshot from one instance
would overwrite changes of the others. Raw keys are written only for added keys, sealed
by the ``SecretCipher`` (encrypted when ``state.secret`` is set). Redis being unreachable
raises ``StoreUnavailable``; there are no files to move aside.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.shared.codec import encode_added, encode_cooldown, encode_key_state
from gemini_proxy.shared.connection import REDIS_ERRORS, connect
from gemini_proxy.shared.layout import REQUESTS, TOKENS, RedisLayout, usage_field
from gemini_proxy.shared.reader import read_state
from gemini_proxy.store.base import Clock, DuplicateKey, StoreUnavailable
from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot, UsageRecord
from gemini_proxy.store.snapshot import canonical


@contextlib.asynccontextmanager
async def _unavailable_on_redis_errors() -> AsyncIterator[None]:
    try:
        yield
    except REDIS_ERRORS as exc:
        raise StoreUnavailable(f"redis: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """``StateStore`` over the shared state under one Redis prefix."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        cipher: SecretCipher | None = None,
        clock: Clock = time.time,
        client: Redis | None = None,
    ) -> None:
        self._client = client if client is not None else connect(url)
        self._layout = RedisLayout(prefix)
        self._cipher = cipher if cipher is not None else SecretCipher(None)
        self._clock = clock

    @property
    def layout(self) -> RedisLayout:
        """Where the data lives."""
        return self._layout

    async def load(self) -> PoolSnapshot:
        async with _unavailable_on_redis_errors():
            return (await read_state(self._client, self._layout, self._cipher)).snapshot

    async def save(self, snapshot: PoolSnapshot) -> None:
        snapshot = canonical(snapshot)
        layout = self._layout
        now = self._clock()
        async with _unavailable_on_redis_errors():
            old_ids, old_usage = await self._stored_names()
            pipe = self._client.pipeline(transaction=True)
            self._delete_state(pipe, old_ids, old_usage)
            for record in snapshot.keys:
                fields: dict[Any, Any] = encode_key_state(record)[0]
                if fields:
                    pipe.hset(layout.key(record.key_id), mapping=fields)
                pipe.sadd(layout.keys, record.key_id)
            for cooldown in snapshot.cooldowns:
                pipe.hset(layout.cooldowns(cooldown.key_id), cooldown.model, encode_cooldown(cooldown, now))
                pipe.sadd(layout.keys, cooldown.key_id)
            self._write_usage(pipe, snapshot.usage)
            await pipe.execute()

    def _write_usage(self, pipe: Pipeline, records: Iterable[UsageRecord]) -> None:
        for record in records:
            name = self._layout.usage(record.window, record.window_start)
            pipe.hset(
                name,
                mapping={
                    usage_field(record.key_id, record.model, REQUESTS): record.requests,
                    usage_field(record.key_id, record.model, TOKENS): record.tokens,
                },
            )
            pipe.zadd(self._layout.usage_index, {name: float("inf")})

    async def add_key(self, record: AddedKeyRecord) -> None:
        async with _unavailable_on_redis_errors():
            stored = await self._client.hsetnx(
                self._layout.added, record.key_id, encode_added(record, self._cipher)
            )
        if not stored:
            raise DuplicateKey(record.key_id)

    async def remove_key(self, key_id: str) -> bool:
        async with _unavailable_on_redis_errors():
            return bool(await self._client.hdel(self._layout.added, key_id))

    async def reset(self, key_id: str | None = None) -> None:
        layout = self._layout
        async with _unavailable_on_redis_errors():
            ids, usage_names = await self._stored_names()
            if key_id is None:
                pipe = self._client.pipeline(transaction=True)
                self._delete_state(pipe, ids, usage_names)
                await pipe.execute()
                return
            read = self._client.pipeline(transaction=False)
            for name in usage_names:
                read.hkeys(name)
            fields_by_hash = await read.execute()
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(layout.key(key_id), layout.cooldowns(key_id))
            pipe.srem(layout.keys, key_id)
            for name, fields in zip(usage_names, fields_by_hash, strict=True):
                doomed = [field for raw in fields if (field := _text(raw)).startswith(f"{key_id}:")]
                if doomed:
                    pipe.hdel(name, *doomed)
            await pipe.execute()

    async def close(self) -> None:
        """Close the connections; the data stays in Redis."""
        await self._client.aclose()

    async def _stored_names(self) -> tuple[list[str], list[str]]:
        pipe = self._client.pipeline(transaction=False)
        pipe.smembers(self._layout.keys)
        pipe.zrange(self._layout.usage_index, 0, -1)
        ids, usage_names = await pipe.execute()
        return [_text(raw) for raw in ids], [_text(raw) for raw in usage_names]

    def _delete_state(self, pipe: Pipeline, key_ids: list[str], usage_names: list[str]) -> None:
        layout = self._layout
        doomed = [layout.keys, layout.usage_index, *usage_names]
        for key_id in key_ids:
            doomed += [layout.key(key_id), layout.cooldowns(key_id)]
        pipe.delete(*doomed)
