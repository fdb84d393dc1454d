"""The JSON file store: the whole snapshot in one file, replaced atomically on every write.

It is the fallback beside the SQLite database (``<state.path>.json``) and works without
SQLite. Every change is read-modify-write of the whole file under a lock: the file is
small (one record per key) and written only every few seconds. ``JsonStateFile`` does
the blocking file work; ``JsonFileStore`` runs it off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import orjson

from gemini_proxy.store import snapshot as ops
from gemini_proxy.store.base import Clock, StoreCorrupt, StoreError, StoreUnavailable
from gemini_proxy.store.codec import snapshot_from_document, snapshot_to_document
from gemini_proxy.store.files import fsync_folder, move_aside, remove_leftover_temp_files, write_atomically
from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot

_T = TypeVar("_T")


@contextlib.contextmanager
def _os_errors_as_unavailable(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StoreUnavailable(f"cannot use state file {path}: {exc.strerror or exc}") from exc


class JsonStateFile:
    """Blocking reads and atomic writes of one JSON state file (thread-safe)."""

    def __init__(self, path: Path, *, clock: Clock = time.time, move_corrupt_aside: bool = True) -> None:
        self.path = path
        self._clock = clock
        self._move_corrupt_aside = move_corrupt_aside
        self._lock = threading.Lock()

    def exists(self) -> bool:
        """Whether the file is there."""
        with _os_errors_as_unavailable(self.path):
            return self.path.exists()

    def read(self) -> PoolSnapshot:
        """The stored snapshot; an empty one when the file does not exist."""
        with self._lock:
            return self._read_unlocked()

    def update(self, change: Callable[[PoolSnapshot], tuple[PoolSnapshot, _T]]) -> _T:
        """Apply ``change`` to the stored snapshot and write its result; its second value."""
        with self._lock:
            updated, result = change(self._read_unlocked())
            try:
                encoded = orjson.dumps(snapshot_to_document(updated))
            except orjson.JSONEncodeError as exc:
                raise StoreError(f"cannot encode state for {self.path}: {exc}") from exc
            with _os_errors_as_unavailable(self.path):
                write_atomically(self.path, encoded)
            return result

    def delete(self) -> None:
        """Remove the file (a missing file is fine)."""
        with self._lock, _os_errors_as_unavailable(self.path):
            self.path.unlink(missing_ok=True)
            fsync_folder(self.path.parent)

    def remove_leftovers(self) -> None:
        """Delete temporary files an interrupted write left behind."""
        with self._lock, _os_errors_as_unavailable(self.path):
            remove_leftover_temp_files(self.path)

    def _read_unlocked(self) -> PoolSnapshot:
        with _os_errors_as_unavailable(self.path):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return PoolSnapshot()
        try:
            return ops.canonical(snapshot_from_document(orjson.loads(raw)))
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError too
            raise self._corrupt(f"state file {self.path} is unreadable: {exc}") from exc

    def _corrupt(self, message: str) -> StoreCorrupt:
        if not self._move_corrupt_aside:
            return StoreCorrupt(message)
        with _os_errors_as_unavailable(self.path):
            moved_to = move_aside(self.path, self._clock())
        return StoreCorrupt(message, moved_to=moved_to)


class JsonFileStore:
    """``StateStore`` over a JSON file; a corrupt file is moved aside and the store starts empty."""

    name = "json"

    def __init__(self, path: Path, *, clock: Clock = time.time) -> None:
        self._file = JsonStateFile(path, clock=clock)
        self._tidied = False

    @property
    def path(self) -> Path:
        return self._file.path

    async def load(self) -> PoolSnapshot:
        if not self._tidied:
            await asyncio.to_thread(self._file.remove_leftovers)
            self._tidied = True
        return await asyncio.to_thread(self._file.read)

    async def save(self, snapshot: PoolSnapshot) -> None:
        await self._update(lambda stored: (ops.with_state_of(stored, snapshot), None))

    async def add_key(self, record: AddedKeyRecord) -> None:
        await self._update(lambda stored: (ops.with_added_key(stored, record), None))

    async def remove_key(self, key_id: str) -> bool:
        return await self._update(lambda stored: ops.without_added_key(stored, key_id))

    async def reset(self, key_id: str | None = None) -> None:
        await self._update(lambda stored: (ops.without_state_of(stored, key_id), None))

    async def close(self) -> None:
        """Nothing stays open between operations."""

    async def holds_data(self) -> bool:
        """Whether the file exists (as a fallback: whether it holds the newest state)."""
        return await asyncio.to_thread(self._file.exists)

    async def discard(self) -> None:
        """Delete the file, once the primary store holds everything it had."""
        await asyncio.to_thread(self._file.delete)

    async def _update(self, change: Callable[[PoolSnapshot], tuple[PoolSnapshot, _T]]) -> _T:
        return await asyncio.to_thread(self._file.update, change)
