"""The state store seam: the ``StateStore`` protocol and the errors every store raises.

A store persists a ``PoolSnapshot``. ``save`` replaces the stored key states, cooldowns
and usage windows with the snapshot's; keys added through the admin API are kept apart
and changed only by ``add_key`` and ``remove_key``. Every store maps its foreign errors
(``sqlite3``, ``OSError``, ``orjson``) once, at its edge, into this small tree::

    StoreError
    ├── StoreUnavailable   cannot open, read or write (read-only, full disk, locked)
    ├── StoreCorrupt       the stored data cannot be understood
    └── DuplicateKey       add_key with an id that is already stored

A store that detects corruption moves the file aside (``<file>.corrupt-<UTC time>``)
before raising ``StoreCorrupt``, unless it was told not to, and then starts empty.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gemini_proxy.store.records import AddedKeyRecord, PoolSnapshot

# Wall-clock time as a Unix timestamp (``time.time``); injected so tests control it.
Clock = Callable[[], float]


class StoreError(Exception):
    """Base of every error a state store raises."""


class StoreUnavailable(StoreError):
    """The store cannot be opened, read or written now; retrying later may work."""


class StoreCorrupt(StoreError):
    """The stored data cannot be understood.

    ``moved_to`` is where the unreadable file was moved, or ``None`` when it was left
    in place (the CLI's read-only commands never move files).
    """

    def __init__(self, message: str, *, moved_to: Path | None = None) -> None:
        if moved_to is not None:
            message = f"{message}; moved aside to {moved_to}"
        super().__init__(message)
        self.moved_to = moved_to


class DuplicateKey(StoreError):
    """``add_key`` was given a key id that is already stored."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id!r} is already stored")
        self.key_id = key_id


class StateStore(Protocol):
    """Where the key pool's state lives between restarts."""

    @property
    def name(self) -> str:
        """The backend's short name: ``memory``, ``sqlite``, ``json``, ``resilient``..."""
        ...

    async def load(self) -> PoolSnapshot:
        """Everything stored, records in natural-key order (an empty snapshot when new)."""
        ...

    async def save(self, snapshot: PoolSnapshot) -> None:
        """Replace the stored key states, cooldowns and usage with the snapshot's.

        ``snapshot.added_keys`` is ignored: added keys change only through
        ``add_key`` and ``remove_key``.
        """
        ...

    async def add_key(self, record: AddedKeyRecord) -> None:
        """Store a key added at run time; ``DuplicateKey`` if its id is already stored."""
        ...

    async def remove_key(self, key_id: str) -> bool:
        """Forget an added key; whether it was stored."""
        ...

    async def reset(self, key_id: str | None = None) -> None:
        """Clear the state, cooldowns and usage of one key, or of all; added keys stay."""
        ...

    async def close(self) -> None:
        """Release files and connections."""
        ...
