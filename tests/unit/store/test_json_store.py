"""What the JSON file store adds to the contract: atomic private writes and corruption handling."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from gemini_proxy.store.base import StoreCorrupt, StoreUnavailable
from gemini_proxy.store.jsonfile import JsonFileStore
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, PoolSnapshot

from .harness import FakeClock


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def write_document(path: Path, document: object) -> None:
    path.write_bytes(orjson.dumps(document))


def valid_document(**sections: object) -> dict[str, object]:
    return {"format": "gemini-proxy-state", "version": 1, **sections}


class TestJsonFile:
    """Writes replace the file whole, privately, leaving nothing beside it."""

    async def test_file_is_created_private(self, tmp_path: Path, clock: FakeClock) -> None:
        """The state file has mode 0600 (it may hold raw keys)."""
        path = tmp_path / "state.db.json"

        await JsonFileStore(path, clock=clock).save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))

        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    async def test_missing_folders_are_created(self, tmp_path: Path, clock: FakeClock) -> None:
        """The first write creates the file's parent folders."""
        path = tmp_path / "a" / "b" / "state.db.json"

        await JsonFileStore(path, clock=clock).save(PoolSnapshot())

        assert path.is_file()

    async def test_a_write_leaves_no_temporary_file(self, tmp_path: Path, clock: FakeClock) -> None:
        """After saves and key changes only the state file is in the folder."""
        store = JsonFileStore(tmp_path / "state.db.json", clock=clock)
        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))
        await store.add_key(AddedKeyRecord("a1", "secret-value-123456"))
        await store.remove_key("a1")

        assert names_in(tmp_path) == ["state.db.json"]

    async def test_file_is_a_versioned_json_document(self, tmp_path: Path, clock: FakeClock) -> None:
        """The file names its format and version, and holds the records as objects."""
        path = tmp_path / "state.db.json"

        await JsonFileStore(path, clock=clock).save(PoolSnapshot(cooldowns=(CooldownRecord("k1", "m", 5.0),)))

        document = orjson.loads(path.read_bytes())
        assert document["format"] == "gemini-proxy-state"
        assert document["version"] == 1
        assert document["cooldowns"] == [
            {"key_id": "k1", "model": "m", "until": 5.0, "reason": "", "per_day": False}
        ]

    async def test_leftover_temporary_file_does_not_break_loading(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """A half-written temp file of a killed write is ignored, then removed, on load."""
        path = tmp_path / "state.db.json"
        store = JsonFileStore(path, clock=clock)
        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))
        (tmp_path / ".state.db.json.x7f3k2.tmp").write_bytes(b'{"format": "gemini-pro')

        loaded = await JsonFileStore(path, clock=clock).load()

        assert loaded == PoolSnapshot(keys=(KeyStateRecord("k1"),))
        assert names_in(tmp_path) == ["state.db.json"]

    async def test_integers_in_float_fields_load_as_floats(self, tmp_path: Path, clock: FakeClock) -> None:
        """A hand-edited file with ``"until": 5`` loads as 5.0."""
        path = tmp_path / "state.db.json"
        write_document(path, valid_document(cooldowns=[{"key_id": "k1", "model": "m", "until": 5}]))

        loaded = await JsonFileStore(path, clock=clock).load()

        assert loaded.cooldowns == (CooldownRecord("k1", "m", 5.0),)
        assert isinstance(loaded.cooldowns[0].until, float)


BAD_DOCUMENTS = {
    "truncated": b'{"format": "gemini-proxy-state", "version": 1, "keys": [{"key_id": "k',
    "not json": b"\x00\x01 not json at all",
    "not an object": b"[1, 2, 3]",
    "other format": orjson.dumps({"format": "something-else", "version": 1}),
    "section not a list": orjson.dumps(valid_document(keys={"k1": {}})),
    "record not an object": orjson.dumps(valid_document(keys=["k1"])),
    "missing required field": orjson.dumps(valid_document(cooldowns=[{"key_id": "k1", "model": "m"}])),
    "wrong field type": orjson.dumps(valid_document(keys=[{"key_id": "k1", "requests": "many"}])),
    "bool for a number": orjson.dumps(valid_document(keys=[{"key_id": "k1", "health": True}])),
}


class TestJsonCorruption:
    """An unreadable file is moved aside, never overwritten, and the store starts empty."""

    @pytest.mark.parametrize("content", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
    async def test_unreadable_file_is_moved_aside_with_a_timestamp(
        self, tmp_path: Path, clock: FakeClock, content: bytes
    ) -> None:
        """StoreCorrupt names state.db.json.corrupt-<UTC time>, which holds the bytes unchanged."""
        path = tmp_path / "state.db.json"
        path.write_bytes(content)

        with pytest.raises(StoreCorrupt) as raised:
            await JsonFileStore(path, clock=clock).load()

        moved = tmp_path / "state.db.json.corrupt-20261128T183000"
        assert raised.value.moved_to == moved
        assert moved.read_bytes() == content
        assert not path.exists()

    async def test_store_starts_empty_after_moving_a_corrupt_file(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """The next load of the same store finds no state, and writes work again."""
        path = tmp_path / "state.db.json"
        path.write_bytes(b"{{{")
        store = JsonFileStore(path, clock=clock)
        with pytest.raises(StoreCorrupt):
            await store.load()

        assert await store.load() == PoolSnapshot()
        await store.save(PoolSnapshot(keys=(KeyStateRecord("k1"),)))
        assert await store.load() == PoolSnapshot(keys=(KeyStateRecord("k1"),))

    async def test_a_write_over_a_corrupt_file_moves_it_aside_first(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """A change read-modify-writes: a corrupt file is never silently replaced."""
        path = tmp_path / "state.db.json"
        path.write_bytes(b"garbage")

        with pytest.raises(StoreCorrupt):
            await JsonFileStore(path, clock=clock).save(PoolSnapshot())

        assert (tmp_path / "state.db.json.corrupt-20261128T183000").read_bytes() == b"garbage"

    async def test_document_of_a_newer_release_is_refused_and_left_alone(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """A newer document version raises StoreUnavailable and the file stays where it is."""
        path = tmp_path / "state.db.json"
        write_document(path, {"format": "gemini-proxy-state", "version": 7})

        with pytest.raises(StoreUnavailable, match="newer"):
            await JsonFileStore(path, clock=clock).load()

        assert names_in(tmp_path) == ["state.db.json"]


class TestJsonUnavailable:
    """File system failures are StoreUnavailable."""

    async def test_parent_that_is_a_file_is_unavailable(self, tmp_path: Path, clock: FakeClock) -> None:
        """A folder that cannot be created makes a write raise StoreUnavailable."""
        (tmp_path / "data").write_text("a file where the folder should be")

        with pytest.raises(StoreUnavailable):
            await JsonFileStore(tmp_path / "data" / "state.db.json", clock=clock).save(PoolSnapshot())

    async def test_path_that_is_a_folder_is_unavailable(self, tmp_path: Path, clock: FakeClock) -> None:
        """A folder where the file should be raises StoreUnavailable and is left alone."""
        path = tmp_path / "state.db.json"
        path.mkdir()

        with pytest.raises(StoreUnavailable):
            await JsonFileStore(path, clock=clock).load()

        assert path.is_dir()
