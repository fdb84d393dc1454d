"""Pure operations on ``PoolSnapshot`` that every store applies the same way.

Each record has a natural key; a store keeps at most one record per natural key (the
last one given wins) and returns records sorted by it, so every backend loads exactly
the same snapshot for the same sequence of calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from gemini_proxy.store.base import DuplicateKey
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

_R = TypeVar("_R")


NaturalKey = tuple[str | float, ...]


def _unique_sorted(records: Iterable[_R], natural_key: Callable[[_R], NaturalKey]) -> tuple[_R, ...]:
    by_key = {natural_key(record): record for record in records}
    return tuple(by_key[key] for key in sorted(by_key))


def key_state_id(record: KeyStateRecord) -> tuple[str]:
    """Natural key of a key state: its key id."""
    return (record.key_id,)


def cooldown_id(record: CooldownRecord) -> tuple[str, str]:
    """Natural key of a cooldown: the (key, model) pair."""
    return (record.key_id, record.model)


def usage_id(record: UsageRecord) -> tuple[str, str, str, float]:
    """Natural key of a usage window: (key, model, window kind, window start)."""
    return (record.key_id, record.model, record.window, record.window_start)


def added_key_id(record: AddedKeyRecord) -> tuple[str]:
    """Natural key of an added key: its key id."""
    return (record.key_id,)


def canonical(snapshot: PoolSnapshot) -> PoolSnapshot:
    """The snapshot with one record per natural key (last wins), sorted by it."""
    return PoolSnapshot(
        keys=_unique_sorted(snapshot.keys, key_state_id),
        cooldowns=_unique_sorted(snapshot.cooldowns, cooldown_id),
        usage=_unique_sorted(snapshot.usage, usage_id),
        added_keys=_unique_sorted(snapshot.added_keys, added_key_id),
    )


def with_state_of(stored: PoolSnapshot, snapshot: PoolSnapshot) -> PoolSnapshot:
    """``stored`` with its key states, cooldowns and usage replaced by ``snapshot``'s.

    An incremental export from the pool (``delta`` set) is unique by construction and is
    kept as it is, hint included, rather than sorted again on every flush.
    """
    if snapshot.delta is not None:
        return replace(snapshot, added_keys=stored.added_keys)
    return canonical(replace(snapshot, added_keys=stored.added_keys))


def without_state_of(stored: PoolSnapshot, key_id: str | None) -> PoolSnapshot:
    """``stored`` with the state, cooldowns and usage of one key (or all) cleared."""
    if key_id is None:
        return PoolSnapshot(added_keys=stored.added_keys)
    return PoolSnapshot(
        keys=tuple(r for r in stored.keys if r.key_id != key_id),
        cooldowns=tuple(r for r in stored.cooldowns if r.key_id != key_id),
        usage=tuple(r for r in stored.usage if r.key_id != key_id),
        added_keys=stored.added_keys,
    )


def with_added_key(stored: PoolSnapshot, record: AddedKeyRecord) -> PoolSnapshot:
    """``stored`` plus one added key; ``DuplicateKey`` if its id is already there."""
    if any(r.key_id == record.key_id for r in stored.added_keys):
        raise DuplicateKey(record.key_id)
    return canonical(replace(stored, added_keys=(*stored.added_keys, record)))


def without_added_key(stored: PoolSnapshot, key_id: str) -> tuple[PoolSnapshot, bool]:
    """``stored`` less one added key, and whether that key was there."""
    kept = tuple(r for r in stored.added_keys if r.key_id != key_id)
    return replace(stored, added_keys=kept), len(kept) != len(stored.added_keys)
