"""Writing this instance's changes to Redis, each write publishing the change to the others.

``push`` writes one ``Batch`` from the outbox in one round trip (one command alone, or a
pipeline): the state to write is read from the pool at that moment. ``seed`` writes this
instance's whole state into a Redis that lost its data (its epoch changed), with the same
conditional scripts, so several instances seeding at once end in the same state. Scripts
go by SHA; when Redis does not know one, they are loaded and the commands sent again
(every command here may run twice without harm).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared import scripts
from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.shared.codec import BREAKER_AT, STATUS_AT, encode_added, encode_cooldown, encode_key_state
from gemini_proxy.shared.layout import REQUESTS, TOKENS, RedisLayout, usage_field
from gemini_proxy.shared.messages import (
    REGISTER_FIELDS,
    CooldownChange,
    MembershipChange,
    RegisterChange,
    RegisterKind,
    ResetChange,
    UsageEntry,
    encode_cooldown_change,
    encode_membership,
    encode_register,
    encode_reset,
    encode_usage_body,
)
from gemini_proxy.shared.outbox import Batch, Outbox
from gemini_proxy.shared.stamps import Stamps
from gemini_proxy.store.records import CooldownRecord, KeyStateRecord


class Commands:
    """Redis commands gathered to go in one round trip."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[Any, ...]]] = []

    def add(self, name: str, *args: Any) -> None:
        """Queue ``client.<name>(*args)``."""
        self.items.append((name, args))

    def script(self, script: scripts.Script, keys: Sequence[str], *args: Any) -> None:
        """Queue a script call (``EVALSHA``)."""
        self.items.append(("evalsha", (script.sha, len(keys), *keys, *args)))

    async def send(self, client: Redis) -> list[Exception]:
        """Send them; the errors Redis answered (a connection error raises)."""
        if not self.items:
            return []
        if len(self.items) == 1:  # no pipeline: measurably cheaper for the common single write
            name, args = self.items[0]
            try:
                await getattr(client, name)(*args)
            except ResponseError as exc:
                return [exc]
            return []
        pipe = client.pipeline(transaction=False)
        for name, args in self.items:
            getattr(pipe, name)(*args)
        results = await pipe.execute(raise_on_error=False)
        return [result for result in results if isinstance(result, Exception)]


MINUTE_S = 60
DAY_KEEP_S = 3600  # a day's counters outlive the day by this much
MINUTE_KEEP_S = 180  # a minute's counters outlive its start by this much


