"""The contract every ``StateStore`` keeps, run against each backend of the harness."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import pytest

from gemini_proxy.store.base import DuplicateKey, StateStore
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

from .harness import OTHER_SECRET, SECRET, StoreHarness


def sorted_snapshot(snapshot: PoolSnapshot) -> PoolSnapshot:
    """The order ``load`` promises: every record type sorted by its natural key."""
    return PoolSnapshot(
        keys=tuple(sorted(snapshot.keys, key=lambda r: r.key_id)),
        cooldowns=tuple(sorted(snapshot.cooldowns, key=lambda r: (r.key_id, r.model))),
        usage=tuple(sorted(snapshot.usage, key=lambda r: (r.key_id, r.model, r.window, r.window_start))),
        added_keys=tuple(sorted(snapshot.added_keys, key=lambda r: r.key_id)),
    )


async def store_everything(store: StateStore, snapshot: PoolSnapshot) -> None:
    await store.save(snapshot)
    for record in snapshot.added_keys:
        await store.add_key(record)


class TestSampleData:
    """The sample snapshot exercises every field, so the round trip covers them all."""

    def test_every_field_of_every_record_differs_from_its_default(self, full_snapshot: PoolSnapshot) -> None:
        """A field added to a record without sample data here fails this test."""
        samples: list[Any] = [full_snapshot.keys[0], full_snapshot.cooldowns[0], full_snapshot.usage[0]]
        samples.append(full_snapshot.added_keys[0])
        for record in samples:
            for field in dataclasses.fields(record):
                if field.default is not dataclasses.MISSING:
                    default = field.default
                elif field.default_factory is not dataclasses.MISSING:
                    default = field.default_factory()
                else:
                    continue
                assert getattr(record, field.name) != default, f"{type(record).__name__}.{field.name}"


class TestRoundTrip:
    """What is saved loads back unchanged, in natural-key order."""

    async def test_new_store_loads_an_empty_snapshot(self, store: StateStore) -> None:
        """A store that was never written holds nothing."""
        assert await store.load() == PoolSnapshot()

    async def test_every_record_type_round_trips(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """Key states, cooldowns, usage windows and added keys load back field for field, sorted."""
        await store_everything(store, full_snapshot)

        loaded = await store.load()

        assert loaded == sorted_snapshot(full_snapshot)
        assert [r.key_id for r in loaded.keys] == ["aaaa00000001", "ffff00000002"]

    async def test_second_cooldown_for_the_same_pair_wins(self, store: StateStore) -> None:
        """One (key, model) has at most one cooldown; the later record in a snapshot is kept."""
        first = CooldownRecord("k1", "gemini-2.5-flash", 100.0, "per_minute_quota")
        second = CooldownRecord("k1", "gemini-2.5-flash", 200.0, "per_day_quota", per_day=True)
        await store.save(PoolSnapshot(cooldowns=(first, second)))

        assert (await store.load()).cooldowns == (second,)

    async def test_usage_windows_of_one_pair_are_kept_apart(self, store: StateStore) -> None:
        """Minute and day windows, and two starts of one window, are distinct records."""
        usage = (
            UsageRecord("k1", "m", "minute", 60.0, requests=1),
            UsageRecord("k1", "m", "minute", 120.0, requests=2),
            UsageRecord("k1", "m", "day", 0.0, requests=3),
        )
        await store.save(PoolSnapshot(usage=usage))

        assert (await store.load()).usage == (usage[2], usage[0], usage[1])


class TestSaveReplaces:
    """``save`` replaces the stored state and leaves added keys alone."""

    async def test_save_replaces_states_cooldowns_and_usage(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """Records absent from the new snapshot are gone after it is saved."""
        await store.save(full_snapshot)
        newer = PoolSnapshot(
            keys=(KeyStateRecord("bbbb00000003", requests=1),),
            cooldowns=(CooldownRecord("bbbb00000003", "gemini-2.5-pro", 500.0),),
            usage=(UsageRecord("bbbb00000003", "gemini-2.5-pro", "day", 0.0, requests=1),),
        )
        await store.save(newer)

        assert await store.load() == newer

    async def test_saving_an_empty_snapshot_clears_the_state(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """An empty snapshot leaves no key state, cooldown or usage behind."""
        await store.save(full_snapshot)
        await store.save(PoolSnapshot())

        assert await store.load() == PoolSnapshot()

    async def test_save_ignores_the_snapshots_added_keys(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """Added keys in a saved snapshot are not stored: only ``add_key`` stores them."""
        await store.save(full_snapshot)

        assert (await store.load()).added_keys == ()

    async def test_save_keeps_stored_added_keys(self, store: StateStore, added_key: AddedKeyRecord) -> None:
        """Saving a snapshot without added keys does not remove the stored ones."""
        await store.add_key(added_key)
        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))

        assert (await store.load()).added_keys == (added_key,)


class TestAddedKeys:
    """``add_key`` and ``remove_key`` manage the keys added at run time."""

    async def test_added_key_is_loaded(self, store: StateStore, added_key: AddedKeyRecord) -> None:
        """An added key loads back with its secret, limits and placement."""
        await store.add_key(added_key)

        assert (await store.load()).added_keys == (added_key,)

    async def test_duplicate_id_raises_and_keeps_the_first(
        self, store: StateStore, added_key: AddedKeyRecord
    ) -> None:
        """A second key with a stored id is refused with DuplicateKey; the stored one stays."""
        await store.add_key(added_key)

        with pytest.raises(DuplicateKey) as raised:
            await store.add_key(replace(added_key, name="other", secret=OTHER_SECRET))

        assert raised.value.key_id == added_key.key_id
        assert SECRET not in str(raised.value)
        assert (await store.load()).added_keys == (added_key,)

    async def test_remove_forgets_the_key_and_says_so(
        self, store: StateStore, added_key: AddedKeyRecord
    ) -> None:
        """Removing a stored key returns True and it no longer loads."""
        await store.add_key(added_key)

        assert await store.remove_key(added_key.key_id) is True
        assert (await store.load()).added_keys == ()

    async def test_removing_an_unknown_key_returns_false(self, store: StateStore) -> None:
        """Removing an id that is not stored returns False."""
        assert await store.remove_key("000000000000") is False

    async def test_remove_keeps_other_keys_and_the_state(
        self, store: StateStore, full_snapshot: PoolSnapshot, added_key: AddedKeyRecord
    ) -> None:
        """Only the named added key goes; other added keys and all key state stay."""
        other = AddedKeyRecord(key_id="0123456789ab", secret=OTHER_SECRET, name="other")
        await store_everything(store, full_snapshot)
        await store.add_key(other)

        await store.remove_key(added_key.key_id)

        loaded = await store.load()
        assert loaded.added_keys == (other,)
        assert replace(loaded, added_keys=()) == replace(sorted_snapshot(full_snapshot), added_keys=())

    async def test_a_removed_id_can_be_added_again(
        self, store: StateStore, added_key: AddedKeyRecord
    ) -> None:
        """After removal the same id is free for a new add."""
        await store.add_key(added_key)
        await store.remove_key(added_key.key_id)
        renamed = replace(added_key, name="back again")

        await store.add_key(renamed)

        assert (await store.load()).added_keys == (renamed,)


class TestReset:
    """``reset`` clears stored state of one key or all, never added keys."""

    async def test_reset_of_one_key_clears_only_that_key(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """The key's state, cooldowns and usage go; other keys' records stay."""
        await store_everything(store, full_snapshot)

        await store.reset("aaaa00000001")

        loaded = await store.load()
        assert [r.key_id for r in loaded.keys] == ["ffff00000002"]
        assert [r.key_id for r in loaded.cooldowns] == ["ffff00000002"]
        assert loaded.usage == ()
        assert loaded.added_keys == full_snapshot.added_keys

    async def test_reset_of_all_clears_every_state_and_keeps_added_keys(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """With no key id everything but the added keys is cleared."""
        await store_everything(store, full_snapshot)

        await store.reset()

        assert await store.load() == PoolSnapshot(added_keys=full_snapshot.added_keys)

    async def test_reset_of_an_unknown_key_changes_nothing(
        self, store: StateStore, full_snapshot: PoolSnapshot
    ) -> None:
        """Resetting an id without records leaves the store as it was."""
        await store_everything(store, full_snapshot)

        await store.reset("000000000000")

        assert await store.load() == sorted_snapshot(full_snapshot)


class TestReopen:
    """What a file-backed store holds outlives closing it."""

    async def test_everything_survives_close_and_reopen(
        self, persistent_harness: StoreHarness, full_snapshot: PoolSnapshot
    ) -> None:
        """A new store over the same location loads what the closed one stored."""
        first = persistent_harness.open()
        await store_everything(first, full_snapshot)
        await first.close()

        reopened = persistent_harness.open()

        assert await reopened.load() == sorted_snapshot(full_snapshot)

    async def test_reset_and_removal_survive_reopen(
        self, persistent_harness: StoreHarness, full_snapshot: PoolSnapshot, added_key: AddedKeyRecord
    ) -> None:
        """Cleared state and removed keys stay gone after a reopen."""
        first = persistent_harness.open()
        await store_everything(first, full_snapshot)
        await first.reset("ffff00000002")
        await first.remove_key(added_key.key_id)
        await first.close()

        loaded = await persistent_harness.open().load()

        assert [r.key_id for r in loaded.keys] == ["aaaa00000001"]
        assert loaded.added_keys == ()


class TestSecretsOnDisk:
    """A raw key is written only as an added key, and leaves no trace once removed."""

    async def test_a_stored_secret_is_found_by_grepping_the_files(
        self, persistent_harness: StoreHarness, added_key: AddedKeyRecord
    ) -> None:
        """The grep below can see a secret (so its absence after removal means something)."""
        store = persistent_harness.open()
        await store.add_key(added_key)
        await store.close()

        assert SECRET.encode() in persistent_harness.stored_bytes()

    async def test_no_byte_of_a_removed_secret_stays_in_the_files(
        self, persistent_harness: StoreHarness, full_snapshot: PoolSnapshot, added_key: AddedKeyRecord
    ) -> None:
        """After remove_key the secret is in no file of the store, journals included."""
        store = persistent_harness.open()
        await store_everything(store, full_snapshot)
        await store.add_key(AddedKeyRecord(key_id="0123456789ab", secret=OTHER_SECRET))
        await store.remove_key(added_key.key_id)
        await store.save(full_snapshot)

        assert SECRET.encode() not in persistent_harness.stored_bytes()
        await store.close()
        assert SECRET.encode() not in persistent_harness.stored_bytes()
        assert OTHER_SECRET.encode() in persistent_harness.stored_bytes()
