"""Incremental flushes: the pool exports only what changed, SQLite writes only that."""

from __future__ import annotations

import random
from pathlib import Path

from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.store.sqlite import SqliteDatabase

SECRETS = [f"AIzaSyFLUSH{i:03d}abcdefghijklmnopqrstuvwx" for i in range(50)]
RATE_LIMITED = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=30)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _pool(clock: FakeClock) -> KeyPool:
    return KeyPool([KeySpec(secret=s) for s in SECRETS], clock=clock, rng=random.Random(3))


class TestIncrementalExport:
    def test_first_export_is_full_then_only_changed_keys(self) -> None:
        """The first export names no changed set (full); later ones name the keys used."""
        clock = FakeClock()
        pool = _pool(clock)
        first = pool.export_snapshot(incremental=True)
        assert first.delta is None
        lease = pool.acquire("gemini-2.5-flash")
        pool.release(lease, SUCCESS, latency_s=0.1)
        second = pool.export_snapshot(incremental=True)
        assert second.delta is not None
        assert second.delta.key_ids == frozenset({lease.key_id})
        assert [r.key_id for r in second.delta.keys] == [lease.key_id]
        unchanged = [r for r in second.keys if r.key_id != lease.key_id]
        assert all(any(r is old for old in first.keys) for r in unchanged), "unchanged records are reused"
        assert len(second.keys) == len(SECRETS)

    def test_project_cooldown_marks_every_member(self) -> None:
        """A 429 on a key of a project cools (and marks changed) every key of that project."""
        clock = FakeClock()
        specs = [KeySpec(secret=s, project="p" if i < 3 else None) for i, s in enumerate(SECRETS[:6])]
        pool = KeyPool(specs, clock=clock, rng=random.Random(1))
        pool.export_snapshot(incremental=True)
        lease = pool.acquire("gemini-2.5-flash")
        while lease.key_id not in {key_id(s) for s in SECRETS[:3]}:
            pool.release(lease, SUCCESS, latency_s=0.1)
            lease = pool.acquire("gemini-2.5-flash")
        pool.export_snapshot(incremental=True)
        pool.release(lease, RATE_LIMITED, latency_s=0.1)
        snapshot = pool.export_snapshot(incremental=True)
        assert snapshot.delta is not None
        assert {key_id(s) for s in SECRETS[:3]} <= snapshot.delta.key_ids
        assert {c.key_id for c in snapshot.delta.cooldowns} == {key_id(s) for s in SECRETS[:3]}
        assert {c.key_id for c in snapshot.cooldowns} == {key_id(s) for s in SECRETS[:3]}

    def test_removal_makes_the_next_export_full(self) -> None:
        """Removing a key gives a full export without it."""
        pool = _pool(FakeClock())
        pool.export_snapshot(incremental=True)
        pool.remove(key_id(SECRETS[0]))
        snapshot = pool.export_snapshot(incremental=True)
        assert snapshot.delta is None
        assert key_id(SECRETS[0]) not in {r.key_id for r in snapshot.keys}


class TestPartialSqliteSave:
    def test_partial_saves_equal_full_saves(self, tmp_path: Path) -> None:
        """A run of incremental saves leaves the file exactly as one full save would."""
        clock = FakeClock()
        pool = _pool(clock)
        incremental = SqliteDatabase(tmp_path / "incremental.db", clock=clock)
        full = SqliteDatabase(tmp_path / "full.db", clock=clock)
        try:
            incremental.save(pool.export_snapshot(incremental=True))
            for step in range(40):
                clock.now += 1
                lease = pool.acquire("gemini-2.5-flash")
                pool.release(lease, RATE_LIMITED if step % 7 == 0 else SUCCESS, latency_s=0.05)
                pool.export_snapshot()  # another reader (metrics, Redis) must not eat the hint
                if step % 5 == 0:
                    snapshot = pool.export_snapshot(incremental=True)
                    assert snapshot.delta is not None
                    incremental.save(snapshot)
            final = pool.export_snapshot(incremental=True)
            incremental.save(final)
            full.save(type(final)(final.keys, final.cooldowns, final.usage, final.added_keys))
            assert incremental.load() == full.load()
        finally:
            incremental.close()
            full.close()

    def test_out_of_sync_file_gets_a_full_save(self, tmp_path: Path) -> None:
        """After a reset behind the pool's back, a hinted save still writes every key."""
        clock = FakeClock()
        pool = _pool(clock)
        database = SqliteDatabase(tmp_path / "state.db", clock=clock)
        try:
            database.save(pool.export_snapshot(incremental=True))
            database.reset(None)
            lease = pool.acquire("gemini-2.5-flash")
            pool.release(lease, SUCCESS, latency_s=0.1)
            snapshot = pool.export_snapshot(incremental=True)
            assert snapshot.delta is not None
            assert snapshot.delta.key_ids == frozenset({lease.key_id})
            database.save(snapshot)
            assert len(database.load().keys) == len(SECRETS)
        finally:
            database.close()


class TestStatsOnlyChanges:
    def test_plain_successes_wait_for_a_stats_flush(self) -> None:
        """Counters and health of answered requests go out only when stats are included."""
        clock = FakeClock()
        pool = _pool(clock)
        pool.export_snapshot(incremental=True)
        lease = pool.acquire("gemini-2.5-flash")
        pool.release(lease, SUCCESS, latency_s=0.1)
        quick = pool.export_snapshot(incremental=True, include_stats=False)
        assert quick.delta is not None
        assert quick.delta.key_ids == frozenset()
        full = pool.export_snapshot(incremental=True, include_stats=True)
        assert full.delta is not None
        assert full.delta.key_ids == frozenset({lease.key_id})
        assert next(r for r in full.keys if r.key_id == lease.key_id).requests == 1

    def test_state_changes_go_out_at_once(self) -> None:
        """A cooldown is in the next flush even without stats."""
        clock = FakeClock()
        pool = _pool(clock)
        pool.export_snapshot(incremental=True)
        lease = pool.acquire("gemini-2.5-flash")
        pool.release(lease, RATE_LIMITED, latency_s=0.1)
        quick = pool.export_snapshot(incremental=True, include_stats=False)
        assert quick.delta is not None
        assert quick.delta.key_ids == frozenset({lease.key_id})
        assert [c.key_id for c in quick.delta.cooldowns] == [lease.key_id]
