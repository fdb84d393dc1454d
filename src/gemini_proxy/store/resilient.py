"""A store that keeps persisting when its primary (SQLite) cannot: it falls back to a file.

``ResilientStore`` keeps a mirror of everything stored (key states, cooldowns, usage and
added keys) and writes each change to the active backend. When the primary cannot be
opened, written, or is corrupt, it switches to the fallback (a JSON file beside the
database), writes the whole mirror there and calls ``on_switch(from, to, reason)`` once.
On later saves, at most every ``retry_interval_s``, it copies the mirror back into the
primary; when that works it deletes the fallback file and switches back.

The fallback file exists only while it holds the newest state, so at start a fallback
file means the previous run ended on it: its content wins and is handed to the primary.
A corrupt file of either kind has already been moved aside by its store (``on_corrupt``
hears of it) and that store starts empty.

Added keys the primary holds but the mirror never saw (the primary was unavailable when
this process loaded) are kept and adopted when the primary comes back, unless they were
removed in the meantime.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Protocol

from gemini_proxy.store import snapshot as ops
from gemini_proxy.store.base import (
    Clock,
    DuplicateKey,
    StateStore,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
)
from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot

SwitchListener = Callable[[str, str, str], None]
CorruptListener = Callable[[str, str], None]
_Write = Callable[[StateStore], Awaitable[None]]

DEFAULT_RETRY_INTERVAL_S = 30.0


class FallbackStore(StateStore, Protocol):
    """A store that can say whether it holds data, and forget it once handed back."""

    async def holds_data(self) -> bool:
        """Whether something is stored (for a fallback: the newest state)."""
        ...

    async def discard(self) -> None:
        """Delete everything stored, once the primary holds it."""
        ...


class ResilientStore:
    """``StateStore`` over a primary and a fallback; see the module docstring."""

    name = "resilient"

    def __init__(
        self,
        primary: StateStore,
        fallback_factory: Callable[[], FallbackStore],
        *,
        on_switch: SwitchListener,
        clock: Clock,
        on_corrupt: CorruptListener | None = None,
        retry_interval_s: float = DEFAULT_RETRY_INTERVAL_S,
    ) -> None:
        self._primary = primary
        self._fallback_factory = fallback_factory
        self._fallback: FallbackStore | None = None
        self._on_switch = on_switch
        self._on_corrupt = on_corrupt
        self._clock = clock
        self._retry_interval_s = retry_interval_s
        self._lock = asyncio.Lock()
        self._active: StateStore = primary
        self._active_in_sync = True  # False: the next write to it copies the whole mirror
        self._mirror: PoolSnapshot | None = None
        self._removed_ids: set[str] = set()  # added keys removed by this process
        self._primary_seen = False  # whether the mirror includes what the primary held
        self._next_primary_attempt = 0.0

    @property
    def active_backend(self) -> str:
        """The backend writes go to now: the primary's name (``sqlite``) or the fallback's (``json``)."""
        return self._active.name

    async def load(self) -> PoolSnapshot:
        """The newest stored state; falls back (and says so) when the primary cannot load.

        Raises ``StoreUnavailable`` only when a fallback file exists but cannot be read: it
        may hold the newest state, so it is neither ignored nor overwritten.
        """
        async with self._lock:
            return await self._load()

    async def save(self, snapshot: PoolSnapshot) -> None:
        async with self._lock:
            mirror = ops.with_state_of(await self._loaded(), snapshot)
            self._mirror = mirror
            if self._primary_retry_due() and await self._return_to_primary():
                return
            await self._write(lambda store: store.save(mirror))

    async def add_key(self, record: AddedKeyRecord) -> None:
        async with self._lock:
            stored = await self._loaded()
            with self._undone_unless_persisted():
                self._mirror = ops.with_added_key(stored, record)
                self._removed_ids.discard(record.key_id)

                async def add(store: StateStore) -> None:
                    try:
                        await store.add_key(record)
                    except DuplicateKey:  # a key the primary held that this process never loaded
                        await store.remove_key(record.key_id)
                        await store.add_key(record)

                await self._write(add)

    async def remove_key(self, key_id: str) -> bool:
        async with self._lock:
            stored = await self._loaded()
            with self._undone_unless_persisted():
                self._mirror, removed = ops.without_added_key(stored, key_id)
                self._removed_ids.add(key_id)
                removed_from_store = False

                async def remove(store: StateStore) -> None:
                    nonlocal removed_from_store
                    removed_from_store = await store.remove_key(key_id)

                await self._write(remove)
                return removed or removed_from_store

    async def reset(self, key_id: str | None = None) -> None:
        async with self._lock:
            stored = await self._loaded()
            with self._undone_unless_persisted():
                self._mirror = ops.without_state_of(stored, key_id)
                await self._write(lambda store: store.reset(key_id))

    async def close(self) -> None:
        async with self._lock:
            await self._primary.close()
            if self._fallback is not None:
                await self._fallback.close()

    async def _load(self) -> PoolSnapshot:
        fallback = self._fallback_store()
        newest: PoolSnapshot | None = None
        if await fallback.holds_data():
            try:
                newest = await fallback.load()
            except StoreCorrupt as exc:
                self._report_corrupt(fallback, exc)
        try:
            stored = await self._primary.load()
        except StoreError as exc:
            self._report_corrupt(self._primary, exc)
            self._mirror = newest if newest is not None else PoolSnapshot()
            # When the fallback fails too nothing persists now; the next save retries and reports it.
            with contextlib.suppress(StoreUnavailable):
                await self._switch_to_fallback(str(exc), in_sync=newest is not None)
            return self._mirror
        self._primary_seen = True
        self._mirror = stored if newest is None else newest
        if newest is not None:
            failure = await self._hand_back_to_primary()
            if failure is not None:
                await self._switch_to_fallback(failure, in_sync=True)
        return self._mirror

    async def _loaded(self) -> PoolSnapshot:
        if self._mirror is None:
            return await self._load()
        return self._mirror

    async def _write(self, write: _Write) -> None:
        """Apply one change to the active backend; fall back or report when it fails."""
        store = self._active
        try:
            if self._active_in_sync:
                await write(store)
            else:
                await self._copy_mirror_to(store, keep_unknown_keys=False)
                self._active_in_sync = True
            return
        except DuplicateKey:
            raise
        except StoreError as exc:
            self._report_corrupt(store, exc)
            failure = exc
        if store is self._primary:
            await self._switch_to_fallback(str(failure), in_sync=False)
            return
        self._active_in_sync = False
        raise StoreUnavailable(f"no state backend accepts writes: {failure}") from failure

    async def _switch_to_fallback(self, reason: str, *, in_sync: bool) -> None:
        """Make the fallback active (telling ``on_switch``), copying the mirror unless ``in_sync``."""
        fallback = self._fallback_store()
        previous = self._active
        self._active, self._active_in_sync = fallback, in_sync
        self._next_primary_attempt = self._clock() + self._retry_interval_s
        if previous is not fallback:
            self._on_switch(previous.name, fallback.name, reason)
        if in_sync:
            return
        try:
            await self._copy_mirror_to(fallback, keep_unknown_keys=False)
        except StoreError as exc:
            self._report_corrupt(fallback, exc)
            raise StoreUnavailable(f"no state backend accepts writes: {exc}") from exc
        self._active_in_sync = True

    def _primary_retry_due(self) -> bool:
        return self._active is not self._primary and self._clock() >= self._next_primary_attempt

    async def _return_to_primary(self) -> bool:
        """Try the primary again; whether it took the whole mirror and is active again."""
        self._next_primary_attempt = self._clock() + self._retry_interval_s
        if await self._hand_back_to_primary() is not None:
            return False
        previous = self._active
        self._active, self._active_in_sync = self._primary, True
        self._on_switch(previous.name, self._primary.name, f"{self._primary.name} accepts writes again")
        return True

    async def _hand_back_to_primary(self) -> str | None:
        """Copy the mirror into the primary and delete the fallback file; why not, if it failed."""
        try:
            await self._copy_mirror_to(self._primary, keep_unknown_keys=not self._primary_seen)
        except StoreError as exc:
            self._report_corrupt(self._primary, exc)
            return str(exc)
        self._primary_seen = True
        try:
            await self._fallback_store().discard()
        except StoreError as exc:  # the fallback file stays the newest copy, so it stays active
            return f"cannot delete the fallback file: {exc}"
        return None

    async def _copy_mirror_to(self, store: StateStore, *, keep_unknown_keys: bool) -> None:
        """Make ``store`` hold exactly the mirror (plus, if asked, added keys the mirror never saw)."""
        mirror = self._loaded_mirror()
        wanted = {record.key_id: record for record in mirror.added_keys}
        adopted: list[AddedKeyRecord] = []
        for record in (await store.load()).added_keys:
            if wanted.get(record.key_id) == record:
                del wanted[record.key_id]
            elif keep_unknown_keys and record.key_id not in wanted and record.key_id not in self._removed_ids:
                adopted.append(record)
            else:
                await store.remove_key(record.key_id)
        for record in wanted.values():
            await store.add_key(record)
        await store.save(mirror)
        if adopted:
            self._mirror = ops.canonical(replace(mirror, added_keys=(*mirror.added_keys, *adopted)))

    @contextlib.contextmanager
    def _undone_unless_persisted(self) -> Iterator[None]:
        """Undo a change to the mirror that no backend accepted, so the caller may retry it.

        (A failed ``save`` is not undone: the pool's next snapshot supersedes it anyway.)
        """
        mirror, removed_ids = self._mirror, set(self._removed_ids)
        try:
            yield
        except StoreUnavailable:
            self._mirror, self._removed_ids = mirror, removed_ids
            raise

    def _loaded_mirror(self) -> PoolSnapshot:
        if self._mirror is None:
            raise RuntimeError("the store's state is used before it was loaded")
        return self._mirror

    def _fallback_store(self) -> FallbackStore:
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    def _report_corrupt(self, store: StateStore, error: StoreError) -> None:
        if isinstance(error, StoreCorrupt) and self._on_corrupt is not None:
            self._on_corrupt(store.name, str(error))
