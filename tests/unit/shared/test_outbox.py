"""Local changes noted for publishing: coalesced, stamped, and kept across a failed push."""

from __future__ import annotations

from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.pacific import pacific_day_start
from gemini_proxy.shared.outbox import Outbox
from gemini_proxy.shared.stamps import Stamps

NOW = 1_748_865_600.0
DAY = pacific_day_start(NOW)


def outbox(now: list[float]) -> tuple[Outbox, Stamps]:
    stamps = Stamps()
    return Outbox(lambda: now[0], stamps), stamps


class TestKeyEvents:
    """Which events become which pending change."""

    def test_events_land_in_their_register_and_are_stamped(self) -> None:
        """Disable-side and breaker-side events are noted per key, with the latest time."""
        now = [NOW]
        box, stamps = outbox(now)
        box.key_event(KeyEvent(KeyEventKind.DISABLED, "k"))
        now[0] += 1
        box.key_event(KeyEvent(KeyEventKind.ENABLED, "k"))
        box.key_event(KeyEvent(KeyEventKind.OPENED, "j", until=NOW + 9))
        box.key_event(KeyEvent(KeyEventKind.COOLED, "j", model="m", until=NOW + 5))

        batch = box.take()
        assert batch.registers == {("disable", "k"): NOW + 1, ("breaker", "j"): NOW + 1}
        assert batch.cooldowns == {("j", "m"): NOW + 1}
        assert stamps.register("disable", "k") == NOW + 1

    def test_a_local_change_is_stamped_after_what_this_instance_knows(self) -> None:
        """Another host's clock runs ahead: a change made here still gets the later stamp."""
        box, stamps = outbox([NOW])
        stamps.take_register("disable", "k", NOW + 100)
        stamps.take_reset("j", NOW + 50)

        box.key_event(KeyEvent(KeyEventKind.ENABLED, "k"))
        box.key_event(KeyEvent(KeyEventKind.COOLED, "j", model="m", until=NOW + 5))

        batch = box.take()
        assert batch.registers[("disable", "k")] > NOW + 100
        assert batch.cooldowns[("j", "m")] > NOW + 50

    def test_trials_and_keys_from_configuration_are_not_shared(self) -> None:
        """A half-open trial is local; a key added by a reload of this instance's config is not published."""
        box, _ = outbox([NOW])
        box.key_event(KeyEvent(KeyEventKind.HALF_OPEN, "k"))
        box.key_event(KeyEvent(KeyEventKind.ADDED, "k", reason="config"))
        assert not box.take()

    def test_a_removal_cancels_a_pending_add(self) -> None:
        """A key added then removed before the push is only published as removed."""
        box, _ = outbox([NOW])
        box.key_event(KeyEvent(KeyEventKind.ADDED, "k", reason="admin"))
        box.key_event(KeyEvent(KeyEventKind.REMOVED, "k"))
        batch = box.take()
        assert batch.added == {} and list(batch.removed) == ["k"]


class TestUsageAndFailures:
    """Usage adds up per day; a failed push comes back under newer changes."""

    def test_usage_is_summed_per_day_key_and_model(self) -> None:
        """Counts of one (day, key, model) add up; another day is kept apart."""
        box, _ = outbox([NOW])
        box.usage("k", "m", NOW, 1, 0)
        box.usage("k", "m", NOW + 1, 1, 30)
        box.usage("k", "m", NOW - 86_400, 1, 0)
        assert box.take().usage == {
            (DAY, "k", "m"): [2, 30],
            (pacific_day_start(NOW - 86_400), "k", "m"): [1, 0],
        }

    def test_restore_merges_the_failed_batch_with_newer_changes(self) -> None:
        """Counts add up, the newer stamp of a register wins, and it all counts as pending."""
        now = [NOW]
        box, _ = outbox(now)
        box.usage("k", "m", NOW, 2, 0)
        box.key_event(KeyEvent(KeyEventKind.DISABLED, "k"))
        box.take()
        now[0] += 5
        box.usage("k", "m", NOW, 1, 0)
        box.key_event(KeyEvent(KeyEventKind.ENABLED, "k"))
        assert box.pending_usage("k", "m", DAY) == (3, 0), "pending and in flight both count"

        box.restore()

        batch = box.take()
        assert batch.usage == {(DAY, "k", "m"): [3, 0]}
        assert batch.registers == {("disable", "k"): NOW + 5}

    def test_settle_forgets_the_batch(self) -> None:
        """After a successful push nothing is pending."""
        box, _ = outbox([NOW])
        box.usage("k", "m", NOW, 2, 0)
        box.take()
        box.settle()
        assert box.pending_usage("k", "m", DAY) == (0, 0) and len(box) == 0
