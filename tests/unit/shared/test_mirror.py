"""Applying other instances' changes and the pulled shared state to this instance's pool."""

from __future__ import annotations

from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.pacific import pacific_day_start
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared.codec import KeyStamps
from gemini_proxy.shared.messages import (
    CooldownChange,
    MembershipChange,
    RegisterChange,
    ResetChange,
    UsageChange,
    UsageEntry,
)
from gemini_proxy.shared.mirror import Mirror
from gemini_proxy.shared.outbox import Outbox
from gemini_proxy.shared.reader import SharedSnapshot
from gemini_proxy.shared.stamps import Stamps
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

from .conftest import IDS, MODEL, NOW, Clock, PoolFactory

DAY = pacific_day_start(NOW)
LATE_KEY = "AIzaSyLATEaddedabcdefghijklmnopqrstuvwx"


def mirror_of(
    make_pool: PoolFactory, clock: Clock, *, rpd: int | None = None
) -> tuple[Mirror, Outbox, KeyPool, list[str]]:
    """A mirror over a fresh pool wired as the app wires it; the raw keys it announced."""
    stamps = Stamps()
    outbox = Outbox(clock, stamps)
    pool = make_pool(on_event=outbox.key_event, rpd=rpd)
    pool.set_usage_listener(outbox.usage)
    announced: list[str] = []
    return Mirror(pool, stamps, outbox, clock=clock, on_key_added=announced.append), outbox, pool, announced


class TestChanges:
    """One change at a time, as they come off the channel."""

    def test_a_register_change_older_than_the_local_one_is_ignored(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """The later change wins: a stale remote enable does not undo a newer local disable."""
        mirror, _, pool, _ = mirror_of(make_pool, clock)
        pool.disable(IDS[0])

        mirror.apply(RegisterChange("disable", KeyStateRecord(IDS[0]), NOW - 1))
        assert pool.view(IDS[0]).status == "disabled"
        mirror.apply(RegisterChange("disable", KeyStateRecord(IDS[0]), NOW + 1))
        assert pool.view(IDS[0]).status == "active"

    def test_a_cooldown_set_before_a_known_reset_is_ignored(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """After a reset at t, a cooldown set before t does not come back."""
        mirror, _, pool, _ = mirror_of(make_pool, clock)
        mirror.apply(ResetChange(IDS[1], NOW))
        cooldown = CooldownRecord(IDS[1], MODEL, NOW + 60, "per_minute_quota")

        mirror.apply(CooldownChange(cooldown, NOW - 1))
        assert pool.view(IDS[1]).status == "active"
        mirror.apply(CooldownChange(cooldown, NOW + 1))
        assert pool.view(IDS[1]).status == "cooling"

    def test_usage_already_counted_by_the_last_merge_is_skipped(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Increments numbered at or below the merged sequence are in the merged totals already."""
        mirror, _, pool, _ = mirror_of(make_pool, clock, rpd=100)
        mirror.usage_seq = 10
        entry = (UsageEntry(IDS[0], MODEL, 3, 0),)

        mirror.apply(UsageChange(10, DAY, entry))
        mirror.apply(UsageChange(11, DAY, entry))
        mirror.apply(UsageChange(12, DAY - 86_400, entry))

        assert pool.view(IDS[0]).usage[0].requests_today == 3

    def test_an_add_is_handed_back_to_be_read_from_redis(self, make_pool: PoolFactory, clock: Clock) -> None:
        """The message names the key only; the caller reads its record and calls ``add``."""
        mirror, _, pool, announced = mirror_of(make_pool, clock)

        wanted = mirror.apply(MembershipChange("add", "k"))
        assert wanted == MembershipChange("add", "k")
        assert mirror.add(AddedKeyRecord(KeySpec(LATE_KEY).key_id, LATE_KEY))
        assert KeySpec(LATE_KEY).key_id in pool
        assert announced == [LATE_KEY], "the raw key goes to the log redactor"


class TestMerge:
    """The whole shared state, taken after (re)connecting."""

    def test_day_counters_become_the_shared_total_plus_what_is_not_written_yet(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Redis holds 5; this instance counted 2 it has not written: the local count is 7."""
        mirror, _, pool, _ = mirror_of(make_pool, clock, rpd=100)
        for _ in range(2):
            pool.acquire(MODEL, exclude=IDS[1:])

        mirror.merge(
            SharedSnapshot(PoolSnapshot()),
            usage_seq=4,
            day_usage=[UsageRecord(IDS[0], MODEL, "day", DAY, requests=5)],
            same_epoch=True,
        )

        assert pool.view(IDS[0]).usage[0].requests_today == 7
        assert mirror.usage_seq == 4

    def test_registers_newer_than_known_are_taken(self, make_pool: PoolFactory, clock: Clock) -> None:
        """A remote disable stamped after anything known here applies; cooldowns merge."""
        mirror, _, pool, _ = mirror_of(make_pool, clock)
        shared = SharedSnapshot(
            PoolSnapshot(
                keys=(KeyStateRecord(IDS[2], disabled=True, disabled_reason="elsewhere"),),
                cooldowns=(CooldownRecord(IDS[1], MODEL, NOW + 30, "q"),),
            ),
            stamps={IDS[2]: KeyStamps(status_at=NOW)},
            cooldown_set_at={(IDS[1], MODEL): NOW},
        )

        mirror.merge(shared, usage_seq=0, day_usage=[], same_epoch=True)

        assert pool.view(IDS[2]).disabled_reason == "elsewhere"
        assert pool.view(IDS[1]).status == "cooling"

    def test_added_keys_missing_from_redis_go_only_if_redis_kept_its_data(
        self, make_pool: PoolFactory, clock: Clock
    ) -> None:
        """Same epoch: another instance removed it. New epoch: Redis lost it, the key stays."""
        for same_epoch, stays in ((False, True), (True, False)):
            mirror, outbox, pool, _ = mirror_of(make_pool, clock)
            added = pool.add(KeySpec(LATE_KEY))
            outbox.take()
            outbox.settle()

            mirror.merge(SharedSnapshot(PoolSnapshot()), usage_seq=0, day_usage=[], same_epoch=same_epoch)

            assert (added in pool) is stays

    def test_an_added_key_not_written_yet_stays(self, make_pool: PoolFactory, clock: Clock) -> None:
        """A key added here whose write is still pending is not taken for removed."""
        mirror, outbox, pool, _ = mirror_of(make_pool, clock)
        added = pool.add(KeySpec(LATE_KEY))
        assert outbox.adding(added)

        mirror.merge(SharedSnapshot(PoolSnapshot()), usage_seq=0, day_usage=[], same_epoch=True)

        assert added in pool
