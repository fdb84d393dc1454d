"""The resilient store keeps persisting through SQLite failures, on a JSON file beside it."""

# ruff: noqa: ASYNC240  (tests arrange broken files with blocking calls on purpose)

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from gemini_proxy.store.base import DuplicateKey, StoreUnavailable
from gemini_proxy.store.jsonfile import JsonFileStore
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, PoolSnapshot
from gemini_proxy.store.resilient import ResilientStore
from gemini_proxy.store.sqlite import SqliteDatabase, SqliteStore

from .harness import OTHER_SECRET, SECRET, FakeClock

RETRY_INTERVAL_S = 30.0
BUSY_TIMEOUT_S = 0.05
ONE_KEY = PoolSnapshot(keys=(KeyStateRecord("k1", requests=1),))
TWO_KEYS = PoolSnapshot(keys=(KeyStateRecord("k1", requests=5), KeyStateRecord("k2", requests=2)))


@dataclass
class Opened:
    """A resilient store and what it told its listeners."""

    store: ResilientStore
    switches: list[tuple[str, str, str]]
    corruptions: list[tuple[str, str]]


OpenResilient = Callable[[], Opened]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def json_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db.json"


@pytest.fixture
async def open_resilient(db_path: Path, json_path: Path, clock: FakeClock) -> AsyncIterator[OpenResilient]:
    """Opens resilient stores over ``state.db`` and ``state.db.json``; closes them at teardown."""
    opened: list[Opened] = []

    def open_one() -> Opened:
        switches: list[tuple[str, str, str]] = []
        corruptions: list[tuple[str, str]] = []
        store = ResilientStore(
            SqliteStore(db_path, clock=clock, busy_timeout_s=BUSY_TIMEOUT_S),
            lambda: JsonFileStore(json_path, clock=clock),
            on_switch=lambda old, new, reason: switches.append((old, new, reason)),
            on_corrupt=lambda backend, message: corruptions.append((backend, message)),
            clock=clock,
            retry_interval_s=RETRY_INTERVAL_S,
        )
        opened.append(Opened(store, switches, corruptions))
        return opened[-1]

    yield open_one
    for result in opened:
        await result.store.close()


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holding the database's write lock, as a second process would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@contextmanager
def read_and_write_lock_held(path: Path) -> Iterator[None]:
    """Another connection locking the database even against readers (rollback journal)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("PRAGMA journal_mode = DELETE")
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


def sqlite_content(path: Path) -> PoolSnapshot:
    """What the database holds, read by a connection of its own."""
    database = SqliteDatabase(path, move_corrupt_aside=False)
    try:
        return database.load()
    finally:
        database.close()


def added(key_id: str, secret: str = SECRET) -> AddedKeyRecord:
    return AddedKeyRecord(key_id=key_id, secret=secret, name=f"name-{key_id}")


class TestHealthySqlite:
    """With a working database nothing falls back."""

    async def test_uses_sqlite_and_reports_no_switch(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """Saves go to the database; no JSON file appears and on_switch is not called."""
        opened = open_resilient()
        await opened.store.load()
        await opened.store.save(ONE_KEY)

        assert opened.store.active_backend == "sqlite"
        assert opened.switches == []
        assert sqlite_content(db_path) == ONE_KEY
        assert not json_path.exists()


class TestFallbackAtStart:
    """A database that cannot be opened at start sends everything to the JSON file."""

    async def test_unopenable_database_falls_back_to_json_and_says_so_once(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """With a folder where the database should be, saves land in state.db.json; one switch."""
        db_path.mkdir()
        opened = open_resilient()

        assert await opened.store.load() == PoolSnapshot()
        await opened.store.save(ONE_KEY)
        await opened.store.save(TWO_KEYS)

        assert opened.store.active_backend == "json"
        assert [(old, new) for old, new, _ in opened.switches] == [("sqlite", "json")]
        assert "unable to open" in opened.switches[0][2]
        assert await JsonFileStore(json_path).load() == TWO_KEYS

    async def test_garbage_database_is_moved_aside_and_the_store_starts_empty(
        self, open_resilient: OpenResilient, db_path: Path, tmp_path: Path
    ) -> None:
        """A corrupt database is kept as state.db.corrupt-<time>, reported, and state starts empty."""
        db_path.write_bytes(b"garbage " * 512)
        opened = open_resilient()

        assert await opened.store.load() == PoolSnapshot()

        assert (tmp_path / "state.db.corrupt-20261128T183000").read_bytes() == b"garbage " * 512
        assert [(old, new) for old, new, _ in opened.switches] == [("sqlite", "json")]
        assert "moved aside" in opened.switches[0][2]
        assert [backend for backend, _ in opened.corruptions] == ["sqlite"]

    async def test_after_corruption_a_new_database_takes_over_at_the_retry(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path, clock: FakeClock
    ) -> None:
        """The next retry creates a fresh database, moves the state there and drops the JSON file."""
        db_path.write_bytes(b"garbage " * 512)
        opened = open_resilient()
        await opened.store.load()
        await opened.store.add_key(added("a1"))

        clock.advance(RETRY_INTERVAL_S)
        await opened.store.save(ONE_KEY)

        assert opened.store.active_backend == "sqlite"
        assert sqlite_content(db_path) == PoolSnapshot(keys=ONE_KEY.keys, added_keys=(added("a1"),))
        assert not json_path.exists()


class TestFallbackOnWrite:
    """A database that stops accepting writes hands over to JSON and takes back over later."""

    async def test_locked_database_switches_to_json_with_the_whole_state(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """The JSON file gets the snapshot and the added keys the database had."""
        opened = open_resilient()
        await opened.store.load()
        await opened.store.add_key(added("a1"))

        with write_lock_held(db_path):
            await opened.store.save(ONE_KEY)

        assert opened.store.active_backend == "json"
        assert [(old, new) for old, new, _ in opened.switches] == [("sqlite", "json")]
        assert "locked" in opened.switches[0][2]
        assert await JsonFileStore(json_path).load() == PoolSnapshot(
            keys=ONE_KEY.keys, added_keys=(added("a1"),)
        )

    async def test_database_is_not_retried_before_the_interval(
        self, open_resilient: OpenResilient, db_path: Path, clock: FakeClock
    ) -> None:
        """Within retry_interval_s of the switch, saves stay on JSON even if SQLite works again."""
        opened = open_resilient()
        await opened.store.load()
        with write_lock_held(db_path):
            await opened.store.save(ONE_KEY)

        clock.advance(RETRY_INTERVAL_S - 1)
        await opened.store.save(TWO_KEYS)

        assert opened.store.active_backend == "json"
        assert sqlite_content(db_path) == PoolSnapshot()

    async def test_still_locked_database_keeps_json_without_another_switch(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path, clock: FakeClock
    ) -> None:
        """A retry that fails stays on JSON quietly: on_switch was called once."""
        opened = open_resilient()
        await opened.store.load()
        with write_lock_held(db_path):
            await opened.store.save(ONE_KEY)
            clock.advance(RETRY_INTERVAL_S)
            await opened.store.save(TWO_KEYS)

        assert opened.store.active_backend == "json"
        assert len(opened.switches) == 1
        assert await JsonFileStore(json_path).load() == TWO_KEYS

    async def test_goes_back_to_sqlite_with_everything_written_meanwhile(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path, clock: FakeClock
    ) -> None:
        """Once SQLite works, the next due save moves the state there and deletes the JSON file."""
        opened = open_resilient()
        await opened.store.load()
        await opened.store.add_key(added("a1"))
        with write_lock_held(db_path):
            await opened.store.save(ONE_KEY)
            await opened.store.add_key(added("a2", OTHER_SECRET))
            await opened.store.remove_key("a1")
            await opened.store.reset("k1")

        clock.advance(RETRY_INTERVAL_S)
        await opened.store.save(TWO_KEYS)

        assert opened.store.active_backend == "sqlite"
        assert [(old, new) for old, new, _ in opened.switches] == [("sqlite", "json"), ("json", "sqlite")]
        assert sqlite_content(db_path) == PoolSnapshot(
            keys=TWO_KEYS.keys, added_keys=(added("a2", OTHER_SECRET),)
        )
        assert not json_path.exists()


class TestRestartAfterFallback:
    """What was saved on the JSON file is there after a restart."""

    async def test_json_state_loads_after_restart_while_sqlite_is_still_broken(
        self, open_resilient: OpenResilient, db_path: Path
    ) -> None:
        """With the database still unusable, the next process loads the JSON file's state."""
        db_path.mkdir()
        first = open_resilient()
        await first.store.load()
        await first.store.save(ONE_KEY)
        await first.store.add_key(added("a1"))
        await first.store.close()

        second = open_resilient()

        assert await second.store.load() == PoolSnapshot(keys=ONE_KEY.keys, added_keys=(added("a1"),))
        assert second.store.active_backend == "json"

    async def test_json_state_moves_into_sqlite_when_it_works_at_restart(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """The JSON file is the newest state: at start it replaces the database's and is deleted."""
        first = open_resilient()
        await first.store.load()
        await first.store.add_key(added("a1"))
        with write_lock_held(db_path):
            await first.store.save(ONE_KEY)
            await first.store.remove_key("a1")
            await first.store.add_key(added("a2", OTHER_SECRET))
        await first.store.close()

        second = open_resilient()
        expected = PoolSnapshot(keys=ONE_KEY.keys, added_keys=(added("a2", OTHER_SECRET),))

        assert await second.store.load() == expected
        assert second.store.active_backend == "sqlite"
        assert second.switches == []
        assert sqlite_content(db_path) == expected
        assert not json_path.exists()

    async def test_corrupt_json_at_start_is_moved_aside_and_sqlite_state_is_used(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path, tmp_path: Path
    ) -> None:
        """An unreadable fallback file is kept aside, reported, and the database's state loads."""
        first = open_resilient()
        await first.store.load()
        await first.store.save(ONE_KEY)
        await first.store.close()
        json_path.write_bytes(b"{ not json")

        second = open_resilient()

        assert await second.store.load() == ONE_KEY
        assert (tmp_path / "state.db.json.corrupt-20261128T183000").read_bytes() == b"{ not json"
        assert [backend for backend, _ in second.corruptions] == ["json"]
        assert second.store.active_backend == "sqlite"


class TestBothBackendsFailing:
    """When neither backend accepts a write the caller hears of it, and nothing is lost."""

    async def test_save_raises_then_a_later_save_writes_the_whole_state(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """StoreUnavailable reaches the caller; once JSON works, it receives everything."""
        db_path.mkdir()
        opened = open_resilient()
        await opened.store.load()
        await opened.store.add_key(added("a1"))
        json_path.unlink()
        json_path.mkdir()

        with pytest.raises(StoreUnavailable, match="no state backend"):
            await opened.store.save(ONE_KEY)

        shutil.rmtree(json_path)
        await opened.store.save(TWO_KEYS)
        assert await JsonFileStore(json_path).load() == PoolSnapshot(
            keys=TWO_KEYS.keys, added_keys=(added("a1"),)
        )

    async def test_add_key_that_no_backend_took_can_be_retried(
        self, open_resilient: OpenResilient, db_path: Path, json_path: Path
    ) -> None:
        """A failed add_key is undone: retrying it later stores the key instead of DuplicateKey."""
        db_path.mkdir()
        opened = open_resilient()
        await opened.store.load()
        json_path.unlink()
        json_path.mkdir()
        with pytest.raises(StoreUnavailable):
            await opened.store.add_key(added("a1"))

        shutil.rmtree(json_path)
        await opened.store.add_key(added("a1"))

        assert (await JsonFileStore(json_path).load()).added_keys == (added("a1"),)


class TestAddedKeysOfAnUnreachableDatabase:
    """Added keys the database held while unreachable at start are not lost when it returns."""

    async def test_unseen_added_keys_are_kept_and_adopted(
        self, open_resilient: OpenResilient, db_path: Path, clock: FakeClock
    ) -> None:
        """Keys stored before the outage stay, unless removed meanwhile; new keys join them."""
        earlier = open_resilient()
        await earlier.store.load()
        await earlier.store.add_key(added("a1"))
        await earlier.store.add_key(added("a3"))
        await earlier.store.close()

        with read_and_write_lock_held(db_path):
            opened = open_resilient()
            assert await opened.store.load() == PoolSnapshot()
            await opened.store.add_key(added("a2", OTHER_SECRET))
            await opened.store.remove_key("a3")
        clock.advance(RETRY_INTERVAL_S)
        await opened.store.save(ONE_KEY)

        assert opened.store.active_backend == "sqlite"
        expected_keys = (added("a1"), added("a2", OTHER_SECRET))
        assert sqlite_content(db_path) == PoolSnapshot(keys=ONE_KEY.keys, added_keys=expected_keys)
        assert (await opened.store.load()).added_keys == expected_keys


class TestMirrorRules:
    """The resilient store answers like any store, whichever backend is active."""

    async def test_duplicate_added_key_is_refused_on_json_too(
        self, open_resilient: OpenResilient, db_path: Path
    ) -> None:
        """DuplicateKey is raised from the store's own view, whichever backend is active."""
        db_path.mkdir()
        opened = open_resilient()
        await opened.store.load()
        await opened.store.add_key(added("a1"))

        with pytest.raises(DuplicateKey):
            await opened.store.add_key(added("a1", OTHER_SECRET))

    async def test_operations_before_load_load_first(
        self, open_resilient: OpenResilient, db_path: Path
    ) -> None:
        """A save before any load still starts from what is stored (added keys are kept)."""
        earlier = open_resilient()
        await earlier.store.add_key(added("a1"))
        await earlier.store.close()

        opened = open_resilient()
        await opened.store.save(PoolSnapshot(cooldowns=(CooldownRecord("k1", "m", 9.0),)))

        assert sqlite_content(db_path).added_keys == (added("a1"),)
