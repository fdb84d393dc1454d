"""KeyPool persistence: export_snapshot -> restore round trips and the merge rules."""

from __future__ import annotations

import dataclasses
import random

import pytest

from gemini_proxy.errors import NoKeyAvailable
from gemini_proxy.keys.limits import ModelLimits, RateLimits
from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.pacific import next_pacific_midnight, pacific_day_start
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

from .conftest import T0, FakeClock, secret

PER_DAY = Outcome(OutcomeKind.RATE_LIMITED, "per_day_quota", per_day=True)
PER_MINUTE = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=30.0)
INVALID = Outcome(OutcomeKind.KEY_REJECTED, "API_KEY_INVALID")
HTTP_500 = Outcome(OutcomeKind.TRANSIENT, "http_500")
POLICY = PoolPolicy(default_limits=ModelLimits(default=RateLimits(rpd=1000)))
CONFIGURED = [KeySpec(secret(i), name=f"k{i}", project="p" if i == 0 else None) for i in range(4)]
K = [key_id(secret(i)) for i in range(10)]


def make_pool(clock: FakeClock, specs: list[KeySpec] = CONFIGURED) -> KeyPool:
    return KeyPool(specs, POLICY, clock=clock, rng=random.Random(1))


def on(pool: KeyPool, target: str, model: str, outcome: Outcome, tokens: int = 0) -> None:
    """Send one request through ``target`` and release it with ``outcome``."""
    others = [view.key_id for view in pool.views() if view.key_id != target]
    lease = pool.acquire(model, exclude=others)
    assert lease.key_id == target
    pool.release(lease, outcome, latency_s=0.2, tokens=tokens)


def busy_pool(clock: FakeClock) -> KeyPool:
    pool = make_pool(clock)
    pool.add(KeySpec(secret(9), name="added", weight=2.0, limits=ModelLimits(default=RateLimits(rpm=5))))
    on(pool, K[0], "pro", PER_DAY)
    on(pool, K[1], "flash", INVALID)
    for _ in range(3):
        on(pool, K[2], "flash", HTTP_500)
    on(pool, K[3], "flash", SUCCESS, tokens=120)
    on(pool, K[3], "flash", PER_MINUTE)
    on(pool, K[9], "flash", SUCCESS, tokens=7)
    return pool


class TestRoundTrip:
    """What one process saves, the next one restores."""

    def test_export_restore_export(self, clock: FakeClock) -> None:
        """A restored pool exports the same snapshot (and behaves the same)."""
        before = busy_pool(clock)
        snapshot = before.export_snapshot()
        clock.advance(1)
        after = make_pool(clock)
        after.restore(snapshot)
        clock.advance(-1)
        again = after.export_snapshot()
        assert again.cooldowns == snapshot.cooldowns
        assert again.usage == snapshot.usage
        assert again.added_keys == snapshot.added_keys
        strip = [dataclasses.replace(record, health=round(record.health, 6)) for record in snapshot.keys]
        assert [dataclasses.replace(record, health=round(record.health, 6)) for record in again.keys] == strip

    def test_restored_state_is_enforced(self, clock: FakeClock) -> None:
        """Cooldowns, disables and open breakers still bench the same keys after a restart."""
        after = make_pool(clock)
        after.restore(busy_pool(clock).export_snapshot())
        by_id = {view.key_id: view for view in after.views()}
        assert by_id[K[0]].cooldowns[0].until == next_pacific_midnight(T0)
        assert by_id[K[1]].status == "disabled"
        assert by_id[K[1]].next_probe_at is not None
        assert by_id[K[2]].status == "open"
        assert by_id[K[3]].usage[0].requests_today == 2
        assert by_id[K[9]].name == "added"
        assert {after.acquire("pro").key_id for _ in range(6)} == {K[3], K[9]}

    def test_snapshot_shape(self, clock: FakeClock) -> None:
        """The snapshot holds one record per key, the live cooldowns, the usage and the added key."""
        snapshot = busy_pool(clock).export_snapshot()
        assert [record.key_id for record in snapshot.keys] == [K[0], K[1], K[2], K[3], K[9]]
        assert {(c.key_id, c.model, c.per_day) for c in snapshot.cooldowns} == {
            (K[0], "pro", True),
            (K[3], "flash", False),
        }
        assert snapshot.added_keys[0].secret == secret(9)
        assert snapshot.added_keys[0].limits == {"rpm": 5}
        assert UsageRecord(K[3], "flash", "day", pacific_day_start(T0), 2, 120) in snapshot.usage


