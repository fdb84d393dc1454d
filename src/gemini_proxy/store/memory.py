"""A state store that keeps the snapshot in memory (tests, and ``state.path: null``).

Nothing survives the process. Closing it keeps the data, so the same instance can be
loaded again after a close, as a file store could be reopened.
"""

from __future__ import annotations

from gemini_proxy.store import snapshot as ops
from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot


class MemoryStore:
    """``StateStore`` over one in-memory ``PoolSnapshot``."""

    name = "memory"

    def __init__(self) -> None:
        self._stored = PoolSnapshot()

    async def load(self) -> PoolSnapshot:
        return self._stored

    async def save(self, snapshot: PoolSnapshot) -> None:
        self._stored = ops.with_state_of(self._stored, snapshot)

    async def add_key(self, record: AddedKeyRecord) -> None:
        self._stored = ops.with_added_key(self._stored, record)

    async def remove_key(self, key_id: str) -> bool:
        self._stored, removed = ops.without_added_key(self._stored, key_id)
        return removed

    async def reset(self, key_id: str | None = None) -> None:
        self._stored = ops.without_state_of(self._stored, key_id)

    async def close(self) -> None:
        """Nothing to release; the data stays for a later ``load``."""
