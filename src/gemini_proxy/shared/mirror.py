"""Keeping this instance's pool (its local mirror of the shared state) current.

``apply`` takes one change another instance published; ``merge`` takes the whole shared
state read after (re)connecting. Both go through the pool's ``apply_*`` methods, which
emit no key event, so nothing taken from Redis is published again. The rules, the same
as the scripts' in Redis:

- a register (disable, breaker) is taken if its stamp is not older than the known one;
- a cooldown is taken if it ends later than the local one and was set after the key's
  last known reset; a reset newer than the known one clears the key first;
- usage from messages is added to the local windows, except increments the last merge
  already counted (their number is not above ``usage_seq``); a merge raises each day
  counter to the shared total plus what this instance has not written yet.
"""

from __future__ import annotations

from collections.abc import Callable

from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared.messages import (
    Change,
    CooldownChange,
    MembershipChange,
    RegisterChange,
    ResetChange,
    UsageChange,
)
from gemini_proxy.shared.outbox import Outbox
from gemini_proxy.shared.reader import SharedSnapshot
from gemini_proxy.shared.stamps import Stamps
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, UsageRecord


class Mirror:
    """Applies shared changes to one pool (see the module docstring)."""

    def __init__(
        self,
        pool: KeyPool,
        stamps: Stamps,
        outbox: Outbox,
        *,
        clock: Callable[[], float],
        on_key_added: Callable[[str], None],
    ) -> None:
        self._pool = pool
        self._stamps = stamps
        self._outbox = outbox
        self._clock = clock
        self._on_key_added = on_key_added
        self._days = PacificDays()
        self.usage_seq = 0

    def apply(self, change: Change) -> MembershipChange | None:
        """Take one change; an ``add`` is returned for the caller to read the key from Redis."""
        pool, stamps = self._pool, self._stamps
        if isinstance(change, RegisterChange):
            key_id = change.record.key_id
            if key_id in pool and stamps.take_register(change.kind, key_id, change.at):
                if change.kind == "disable":
                    pool.apply_disable_state(change.record)
                else:
                    pool.apply_breaker_state(change.record)
        elif isinstance(change, CooldownChange):
            self._cooldown(change.record, change.at)
        elif isinstance(change, ResetChange):
            if change.key_id in pool and stamps.take_reset(change.key_id, change.at):
                pool.apply_reset(change.key_id)
        elif isinstance(change, UsageChange):
            self._usage(change)
        elif change.kind == "remove":
            if pool.apply_removed(change.key_id):
                stamps.forget(change.key_id)
        else:
            return change
        return None

    def add(self, record: AddedKeyRecord) -> bool:
        """Take a key another instance added; whether it is new here."""
        if not self._pool.apply_added(record):
            return False
        self._on_key_added(record.secret)
        return True

    def merge(
        self, shared: SharedSnapshot, *, usage_seq: int, day_usage: list[UsageRecord], same_epoch: bool
    ) -> None:
        """Take the whole shared state (``day_usage``: today's counters, as of increment
        ``usage_seq``). ``same_epoch``: Redis kept its data since the last merge, so an added
        key missing there was removed by another instance."""
        pool, stamps = self._pool, self._stamps
        snapshot = shared.snapshot
        stored_added = {record.key_id for record in snapshot.added_keys} | set(shared.unreadable)
        for added in snapshot.added_keys:
            self.add(added)
        if same_epoch:
            local_added = [key_id for key_id, _, _ in pool.key_statuses() if pool.export_added(key_id)]
            for key_id in local_added:
                if key_id not in stored_added and not self._outbox.adding(key_id):
                    pool.apply_removed(key_id)
                    stamps.forget(key_id)
        for record in snapshot.keys:
            key_id = record.key_id
            remote = shared.stamps.get(key_id)
            if remote is None or key_id not in pool:
                continue
            if remote.reset_at > stamps.reset_at(key_id) and stamps.take_reset(key_id, remote.reset_at):
                pool.apply_reset(key_id)
            if remote.status_at > stamps.register("disable", key_id):
                stamps.take_register("disable", key_id, remote.status_at)
                pool.apply_disable_state(record)
            if remote.breaker_at > stamps.register("breaker", key_id):
                stamps.take_register("breaker", key_id, remote.breaker_at)
                pool.apply_breaker_state(record)
        for cooldown in snapshot.cooldowns:
            self._cooldown(cooldown, shared.cooldown_set_at.get((cooldown.key_id, cooldown.model), 0.0))
        self.usage_seq = usage_seq
        for usage in day_usage:
            requests, tokens = self._outbox.pending_usage(usage.key_id, usage.model, usage.window_start)
            pool.raise_day_usage(
                UsageRecord(
                    usage.key_id,
                    usage.model,
                    "day",
                    usage.window_start,
                    usage.requests + requests,
                    usage.tokens + tokens,
                )
            )

    def _cooldown(self, record: CooldownRecord, set_at: float) -> None:
        if set_at < self._stamps.reset_at(record.key_id):
            return  # set before the key's last reset
        if self._pool.apply_cooldown(record):
            pair = (record.key_id, record.model)
            self._stamps.cooled[pair] = max(set_at, self._stamps.cooled.get(pair, 0.0))

    def _usage(self, change: UsageChange) -> None:
        if change.seq <= self.usage_seq:
            return  # the last merge already counted it
        if abs(change.day_start - self._days.start(self._clock())) > 1.0:
            return  # counted on another Pacific day
        for entry in change.entries:
            self._pool.apply_usage(entry.key_id, entry.model, entry.requests, entry.tokens)