class TestMerge:
    """Restoring merges saved state with the configured keys."""

    def test_unknown_ids_dropped_new_keys_fresh(self, clock: FakeClock) -> None:
        """State of ids no longer configured is dropped; newly configured keys start fresh."""
        snapshot = PoolSnapshot(
            keys=(KeyStateRecord("gone00000000", disabled=True), KeyStateRecord(K[0], requests=5)),
            cooldowns=(CooldownRecord("gone00000000", "pro", T0 + 100),),
            usage=(UsageRecord("gone00000000", "pro", "day", pacific_day_start(T0), 3),),
        )
        pool = make_pool(clock, [*CONFIGURED, KeySpec(secret(5))])
        pool.restore(snapshot)
        assert "gone00000000" not in pool
        assert [view.requests for view in pool.views()] == [5, 0, 0, 0, 0]
        assert pool.summary().disabled == 0

    def test_expired_cooldowns_cleared(self, clock: FakeClock) -> None:
        """Cooldowns that ended while the proxy was down are not restored."""
        snapshot = PoolSnapshot(
            cooldowns=(
                CooldownRecord(K[0], "pro", T0 - 1, "per_minute_quota"),
                CooldownRecord(K[1], "pro", T0 + 60),
            )
        )
        pool = make_pool(clock)
        pool.restore(snapshot)
        assert [len(view.cooldowns) for view in pool.views()] == [0, 1, 0, 0]

    @pytest.mark.parametrize(
        ("day_offset", "kept"),
        [pytest.param(0, True, id="same-pacific-day"), pytest.param(-86_400, False, id="yesterday")],
    )
    def test_day_counters(self, clock: FakeClock, day_offset: float, kept: bool) -> None:
        """Day counters survive a restart within the same Pacific day only."""
        limits = [KeySpec(secret(0), limits=ModelLimits(default=RateLimits(rpd=3)))]
        snapshot = PoolSnapshot(
            usage=(UsageRecord(K[0], "pro", "day", pacific_day_start(T0) + day_offset, 3),)
        )
        pool = make_pool(clock, limits)
        pool.restore(snapshot)
        if kept:
            with pytest.raises(NoKeyAvailable):
                pool.acquire("pro")
        else:
            assert pool.acquire("pro").key_id == K[0]

    def test_added_key_already_configured(self, clock: FakeClock) -> None:
        """An added key that is now also configured is not duplicated."""
        record = AddedKeyRecord(K[0], secret(0), name="dup", added_at=T0 - 10)
        pool = make_pool(clock)
        pool.restore(PoolSnapshot(added_keys=(record,)))
        assert len(pool) == 4
        assert pool.export_snapshot().added_keys == ()

    def test_damaged_records_tolerated(self, clock: FakeClock) -> None:
        """A broken added key or an unknown breaker state does not stop the restore."""
        snapshot = PoolSnapshot(
            keys=(KeyStateRecord(K[0], breaker_state="sideways", health=float("nan")),),
            added_keys=(AddedKeyRecord("x", "", limits={"rpm": -1}),),
        )
        pool = make_pool(clock)
        pool.restore(snapshot)
        assert len(pool) == 4
        assert pool.views()[0].status == "active"
        assert pool.views()[0].health == 1.0
