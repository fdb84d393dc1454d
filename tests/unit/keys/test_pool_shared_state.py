"""The pool's side of shared state: its usage listener, exports of one key, and the
``apply_*`` methods that take other instances' changes without emitting events."""

from __future__ import annotations

import pytest

from gemini_proxy.errors import NoKeyAvailable
from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.limits import ModelLimits, RateLimits
from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.pacific import pacific_day_start
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, UsageRecord

from .conftest import FakeClock, PoolFactory, secret

MODEL = "gemini-2.5-flash"
RPD_2 = ModelLimits(default=RateLimits(rpd=2))


def ids(n: int) -> list[str]:
    return [key_id(secret(i)) for i in range(n)]


class TestUsageListener:
    """Every count a usage window makes is reported."""

    def test_pick_and_tokens_of_a_limited_pair_are_reported(
        self, pool_factory: PoolFactory, clock: FakeClock
    ) -> None:
        """A pick reports one request, a release with tokens reports the tokens."""
        pool = pool_factory(1, default_limits=RPD_2)
        heard: list[tuple[str, str, float, int, int]] = []
        pool.set_usage_listener(lambda *args: heard.append(args))

        lease = pool.acquire(MODEL)
        pool.release(lease, SUCCESS, latency_s=0.1, tokens=42)

        assert heard == [(ids(1)[0], MODEL, clock.now, 1, 0), (ids(1)[0], MODEL, clock.now, 0, 42)]

    def test_unlimited_pairs_report_nothing(self, pool_factory: PoolFactory) -> None:
        """Without a limit there is no window, so nothing to share."""
        pool = pool_factory(1)
        heard: list[object] = []
        pool.set_usage_listener(lambda *args: heard.append(args))

        pool.release(pool.acquire(MODEL), SUCCESS, latency_s=0.1, tokens=42)

        assert heard == []


class TestExports:
    """One key's state, read for publishing."""

    def test_export_key_and_cooldown(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """The record of a disabled key and the running cooldown of a pair."""
        pool = pool_factory(2)
        first, second = ids(2)
        pool.disable(first, "rotating")
        lease = pool.acquire(MODEL)
        pool.release(
            lease, Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=30), latency_s=0.1
        )

        record = pool.export_key(first)
        assert record is not None and record.disabled and record.disabled_reason == "rotating"
        assert pool.export_cooldown(second, MODEL) == CooldownRecord(
            second, MODEL, clock.now + 30, "per_minute_quota"
        )
        assert pool.export_cooldown(second, "gemini-2.5-pro") is None
        assert pool.export_key("000000000000") is None

    def test_export_added_only_for_keys_added_at_run_time(self, pool_factory: PoolFactory) -> None:
        """A configured key has no added-key record; an added one does, with its secret."""
        pool = pool_factory(1)
        added = pool.add(KeySpec(secret(9), name="late"))

        assert pool.export_added(ids(1)[0]) is None
        record = pool.export_added(added)
        assert record is not None and record.secret == secret(9) and record.name == "late"


class TestApplyWithoutEvents:
    """Changes from other instances change the pool and emit nothing."""

    def test_disable_then_enable(self, pool_factory: PoolFactory, events: list[KeyEvent]) -> None:
        """A remote disable parks the key with its reason and probe time; a remote enable brings it back."""
        pool = pool_factory(2)
        first, second = ids(2)

        assert pool.apply_disable_state(
            KeyStateRecord(first, disabled=True, disabled_reason="x", next_probe_at=5.0)
        )
        view = pool.view(first)
        assert (view.status, view.disabled_reason, view.next_probe_at) == ("disabled", "x", 5.0)
        assert {pool.acquire(MODEL).key_id for _ in range(3)} == {second}
        assert pool.apply_disable_state(KeyStateRecord(first))
        assert not pool.apply_disable_state(KeyStateRecord(first)), "already enabled: no change"
        assert first in {pool.acquire(MODEL).key_id for _ in range(3)}
        assert events == []

    def test_breaker_opening_keeps_the_later_deadline_and_closing_closes(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """An opening with a later deadline wins, an earlier one is ignored; a closing closes."""
        pool = pool_factory(1)
        (only,) = ids(1)
        opened = KeyStateRecord(only, breaker_state="open", breaker_level=2, open_until=clock.now + 60)

        assert pool.apply_breaker_state(opened)
        assert not pool.apply_breaker_state(
            KeyStateRecord(only, breaker_state="open", open_until=clock.now + 10)
        )
        assert pool.view(only).status == "open"
        assert pool.apply_breaker_state(KeyStateRecord(only, breaker_state="closed"))
        assert pool.view(only).status == "active"
        assert events == []

    def test_cooldown_reset_added_and_removed(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """A remote cooldown benches the pair; a remote reset clears it; keys join and leave."""
        pool = pool_factory(1)
        (only,) = ids(1)

        assert pool.apply_cooldown(CooldownRecord(only, MODEL, clock.now + 30, "per_minute_quota"))
        assert not pool.apply_cooldown(CooldownRecord(only, MODEL, clock.now + 5, "shorter"))
        assert pool.view(only).status == "cooling"
        assert pool.apply_reset(only)
        assert pool.view(only).status == "active"
        assert pool.apply_added(AddedKeyRecord(key_id(secret(5)), secret(5), name="remote"))
        assert not pool.apply_added(AddedKeyRecord(key_id(secret(5)), secret(5)))
        assert pool.apply_removed(only)
        assert only not in pool and key_id(secret(5)) in pool
        assert events == []


class TestSharedUsage:
    """Counts from other instances count against the limits here."""

    def test_remote_usage_counts_toward_rpd(self, pool_factory: PoolFactory) -> None:
        """Two requests made elsewhere fill an rpd of 2: the key can serve no more today."""
        pool = pool_factory(1, default_limits=RPD_2)
        (only,) = ids(1)

        pool.apply_usage(only, MODEL, 2, 0)

        with pytest.raises(NoKeyAvailable):
            pool.acquire(MODEL)
        assert pool.acquire("gemini-2.5-pro").key_id == only

    def test_day_counters_are_raised_never_lowered(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A shared total above the local count raises it; a lower one changes nothing."""
        pool = pool_factory(1, default_limits=ModelLimits(default=RateLimits(rpd=100)))
        (only,) = ids(1)
        day = pacific_day_start(clock.now)
        pool.release(pool.acquire(MODEL), SUCCESS, latency_s=0.1)

        pool.raise_day_usage(UsageRecord(only, MODEL, "day", day, requests=7, tokens=70))
        pool.raise_day_usage(UsageRecord(only, MODEL, "day", day, requests=3, tokens=5))
        pool.raise_day_usage(UsageRecord(only, MODEL, "day", day - 86_400, requests=50))

        usage = pool.view(only).usage[0]
        assert (usage.requests_today, usage.tokens_today) == (7, 70)
