"""Reading the whole shared state out of Redis (start-up, reconciliation, ``RedisStore.load``).

Reading is lenient: a record that cannot be understood is skipped and named in
``damaged``, so one bad value never stops a start or a reconciliation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis

from gemini_proxy.shared.cipher import SecretCipher, UnreadableSecret
from gemini_proxy.shared.codec import KeyStamps, decode_added, decode_cooldown, decode_key_state
from gemini_proxy.shared.layout import REQUESTS, RedisLayout, parse_usage_field
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)
from gemini_proxy.store.snapshot import canonical


@dataclass(frozen=True, slots=True)
class SharedSnapshot:
    """The shared state: the pool's records plus what reconciliation needs to merge them.

    ``stamps`` and ``cooldown_set_at`` say when each register and cooldown was set;
    ``unreadable`` names added keys whose raw key cannot be decrypted here; ``damaged``
    names the values that could not be read at all.
    """

    snapshot: PoolSnapshot
    stamps: dict[str, KeyStamps] = field(default_factory=dict)
    cooldown_set_at: dict[tuple[str, str], float] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()
    damaged: tuple[str, ...] = ()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def usage_records(window: str, start: float, fields: Mapping[bytes, bytes]) -> list[UsageRecord]:
    """The usage records of one usage hash; malformed fields are skipped."""
    counts: dict[tuple[str, str], list[int]] = {}
    for raw_field, raw_value in fields.items():
        parsed = parse_usage_field(_text(raw_field))
        if parsed is None:
            continue
        key_id, model, kind = parsed
        try:
            value = int(raw_value)
        except ValueError:
            continue
        counts.setdefault((key_id, model), [0, 0])[0 if kind == REQUESTS else 1] = value
    return [UsageRecord(k, m, window, start, r, t) for (k, m), (r, t) in counts.items()]


async def read_state(client: Redis, layout: RedisLayout, cipher: SecretCipher) -> SharedSnapshot:
    """Everything stored under the layout's prefix, records in natural-key order."""
    pipe = client.pipeline(transaction=False)
    pipe.smembers(layout.keys)
    pipe.zrange(layout.usage_index, 0, -1)
    pipe.hgetall(layout.added)
    raw_ids, raw_usage_names, raw_added = await pipe.execute()
    key_ids = sorted(_text(raw) for raw in raw_ids)
    usage_names = [name for raw in raw_usage_names if (name := _text(raw))]
    pipe = client.pipeline(transaction=False)
    for key_id in key_ids:
        pipe.hgetall(layout.key(key_id))
        pipe.hgetall(layout.cooldowns(key_id))
    for name in usage_names:
        pipe.hgetall(name)
    results = await pipe.execute()

    keys: list[KeyStateRecord] = []
    cooldowns: list[CooldownRecord] = []
    usage: list[UsageRecord] = []
    added: list[AddedKeyRecord] = []
    stamps: dict[str, KeyStamps] = {}
    set_at: dict[tuple[str, str], float] = {}
    unreadable: list[str] = []
    damaged: list[str] = []
    for index, key_id in enumerate(key_ids):
        state_fields, cooldown_fields = results[2 * index], results[2 * index + 1]
        if state_fields:
            try:
                record, key_stamps = decode_key_state(key_id, state_fields)
            except (ValueError, TypeError):
                damaged.append(layout.key(key_id))
            else:
                keys.append(record)
                stamps[key_id] = key_stamps
        for raw_model, raw_value in cooldown_fields.items():
            model = _text(raw_model)
            try:
                cooldown, when = decode_cooldown(key_id, model, raw_value)
            except (ValueError, TypeError, KeyError):
                damaged.append(f"{layout.cooldowns(key_id)}[{model}]")
                continue
            cooldowns.append(cooldown)
            set_at[(key_id, model)] = when
    for name, fields in zip(usage_names, results[2 * len(key_ids) :], strict=True):
        parsed = layout.parse_usage(name)
        if parsed is not None:
            usage.extend(usage_records(parsed[0], parsed[1], fields))
    for raw_id, raw_value in raw_added.items():
        key_id = _text(raw_id)
        try:
            added.append(decode_added(key_id, raw_value, cipher))
        except UnreadableSecret:
            unreadable.append(key_id)
        except (ValueError, TypeError):
            damaged.append(f"{layout.added}[{key_id}]")
    snapshot = canonical(PoolSnapshot(tuple(keys), tuple(cooldowns), tuple(usage), tuple(added)))
    return SharedSnapshot(snapshot, stamps, set_at, tuple(sorted(unreadable)), tuple(damaged))


async def read_day_usage(
    client: Redis, layout: RedisLayout, day_start: float
) -> tuple[int, list[UsageRecord]]:
    """The usage counters of one Pacific day and, read atomically with them, the number of the
    last usage increment they hold."""
    pipe = client.pipeline(transaction=True)
    pipe.get(layout.seq)
    pipe.hgetall(layout.usage("day", day_start))
    raw_seq, fields = await pipe.execute()
    return int(raw_seq or 0), usage_records("day", day_start, fields)
