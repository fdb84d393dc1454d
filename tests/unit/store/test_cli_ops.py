"""``state show`` and ``state reset`` read and clear the state files, never showing a raw key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gemini_proxy.store.base import StoreCorrupt
from gemini_proxy.store.cli_ops import mask_secret, reset_state, show_state
from gemini_proxy.store.jsonfile import JsonStateFile
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)
from gemini_proxy.store.snapshot import with_added_key
from gemini_proxy.store.sqlite import SqliteDatabase

from .harness import OTHER_SECRET, SECRET

STATE = PoolSnapshot(
    keys=(
        KeyStateRecord(
            "k1", disabled=True, disabled_reason="API_KEY_INVALID", last_error=f"rejected {SECRET}"
        ),
        KeyStateRecord("a1", health=0.5, requests=3),
    ),
    cooldowns=(CooldownRecord("k1", "gemini-2.5-pro", 100.0, "per_day_quota", per_day=True),),
    usage=(UsageRecord("a1", "gemini-2.5-flash", "day", 0.0, requests=3, tokens=30),),
)
ADDED = AddedKeyRecord(key_id="a1", secret=OTHER_SECRET, name="team-a")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "state.db"


@pytest.fixture
def database(db_path: Path) -> Iterator[SqliteDatabase]:
    """The state database, filled with ``STATE`` and one added key."""
    database = SqliteDatabase(db_path)
    database.save(STATE)
    database.add_key(ADDED)
    yield database
    database.close()


def fallback_file(db_path: Path) -> JsonStateFile:
    return JsonStateFile(db_path.with_name("state.db.json"))


class TestMaskSecret:
    """The display form of a key shows its first and last four characters only."""

    def test_long_key_shows_four_and_four(self) -> None:
        """A real-length key becomes AIza...<last 4>."""
        assert mask_secret(SECRET) == f"AIza...{SECRET[-4:]}"

    def test_short_secret_shows_nothing(self) -> None:
        """A secret too short to mask safely is shown as ... only."""
        assert mask_secret("short-key") == "..."


class TestShowState:
    """Rows per key, from the newest state file."""

    def test_missing_state_shows_nothing_and_creates_nothing(self, db_path: Path) -> None:
        """Without state files the answer is empty and no file or folder is made."""
        assert show_state(db_path) == []
        assert not db_path.parent.exists()

    def test_one_row_per_key_sorted_by_id(self, db_path: Path, database: SqliteDatabase) -> None:
        """Every key id the state mentions has one row, with its state, cooldowns and usage."""
        rows = show_state(db_path)

        assert [row["key_id"] for row in rows] == ["a1", "k1"]
        added_row, configured_row = rows
        assert added_row["added"] is True
        assert added_row["name"] == "team-a"
        assert added_row["health"] == 0.5
        assert added_row["usage"] == [
            {"model": "gemini-2.5-flash", "window": "day", "window_start": 0.0, "requests": 3, "tokens": 30}
        ]
        assert configured_row["added"] is False
        assert configured_row["masked_key"] is None
        assert configured_row["disabled"] is True
        assert configured_row["cooldowns"] == [
            {"model": "gemini-2.5-pro", "until": 100.0, "reason": "per_day_quota", "per_day": True}
        ]

    def test_added_key_is_shown_masked_never_raw(self, db_path: Path, database: SqliteDatabase) -> None:
        """The row of an added key has its masked form; no raw key appears anywhere in the rows."""
        rows = show_state(db_path)

        assert rows[0]["masked_key"] == f"AIza...{OTHER_SECRET[-4:]}"
        dumped = orjson.dumps(rows)
        assert OTHER_SECRET.encode() not in dumped
        assert SECRET.encode() not in dumped

    def test_key_shaped_text_in_errors_is_masked(self, db_path: Path, database: SqliteDatabase) -> None:
        """A raw key that slipped into last_error is shown masked."""
        rows = show_state(db_path)

        assert rows[1]["last_error"] == f"rejected AIza...{SECRET[-4:]}"

    def test_fallback_file_is_shown_when_present(self, db_path: Path, database: SqliteDatabase) -> None:
        """The JSON fallback holds the newest state when it exists, so it is what is shown."""
        fallback_file(db_path).update(lambda stored: (PoolSnapshot(keys=(KeyStateRecord("j1"),)), None))

        assert [row["key_id"] for row in show_state(db_path)] == ["j1"]

    def test_corrupt_database_is_reported_and_left_in_place(self, db_path: Path) -> None:
        """A garbage file raises StoreCorrupt and is not moved by a read-only command."""
        db_path.parent.mkdir(parents=True)
        db_path.write_bytes(b"garbage" * 100)

        with pytest.raises(StoreCorrupt) as raised:
            show_state(db_path)

        assert raised.value.moved_to is None
        assert db_path.read_bytes() == b"garbage" * 100


class TestResetState:
    """Reset clears stored state in every state file; added keys stay."""

    def test_reset_of_one_key_clears_only_its_records(self, db_path: Path, database: SqliteDatabase) -> None:
        """The key's state, cooldowns and usage go; the other key keeps its own."""
        reset_state(db_path, "k1")

        loaded = database.load()
        assert [r.key_id for r in loaded.keys] == ["a1"]
        assert loaded.cooldowns == ()
        assert loaded.usage == STATE.usage

    def test_reset_of_all_keeps_added_keys(self, db_path: Path, database: SqliteDatabase) -> None:
        """Everything but the added keys is cleared."""
        reset_state(db_path, None)

        assert database.load() == PoolSnapshot(added_keys=(ADDED,))

    def test_reset_clears_the_fallback_file_too(self, db_path: Path, database: SqliteDatabase) -> None:
        """When a JSON fallback exists its state is cleared as well, its added keys kept."""
        fallback = fallback_file(db_path)
        fallback.update(lambda stored: (with_added_key(STATE, ADDED), None))

        reset_state(db_path, None)

        assert fallback.read() == PoolSnapshot(added_keys=(ADDED,))
        assert database.load() == PoolSnapshot(added_keys=(ADDED,))

    def test_reset_without_state_files_creates_nothing(self, db_path: Path) -> None:
        """Resetting a path that was never used leaves the file system as it was."""
        reset_state(db_path, None)

        assert not db_path.parent.exists()
