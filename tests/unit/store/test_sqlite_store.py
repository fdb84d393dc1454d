"""What the SQLite store adds to the contract: its file, its schema, corruption and locks."""

from __future__ import annotations

import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from gemini_proxy.store.base import StoreCorrupt, StoreUnavailable
from gemini_proxy.store.records import AddedKeyRecord, KeyStateRecord, PoolSnapshot
from gemini_proxy.store.sqlite import SqliteStore
from gemini_proxy.store.sqlite_schema import SCHEMA_VERSION

from .harness import SECRET, FakeClock

# The first schema exactly as release 1 wrote it. Frozen: never edit it to match the
# current schema; it is how the tests build the databases old releases left behind.
V1_DDL = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE key_state (
    key_id TEXT PRIMARY KEY,
    disabled INTEGER NOT NULL,
    disabled_reason TEXT,
    disabled_at REAL,
    next_probe_at REAL,
    breaker_state TEXT NOT NULL,
    breaker_level INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    open_until REAL,
    health REAL NOT NULL,
    requests INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT,
    last_error_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE cooldown (
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    until REAL NOT NULL,
    reason TEXT NOT NULL,
    per_day INTEGER NOT NULL,
    PRIMARY KEY (key_id, model)
);
CREATE TABLE usage_window (
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    window_kind TEXT NOT NULL,
    window_start REAL NOT NULL,
    requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (key_id, model, window_kind, window_start)
);
CREATE TABLE added_key (
    key_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    name TEXT NOT NULL,
    limits TEXT NOT NULL,
    added_at REAL NOT NULL
);
INSERT INTO schema_version (version) VALUES (1);
"""

SHORT_BUSY_TIMEOUT_S = 0.05


def build_v1_database(path: Path) -> None:
    """A database as release 1 left it: one key state, one added key."""
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(V1_DDL)
        connection.execute(
            "INSERT INTO key_state VALUES ('k1', 1, 'API_KEY_INVALID', 10.0, 20.0, 'open', 2, 3, 30.0,"
            " 0.5, 100, 7, 'http_403', 40.0, 50.0)"
        )
        connection.execute(
            "INSERT INTO added_key VALUES ('a1', ?, 'team-a', '{\"rpm\": 5}', 60.0)",
            (SECRET,),
        )
        connection.commit()


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock, as a second process would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield other
        finally:
            other.execute("ROLLBACK")


@pytest.fixture
async def sqlite_store_factory(clock: FakeClock) -> AsyncIterator[Callable[[Path], SqliteStore]]:
    opened: list[SqliteStore] = []

    def open_store(path: Path) -> SqliteStore:
        store = SqliteStore(path, clock=clock, busy_timeout_s=SHORT_BUSY_TIMEOUT_S)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestSqliteFile:
    """The database file is created private, in WAL mode, at the current schema."""

    async def test_creates_missing_parent_folders_and_a_private_file(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """The first use creates the folders and the file with mode 0600 (its WAL too)."""
        path = tmp_path / "data" / "nested" / "state.db"
        store = sqlite_store_factory(path)

        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))

        assert file_mode(path) == 0o600
        assert file_mode(path.with_name("state.db-wal")) == 0o600

    async def test_narrows_a_wider_mode_of_an_existing_file(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A database file readable by others is made private when opened."""
        path = tmp_path / "state.db"
        path.touch(mode=0o644)
        path.chmod(0o644)

        await sqlite_store_factory(path).load()

        assert file_mode(path) == 0o600

    async def test_journal_is_in_wal_mode(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """The database uses the write-ahead log (a persistent setting of the file)."""
        path = tmp_path / "state.db"
        await sqlite_store_factory(path).load()

        with closing(sqlite3.connect(path)) as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    async def test_new_database_is_at_the_current_schema_version(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A new file records the newest schema version (2) in schema_version."""
        path = tmp_path / "state.db"
        await sqlite_store_factory(path).load()

        with closing(sqlite3.connect(path)) as reader:
            assert reader.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert SCHEMA_VERSION == 2


class TestSqliteMigrations:
    """Databases of older schema versions are migrated forward, never backward."""

    async def test_v1_database_is_migrated_and_keeps_its_rows(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """v1 rows load with the fields v2 added at their defaults, and the version becomes 2."""
        path = tmp_path / "state.db"
        build_v1_database(path)

        loaded = await sqlite_store_factory(path).load()

        assert loaded.keys == (
            KeyStateRecord(
                key_id="k1",
                disabled=True,
                disabled_reason="API_KEY_INVALID",
                disabled_at=10.0,
                next_probe_at=20.0,
                probe_failures=0,
                breaker_state="open",
                breaker_level=2,
                consecutive_failures=3,
                open_until=30.0,
                health=0.5,
                requests=100,
                failures=7,
                last_error="http_403",
                last_error_at=40.0,
                updated_at=50.0,
            ),
        )
        assert loaded.added_keys == (
            AddedKeyRecord(
                key_id="a1",
                secret=SECRET,
                name="team-a",
                project=None,
                weight=1.0,
                limits={"rpm": 5},
                added_at=60.0,
            ),
        )
        with closing(sqlite3.connect(path)) as reader:
            assert reader.execute("SELECT version FROM schema_version").fetchall() == [(2,)]

    async def test_migrated_database_stores_the_new_fields(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """After migrating, probe_failures, project and weight are written and read back."""
        path = tmp_path / "state.db"
        build_v1_database(path)
        store = sqlite_store_factory(path)
        added = AddedKeyRecord(key_id="a2", secret=SECRET[::-1], project="p-9", weight=3.0)

        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1", probe_failures=4),)))
        await store.add_key(added)

        loaded = await store.load()
        assert loaded.keys[0].probe_failures == 4
        assert loaded.added_keys[1] == added

    async def test_database_of_a_newer_release_is_refused_and_left_alone(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A schema version above ours raises StoreUnavailable and the file is not touched."""
        path = tmp_path / "state.db"
        build_v1_database(path)
        with closing(sqlite3.connect(path)) as writer:
            writer.execute("UPDATE schema_version SET version = 99")
            writer.commit()

        with pytest.raises(StoreUnavailable, match="newer"):
            await sqlite_store_factory(path).load()

        assert names_in(tmp_path) == ["state.db"]


class TestSqliteCorruption:
    """A file that is not a usable database is moved aside, and the store starts empty."""

    async def test_garbage_file_is_moved_aside_with_a_timestamp(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """StoreCorrupt names state.db.corrupt-<UTC time>, which holds the garbage unchanged."""
        path = tmp_path / "state.db"
        garbage = b"this is not a database " * 200
        path.write_bytes(garbage)

        with pytest.raises(StoreCorrupt) as raised:
            await sqlite_store_factory(path).load()

        moved = tmp_path / "state.db.corrupt-20261128T183000"
        assert raised.value.moved_to == moved
        assert moved.read_bytes() == garbage
        assert not path.exists()

    async def test_store_starts_empty_after_moving_garbage_aside(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """The next use of the same store creates a new, empty database."""
        path = tmp_path / "state.db"
        path.write_bytes(b"garbage" * 1000)
        store = sqlite_store_factory(path)
        with pytest.raises(StoreCorrupt):
            await store.load()

        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))

        assert await store.load() == PoolSnapshot(keys=(KeyStateRecord("k1"),))

    async def test_second_corrupt_file_in_the_same_second_gets_its_own_name(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """An earlier moved-aside file is never overwritten."""
        path = tmp_path / "state.db"
        (tmp_path / "state.db.corrupt-20261128T183000").write_bytes(b"first")
        path.write_bytes(b"second garbage" * 100)

        with pytest.raises(StoreCorrupt):
            await sqlite_store_factory(path).load()

        assert (tmp_path / "state.db.corrupt-20261128T183000").read_bytes() == b"first"
        assert (tmp_path / "state.db.corrupt-20261128T183000-2").read_bytes() == b"second garbage" * 100


class TestSqliteUnavailable:
    """Failures that may pass are StoreUnavailable, and the store recovers from them."""

    async def test_locked_database_gives_up_after_the_busy_timeout(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A write lock held by another connection raises StoreUnavailable, quickly."""
        path = tmp_path / "state.db"
        store = sqlite_store_factory(path)
        await store.load()

        with write_lock_held(path):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))
            assert time.monotonic() - started < 2.0

    async def test_store_works_again_once_the_lock_is_released(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """After a failed write the next one reconnects and succeeds."""
        path = tmp_path / "state.db"
        store = sqlite_store_factory(path)
        await store.load()
        with write_lock_held(path), pytest.raises(StoreUnavailable):
            await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))

        await store.save(PoolSnapshot(keys=(KeyStateRecord("k2"),)))

        assert await store.load() == PoolSnapshot(keys=(KeyStateRecord("k2"),))

    async def test_path_that_is_a_folder_is_unavailable_not_corrupt(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A path that cannot be opened as a file raises StoreUnavailable and moves nothing."""
        path = tmp_path / "state.db"
        path.mkdir()

        with pytest.raises(StoreUnavailable):
            await sqlite_store_factory(path).load()

        assert names_in(tmp_path) == ["state.db"]

    async def test_parent_that_is_a_file_is_unavailable(
        self, tmp_path: Path, sqlite_store_factory: Callable[[Path], SqliteStore]
    ) -> None:
        """A parent folder that cannot be created raises StoreUnavailable."""
        (tmp_path / "data").write_text("a file where the folder should be")

        with pytest.raises(StoreUnavailable):
            await sqlite_store_factory(tmp_path / "data" / "state.db").load()
