"""Build the state store the settings ask for."""

from __future__ import annotations

from pathlib import Path

from gemini_proxy.store.base import Clock, StateStore
from gemini_proxy.store.jsonfile import JsonFileStore
from gemini_proxy.store.memory import MemoryStore
from gemini_proxy.store.resilient import (
    DEFAULT_RETRY_INTERVAL_S,
    CorruptListener,
    ResilientStore,
    SwitchListener,
)
from gemini_proxy.store.sqlite import SqliteStore

DEFAULT_BUSY_TIMEOUT_S = 2.0


def fallback_path_for(path: Path) -> Path:
    """Where the JSON fallback of the database at ``path`` lives: ``<path>.json``."""
    return path.with_name(path.name + ".json")


def open_store(
    path: Path | None,
    *,
    on_switch: SwitchListener,
    clock: Clock,
    on_corrupt: CorruptListener | None = None,
    retry_interval_s: float = DEFAULT_RETRY_INTERVAL_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
) -> StateStore:
    """The store for ``state.path``: in memory for ``None``, else SQLite with a JSON fallback.

    Nothing is opened here; the first ``load`` creates folders and files.
    """
    if path is None:
        return MemoryStore()
    fallback_path = fallback_path_for(path)
    return ResilientStore(
        SqliteStore(path, clock=clock, busy_timeout_s=busy_timeout_s),
        lambda: JsonFileStore(fallback_path, clock=clock),
        on_switch=on_switch,
        on_corrupt=on_corrupt,
        clock=clock,
        retry_interval_s=retry_interval_s,
    )
