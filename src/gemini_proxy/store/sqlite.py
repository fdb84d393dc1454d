"""The SQLite state store (the default): one file, WAL journal, schema version with migrations.

``SqliteDatabase`` does the blocking work over one connection guarded by a lock, one
transaction per call; ``SqliteStore`` runs it off the event loop. The connection opens
on first use: the file (mode 0600) and its parent folders are created, the file is
checked with ``PRAGMA quick_check`` and migrated to the current schema. Every
``sqlite3`` and ``OSError`` failure is mapped here: corruption -> ``StoreCorrupt`` (the
file is moved aside first, so the next use starts a new, empty database), anything else
-> ``StoreUnavailable`` (the connection is dropped and reopened on the next call).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gemini_proxy.store import snapshot as ops
from gemini_proxy.store.base import Clock, DuplicateKey, StoreCorrupt, StoreError, StoreUnavailable
from gemini_proxy.store.files import ensure_private_file, move_aside
from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot
from gemini_proxy.store.sqlite_schema import (
    ADDED_KEYS,
    COOLDOWNS,
    KEY_STATES,
    SCHEMA_VERSION,
    USAGE,
    RowDecodeError,
    migrate,
    schema_version,
)

_T = TypeVar("_T")
_Work = Callable[[sqlite3.Connection], _T]

_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_COMPANION_SUFFIXES = ("-wal", "-shm")


class _Corruption(Exception):
    """Raised inside the database layer when the file's content is not usable."""


