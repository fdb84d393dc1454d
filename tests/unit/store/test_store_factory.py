"""``open_store`` builds the store the settings ask for."""

from __future__ import annotations

from pathlib import Path

from gemini_proxy.store.factory import fallback_path_for, open_store
from gemini_proxy.store.memory import MemoryStore
from gemini_proxy.store.records import KeyStateRecord, PoolSnapshot
from gemini_proxy.store.resilient import ResilientStore

from .harness import FakeClock

ONE_KEY = PoolSnapshot(keys=(KeyStateRecord("k1"),))


class TestOpenStore:
    """No path means memory; a path means SQLite with a JSON fallback beside it."""

    async def test_no_path_gives_a_memory_store(self, clock: FakeClock) -> None:
        """``state.path: null`` keeps state in memory only."""
        store = open_store(None, on_switch=lambda *args: None, clock=clock)

        assert isinstance(store, MemoryStore)

    async def test_path_gives_a_resilient_sqlite_store(self, tmp_path: Path, clock: FakeClock) -> None:
        """A path opens nothing until load, then uses SQLite at that path."""
        path = tmp_path / "data" / "state.db"
        store = open_store(path, on_switch=lambda *args: None, clock=clock)
        assert isinstance(store, ResilientStore)
        assert not path.parent.exists()

        await store.load()
        await store.save(ONE_KEY)
        await store.close()

        assert store.active_backend == "sqlite"
        assert path.is_file()

    async def test_fallback_goes_beside_the_database(self, tmp_path: Path, clock: FakeClock) -> None:
        """When SQLite cannot open the path, state lands in <path>.json."""
        path = tmp_path / "state.db"
        path.mkdir()
        switches: list[tuple[str, str, str]] = []
        store = open_store(path, on_switch=lambda *args: switches.append(args), clock=clock)

        await store.load()
        await store.save(ONE_KEY)
        await store.close()

        assert fallback_path_for(path) == tmp_path / "state.db.json"
        assert fallback_path_for(path).is_file()
        assert [(old, new) for old, new, _ in switches] == [("sqlite", "json")]
