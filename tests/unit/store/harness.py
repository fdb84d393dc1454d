"""What the store tests share: a fake clock, sample secrets, one harness per backend.

To run the contract suite on another backend (Redis, say), add a builder to
``HARNESS_BUILDERS`` (and its name to ``PERSISTENT_BACKENDS`` if its data outlives a
close); a builder fails the test when the backend's server is not there. The Redis
harness uses the shared test server under a prefix of its own, removed at teardown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gemini_proxy.store.base import StateStore
from gemini_proxy.store.jsonfile import JsonFileStore
from gemini_proxy.store.memory import MemoryStore
from gemini_proxy.store.redis_store import RedisStore
from gemini_proxy.store.resilient import ResilientStore
from gemini_proxy.store.sqlite import SqliteStore
from tests.redis_support import (
    REDIS_URL,
    delete_prefix,
    require_redis,
    stored_values,
    unique_prefix,
)

# Shaped like a real Gemini key (39 characters); the tests grep state files for it.
SECRET = "AIzaSyD3f4k3K3yF0rT3st1ngOnlyAbCdEfGh1"
OTHER_SECRET = "AIzaSyZ9y8x7w6v5u4t3s2r1q0PoNmLkJiHgF2"
START = datetime(2026, 11, 28, 18, 30, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class StoreHarness:
    """Opens stores of one backend over one location, and closes them at teardown."""

    name: str
    folder: Path
    opener: Callable[[], StateStore]
    opened: list[StateStore] = field(default_factory=list)

    def open(self) -> StateStore:
        """A store over the harness's location (a new instance, for file backends)."""
        store = self.opener()
        self.opened.append(store)
        return store

    def stored_bytes(self) -> bytes:
        """Every byte of every file the backend left in its folder."""
        return b"".join(path.read_bytes() for path in sorted(self.folder.rglob("*")) if path.is_file())

    def cleanup(self) -> None:
        """Remove what the backend stored outside the test's folder (nothing, for files)."""


@dataclass
class RedisStoreHarness(StoreHarness):
    """Stores over one prefix of the shared test Redis; its keys are deleted at cleanup."""

    url: str = REDIS_URL
    prefix: str = ""

    def stored_bytes(self) -> bytes:
        """Every name, field and value stored under the prefix."""
        return stored_values(self.url, self.prefix)

    def cleanup(self) -> None:
        delete_prefix(self.url, self.prefix)


def _memory_harness(folder: Path, clock: FakeClock) -> StoreHarness:
    store = MemoryStore()
    return StoreHarness("memory", folder, lambda: store)


def _sqlite_harness(folder: Path, clock: FakeClock) -> StoreHarness:
    return StoreHarness("sqlite", folder, lambda: SqliteStore(folder / "state.db", clock=clock))


def _json_harness(folder: Path, clock: FakeClock) -> StoreHarness:
    return StoreHarness("json", folder, lambda: JsonFileStore(folder / "state.json", clock=clock))


def _resilient_harness(folder: Path, clock: FakeClock) -> StoreHarness:
    def open_resilient() -> StateStore:
        return ResilientStore(
            SqliteStore(folder / "state.db", clock=clock),
            lambda: JsonFileStore(folder / "state.db.json", clock=clock),
            on_switch=lambda old, new, reason: pytest.fail(f"unexpected switch {old} -> {new}: {reason}"),
            clock=clock,
        )

    return StoreHarness("resilient", folder, open_resilient)


def _redis_harness(folder: Path, clock: FakeClock) -> StoreHarness:
    require_redis()
    prefix = unique_prefix("store")
    return RedisStoreHarness(
        "redis", folder, lambda: RedisStore(REDIS_URL, prefix=prefix, clock=clock), prefix=prefix
    )


HARNESS_BUILDERS: dict[str, Callable[[Path, FakeClock], StoreHarness]] = {
    "memory": _memory_harness,
    "sqlite": _sqlite_harness,
    "json": _json_harness,
    "resilient": _resilient_harness,
    "redis": _redis_harness,
}
PERSISTENT_BACKENDS = ("sqlite", "json", "resilient", "redis")