class Publisher:
    """Writes and publishes changes of one pool under one layout."""

    def __init__(
        self,
        pool: KeyPool,
        layout: RedisLayout,
        cipher: SecretCipher,
        stamps: Stamps,
        *,
        origin: str,
        clock: Callable[[], float],
    ) -> None:
        self._pool = pool
        self._layout = layout
        self._cipher = cipher
        self._stamps = stamps
        self._origin = origin
        self._clock = clock
        self._days = PacificDays()

    async def push(self, client: Redis, batch: Batch) -> list[Exception]:
        """Write and publish one batch; the commands Redis refused (a connection error raises)."""
        pool, layout = self._pool, self._layout
        commands = Commands()
        for key_id in batch.added:
            added = pool.export_added(key_id)
            if added is not None:
                commands.add("hsetnx", layout.added, key_id, encode_added(added, self._cipher))
                message = encode_membership(self._origin, MembershipChange("add", key_id))
                commands.add("publish", layout.channel, message)
        for (kind, key_id), at in batch.registers.items():
            record = pool.export_key(key_id)
            if record is not None:
                self._register(commands, kind, record, at)
        for key_id, at in batch.resets.items():
            message = encode_reset(self._origin, ResetChange(key_id, at))
            keys = (layout.key(key_id), layout.cooldowns(key_id), layout.keys)
            commands.script(scripts.RESET, keys, repr(at), layout.channel, message, key_id)
        for (key_id, model), at in batch.cooldowns.items():
            cooldown = pool.export_cooldown(key_id, model)
            if cooldown is not None:
                self._cooldown(commands, cooldown, at)
        self._usage(commands, batch)
        for key_id in batch.removed:
            message = encode_membership(self._origin, MembershipChange("remove", key_id))
            commands.add("publish", layout.channel, message)
        return await self._send(client, commands)

    async def _send(self, client: Redis, commands: Commands) -> list[Exception]:
        refused = await commands.send(client)
        if any(isinstance(error, NoScriptError) for error in refused):
            for script in scripts.ALL:
                await client.script_load(script.text)
            refused = await commands.send(client)
        return refused

    async def seed(self, client: Redis, outbox: Outbox) -> list[Exception]:
        """Write this instance's whole state (see the module docstring); the refused commands.

        Usage is written as the day counts less what the outbox will still add.
        """
        snapshot = self._pool.export_snapshot()
        layout, stamps = self._layout, self._stamps
        now = self._clock()
        commands = Commands()
        for record in snapshot.keys:
            for kind in REGISTER_FIELDS:
                at = stamps.register(kind, record.key_id)
                if at > 0:
                    self._register(commands, kind, record, at)
        for cooldown in snapshot.cooldowns:
            self._cooldown(commands, cooldown, stamps.cooled.get((cooldown.key_id, cooldown.model), now))
        counts: dict[float, list[str]] = {}
        for usage in snapshot.usage:
            if usage.window != "day":
                continue
            pending_requests, pending_tokens = outbox.pending_usage(
                usage.key_id, usage.model, usage.window_start
            )
            counts.setdefault(usage.window_start, []).extend(
                [
                    usage_field(usage.key_id, usage.model, REQUESTS),
                    str(max(0, usage.requests - pending_requests)),
                    usage_field(usage.key_id, usage.model, TOKENS),
                    str(max(0, usage.tokens - pending_tokens)),
                ]
            )
        for day_start, fields in counts.items():
            expires = self._day_expiry(day_start)
            keys = (layout.usage("day", day_start), layout.usage_index)
            commands.script(scripts.RAISE_COUNTERS, keys, expires, *fields)
        for added in snapshot.added_keys:
            commands.add("hsetnx", layout.added, added.key_id, encode_added(added, self._cipher))
        return await self._send(client, commands)

    def _register(self, commands: Commands, kind: RegisterKind, record: KeyStateRecord, at: float) -> None:
        layout = self._layout
        fields, deleted = encode_key_state(record, REGISTER_FIELDS[kind])
        message = encode_register(self._origin, RegisterChange(kind, record, at))
        pairs = [item for name, value in fields.items() for item in (name, value)]
        commands.script(
            scripts.SET_REGISTER,
            (layout.key(record.key_id), layout.keys),
            STATUS_AT if kind == "disable" else BREAKER_AT,
            repr(at),
            layout.channel,
            message,
            record.key_id,
            len(fields),
            *pairs,
            *deleted,
        )

    def _cooldown(self, commands: Commands, cooldown: CooldownRecord, at: float) -> None:
        layout = self._layout
        key_id = cooldown.key_id
        message = encode_cooldown_change(self._origin, CooldownChange(cooldown, at))
        commands.script(
            scripts.SET_COOLDOWN,
            (layout.cooldowns(key_id), layout.key(key_id), layout.keys),
            cooldown.model,
            repr(cooldown.until),
            repr(at),
            encode_cooldown(cooldown, at),
            layout.channel,
            message,
            key_id,
        )

    def _usage(self, commands: Commands, batch: Batch) -> None:
        if not batch.usage:
            return
        layout = self._layout
        now = self._clock()
        minute_start = float(now - now % MINUTE_S)
        by_day: dict[float, list[UsageEntry]] = {}
        for (day_start, key_id, model), (requests, tokens) in batch.usage.items():
            by_day.setdefault(day_start, []).append(UsageEntry(key_id, model, requests, tokens))
        for day_start, entries in by_day.items():
            arguments: list[Any] = []
            for entry in entries:
                arguments += [entry.key_id, entry.model, entry.requests, entry.tokens]
            commands.script(
                scripts.ADD_USAGE,
                (
                    layout.usage("day", day_start),
                    layout.usage("minute", minute_start),
                    layout.usage_index,
                    layout.seq,
                ),
                layout.channel,
                encode_usage_body(self._origin, day_start, entries),
                self._day_expiry(day_start),
                str(int(minute_start) + MINUTE_KEEP_S),
                *arguments,
            )

    def _day_expiry(self, day_start: float) -> str:
        return str(math.ceil(self._days.end(day_start)) + DAY_KEEP_S)
