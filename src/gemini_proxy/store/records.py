"""The persisted shape of the key pool's state: plain frozen records, no behaviour.

The pool exports a ``PoolSnapshot`` and restores from one; every store saves and loads
exactly this shape. Times are Unix timestamps (seconds, float). Raw keys appear only in
``AddedKeyRecord`` (keys added at run time through the admin API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyStateRecord:
    """One key's health, breaker and counters."""

    key_id: str
    disabled: bool = False
    disabled_reason: str | None = None
    disabled_at: float | None = None
    next_probe_at: float | None = None
    probe_failures: int = 0
    breaker_state: str = "closed"  # closed | open | half_open
    breaker_level: int = 0  # n in base * 2^n
    consecutive_failures: int = 0
    open_until: float | None = None
    health: float = 1.0
    requests: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CooldownRecord:
    """A (key, model) pair that may not be used before ``until``."""

    key_id: str
    model: str
    until: float
    reason: str = ""
    per_day: bool = False


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """A usage counter window for the rpm/rpd/tpm limits of one (key, model).

    ``window`` is ``"minute"`` or ``"day"``; ``window_start`` is the start of the window
    (for ``"day"``: midnight Pacific time of that day).
    """

    key_id: str
    model: str
    window: str
    window_start: float
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class AddedKeyRecord:
    """A key added at run time through the admin API (holds the raw key)."""

    key_id: str
    secret: str
    name: str = ""
    project: str | None = None
    weight: float = 1.0
    limits: dict[str, Any] = field(default_factory=dict)
    added_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SnapshotDelta:
    """The part of a snapshot that changed since the one before it: the records of
    ``key_ids`` (a key among them with no record of a kind has none of that kind now)."""

    key_ids: frozenset[str]
    keys: tuple[KeyStateRecord, ...] = ()
    cooldowns: tuple[CooldownRecord, ...] = ()
    usage: tuple[UsageRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """Everything a store persists about the pool.

    ``delta`` is a hint, never a limit: the snapshot is always complete, and when the
    hint is set, only the state, cooldowns and usage of its keys differ from the snapshot
    before it (a store that saved that one may write just those). ``None``: any key may
    have changed.
    """

    keys: tuple[KeyStateRecord, ...] = ()
    cooldowns: tuple[CooldownRecord, ...] = ()
    usage: tuple[UsageRecord, ...] = ()
    added_keys: tuple[AddedKeyRecord, ...] = ()
    delta: SnapshotDelta | None = field(default=None, compare=False)
