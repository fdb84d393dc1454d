"""The flush loop saves the pool's snapshot when it changed, survives failures, flushes at stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from gemini_proxy.store.base import StoreUnavailable
from gemini_proxy.store.flusher import run_flusher
from gemini_proxy.store.memory import MemoryStore
from gemini_proxy.store.records import KeyStateRecord, PoolSnapshot

TICK_S = 0.005


def snapshot(requests: int) -> PoolSnapshot:
    return PoolSnapshot(keys=(KeyStateRecord("k1", requests=requests),))


class RecordingStore(MemoryStore):
    """A memory store that records saves and fails the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.saved: list[PoolSnapshot] = []
        self.failures_left = failures
        self.saved_one = asyncio.Event()

    async def save(self, snapshot: PoolSnapshot) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise StoreUnavailable("database or disk is full")
        self.saved.append(snapshot)
        self.saved_one.set()
        await super().save(snapshot)


class ScriptedPool:
    """Returns the scripted snapshots (None: nothing changed) one per call, then None."""

    def __init__(self, script: Iterable[PoolSnapshot | Exception | None]) -> None:
        self.script = list(script)
        self.calls = 0
        self.played = asyncio.Event()

    def __call__(self) -> PoolSnapshot | None:
        self.calls += 1
        if not self.script:
            self.played.set()
            return None
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


async def wait_for(event: asyncio.Event) -> None:
    async with asyncio.timeout(2.0):
        await event.wait()


class Flusher:
    """A running flusher over a scripted pool and a recording store."""

    def __init__(self, pool: ScriptedPool, store: RecordingStore, interval_s: float = TICK_S) -> None:
        self.pool, self.store = pool, store
        self.stop = asyncio.Event()
        self.errors: list[Exception] = []
        self.task = asyncio.create_task(
            run_flusher(pool, store, interval_s=interval_s, stop=self.stop, on_error=self.errors.append)
        )

    async def run_script_then_stop(self) -> None:
        """Let every scripted step be played (and its save done), then stop."""
        await wait_for(self.pool.played)
        await self.finish()

    async def finish(self) -> None:
        self.stop.set()
        async with asyncio.timeout(2.0):
            await self.task


class TestFlushLoop:
    """Every interval the newest snapshot, if any, is saved."""

    async def test_saves_only_the_snapshots_the_pool_returns(self) -> None:
        """Ticks where the pool returns None write nothing."""
        flusher = Flusher(ScriptedPool([None, snapshot(1), None, None, snapshot(2), None]), RecordingStore())

        await flusher.run_script_then_stop()

        assert flusher.store.saved == [snapshot(1), snapshot(2)]
        assert flusher.errors == []

    async def test_stop_triggers_one_final_flush(self) -> None:
        """Setting stop saves the pending snapshot at once, without waiting for the interval."""
        flusher = Flusher(ScriptedPool([snapshot(7)]), RecordingStore(), interval_s=3600)

        await flusher.finish()

        assert flusher.store.saved == [snapshot(7)]

    async def test_stop_with_nothing_changed_writes_nothing(self) -> None:
        """The final flush also skips the save when the pool returns None."""
        flusher = Flusher(ScriptedPool([]), RecordingStore(), interval_s=3600)

        await flusher.finish()

        assert flusher.store.saved == []
        assert flusher.pool.calls == 1

    async def test_interval_must_be_positive(self) -> None:
        """A zero interval is refused rather than spinning."""
        with pytest.raises(ValueError, match="interval_s"):
            await run_flusher(
                lambda: None, MemoryStore(), interval_s=0, stop=asyncio.Event(), on_error=lambda exc: None
            )


class TestFlushFailures:
    """Failures are reported and never end the loop."""

    async def test_failed_save_is_reported_and_retried_at_the_next_tick(self) -> None:
        """The snapshot that failed is saved later even though the pool returns None again."""
        flusher = Flusher(ScriptedPool([snapshot(1)]), RecordingStore(failures=1))

        await wait_for(flusher.store.saved_one)
        await flusher.finish()

        assert flusher.store.saved == [snapshot(1)]
        assert [type(error) for error in flusher.errors] == [StoreUnavailable]

    async def test_a_newer_snapshot_replaces_the_unsaved_one(self) -> None:
        """After a failure, the pool's next snapshot is what gets saved."""
        flusher = Flusher(ScriptedPool([snapshot(1), snapshot(2)]), RecordingStore(failures=1))

        await flusher.run_script_then_stop()

        assert flusher.store.saved == [snapshot(2)]

    async def test_a_failing_snapshot_callable_is_reported_and_the_loop_goes_on(self) -> None:
        """An exception from the pool goes to on_error; later snapshots are still saved."""
        broken = RuntimeError("pool is mid-update")
        flusher = Flusher(ScriptedPool([broken, snapshot(3)]), RecordingStore())

        await flusher.run_script_then_stop()

        assert flusher.errors == [broken]
        assert flusher.store.saved == [snapshot(3)]

    async def test_final_flush_failure_is_reported_and_the_flusher_returns(self) -> None:
        """A failing last save goes to on_error; run_flusher still returns normally."""
        flusher = Flusher(ScriptedPool([snapshot(4)]), RecordingStore(failures=1), interval_s=3600)

        await flusher.finish()

        assert flusher.store.saved == []
        assert [type(error) for error in flusher.errors] == [StoreUnavailable]
