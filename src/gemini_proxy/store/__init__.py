"""Persistence of the key pool's state: a ``StateStore`` protocol and its backends.

``open_store`` builds the store the settings ask for; ``run_flusher`` is the background
loop that saves the pool's snapshot. See ``base`` for the protocol and the errors.
"""

from __future__ import annotations

from gemini_proxy.store.base import DuplicateKey, StateStore, StoreCorrupt, StoreError, StoreUnavailable
from gemini_proxy.store.factory import open_store
from gemini_proxy.store.flusher import run_flusher

__all__ = [
    "DuplicateKey",
    "StateStore",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "run_flusher",
]