class SqliteDatabase:
    """Blocking access to the state database (thread-safe: one connection, one lock)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = time.time,
        busy_timeout_s: float = 2.0,
        move_corrupt_aside: bool = True,
    ) -> None:
        self.path = path
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._move_corrupt_aside = move_corrupt_aside
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        # True while the file holds exactly what the last save wrote: then a snapshot's
        # delta hint lets the next save write only its keys.
        self._in_sync = False

    def load(self) -> PoolSnapshot:
        def read(connection: sqlite3.Connection) -> PoolSnapshot:
            return PoolSnapshot(
                keys=tuple(KEY_STATES.from_row(row) for row in connection.execute(KEY_STATES.select_sql())),
                cooldowns=tuple(
                    COOLDOWNS.from_row(row) for row in connection.execute(COOLDOWNS.select_sql())
                ),
                usage=tuple(USAGE.from_row(row) for row in connection.execute(USAGE.select_sql())),
                added_keys=tuple(
                    ADDED_KEYS.from_row(row) for row in connection.execute(ADDED_KEYS.select_sql())
                ),
            )

        return ops.canonical(self._run(read, write=False))

    def save(self, snapshot: PoolSnapshot) -> None:
        delta = snapshot.delta if self._in_sync else None

        def replace_state(connection: sqlite3.Connection) -> None:
            for table, records in (
                (KEY_STATES, snapshot.keys),
                (COOLDOWNS, snapshot.cooldowns),
                (USAGE, snapshot.usage),
            ):
                connection.execute(f"DELETE FROM {table.name}")  # noqa: S608  (names are ours)
                connection.executemany(table.insert_sql(replace=True), [table.to_row(r) for r in records])

        def update_changed(connection: sqlite3.Connection) -> None:
            assert delta is not None
            ids = [(key_id,) for key_id in delta.key_ids]
            for table, records in (
                (KEY_STATES, delta.keys),
                (COOLDOWNS, delta.cooldowns),
                (USAGE, delta.usage),
            ):
                connection.executemany(f"DELETE FROM {table.name} WHERE key_id = ?", ids)  # noqa: S608
                connection.executemany(table.insert_sql(replace=True), [table.to_row(r) for r in records])

        self._in_sync = False
        if delta is None:
            self._run(replace_state, write=True)
        elif delta.key_ids:
            self._run(update_changed, write=True)
        self._in_sync = True

    def add_key(self, record: AddedKeyRecord) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(ADDED_KEYS.insert_sql(replace=False), ADDED_KEYS.to_row(record))
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(record.key_id) from exc

        self._run(insert, write=True)

    def remove_key(self, key_id: str) -> bool:
        def delete(connection: sqlite3.Connection) -> bool:
            return connection.execute("DELETE FROM added_key WHERE key_id = ?", (key_id,)).rowcount > 0

        removed = self._run(delete, write=True)
        # secure_delete zeroed the row in its page; truncating the WAL drops the old frames.
        self._run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall(), write=None)
        return removed

    def reset(self, key_id: str | None = None) -> None:
        def clear(connection: sqlite3.Connection) -> None:
            for table in (KEY_STATES, COOLDOWNS, USAGE):
                if key_id is None:
                    connection.execute(f"DELETE FROM {table.name}")  # noqa: S608  (names are ours)
                else:
                    connection.execute(f"DELETE FROM {table.name} WHERE key_id = ?", (key_id,))  # noqa: S608

        self._in_sync = False
        self._run(clear, write=True)

    def close(self) -> None:
        self._in_sync = False
        with self._lock:
            self._disconnect()

    def _run(self, work: _Work[_T], *, write: bool | None) -> _T:
        """Run ``work`` in a write, read or (``None``) no transaction; map every failure."""
        with self._lock:
            try:
                connection = self._connect()
                if write is None:
                    return work(connection)
                return self._in_transaction(connection, work, write=write)
            except StoreError:
                raise
            except (_Corruption, RowDecodeError) as exc:
                raise self._corrupt(str(exc)) from exc
            except (TypeError, OverflowError) as exc:  # a record value SQLite or orjson cannot hold
                raise StoreError(f"state database {self.path}: cannot store a record: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _CORRUPTION_CODES:
                    raise self._corrupt(str(exc)) from exc
                self._disconnect()
                raise StoreUnavailable(f"state database {self.path}: {exc}") from exc
            except (sqlite3.Error, OSError) as exc:
                self._disconnect()
                raise StoreUnavailable(f"state database {self.path}: {exc}") from exc

    @staticmethod
    def _in_transaction(connection: sqlite3.Connection, work: _Work[_T], *, write: bool) -> _T:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = work(connection)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        ensure_private_file(self.path)
        connection = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            self._prepare(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise _Corruption(f"integrity check failed: {'; '.join(map(str, problems[:3]))}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreUnavailable(f"state database {self.path}: cannot use WAL journal (got {mode!r})")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA secure_delete = ON")
        if schema_version(connection) == SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            found = schema_version(connection)
            if found > SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"state database {self.path} has schema version {found}, newer than this proxy "
                    f"understands ({SCHEMA_VERSION}); it is left untouched"
                )
            migrate(connection, found)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _corrupt(self, detail: str) -> StoreCorrupt:
        self._disconnect()
        message = f"state database {self.path} is corrupt: {detail}"
        if not self._move_corrupt_aside:
            return StoreCorrupt(message)
        try:
            moved_to = move_aside(self.path, self._clock(), companion_suffixes=_COMPANION_SUFFIXES)
        except OSError as exc:
            return StoreCorrupt(f"{message}; could not move it aside: {exc}")
        return StoreCorrupt(message, moved_to=moved_to)

    def _disconnect(self) -> None:
        self._in_sync = False
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None


class SqliteStore:
    """``StateStore`` over a SQLite file; the blocking work runs in worker threads."""

    name = "sqlite"

    def __init__(self, path: Path, *, clock: Clock = time.time, busy_timeout_s: float = 2.0) -> None:
        self._database = SqliteDatabase(path, clock=clock, busy_timeout_s=busy_timeout_s)

    @property
    def path(self) -> Path:
        return self._database.path

    async def load(self) -> PoolSnapshot:
        return await asyncio.to_thread(self._database.load)

    async def save(self, snapshot: PoolSnapshot) -> None:
        await asyncio.to_thread(self._database.save, snapshot)

    async def add_key(self, record: AddedKeyRecord) -> None:
        await asyncio.to_thread(self._database.add_key, record)

    async def remove_key(self, key_id: str) -> bool:
        return await asyncio.to_thread(self._database.remove_key, key_id)

    async def reset(self, key_id: str | None = None) -> None:
        await asyncio.to_thread(self._database.reset, key_id)

    async def close(self) -> None:
        await asyncio.to_thread(self._database.close)
