"""The SQLite state database's tables, their forward migrations, and how records map to rows.

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1`` (version 0 is a
new, empty file). A migration is only ever appended, never edited: databases written by
older releases run every step after their version, in one transaction.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, UsageRecord


class RowDecodeError(ValueError):
    """A stored row cannot be turned back into its record."""


_SCHEMA_V1: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE key_state (
    key_id TEXT PRIMARY KEY,
    disabled INTEGER NOT NULL,
    disabled_reason TEXT,
    disabled_at REAL,
    next_probe_at REAL,
    breaker_state TEXT NOT NULL,
    breaker_level INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    open_until REAL,
    health REAL NOT NULL,
    requests INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT,
    last_error_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE cooldown (
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    until REAL NOT NULL,
    reason TEXT NOT NULL,
    per_day INTEGER NOT NULL,
    PRIMARY KEY (key_id, model)
);
CREATE TABLE usage_window (
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    window_kind TEXT NOT NULL,
    window_start REAL NOT NULL,
    requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (key_id, model, window_kind, window_start)
);
CREATE TABLE added_key (
    key_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    name TEXT NOT NULL,
    limits TEXT NOT NULL,
    added_at REAL NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);
"""


def _create_first_schema(connection: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            connection.execute(statement)


def _add_probe_failures_and_key_placement(connection: sqlite3.Connection) -> None:
    """v2: breakers remember failed probes; added keys carry their project and weight."""
    connection.execute("ALTER TABLE key_state ADD COLUMN probe_failures INTEGER NOT NULL DEFAULT 0")
    connection.execute("ALTER TABLE added_key ADD COLUMN project TEXT")
    connection.execute("ALTER TABLE added_key ADD COLUMN weight REAL NOT NULL DEFAULT 1.0")


MIGRATIONS: Final[Sequence[Callable[[sqlite3.Connection], None]]] = (
    _create_first_schema,
    _add_probe_failures_and_key_placement,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The database's schema version; 0 for a file without our tables."""
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if has_table is None:
        return 0
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row is not None else 0


def migrate(connection: sqlite3.Connection, from_version: int) -> None:
    """Run every migration after ``from_version`` (inside the caller's transaction)."""
    for step in MIGRATIONS[from_version:]:
        step(connection)
    connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """How one record type is stored: its table and the column of each field."""

    name: str
    record_type: type[Any]
    renamed: dict[str, str] = dataclasses.field(default_factory=dict)
    fields: tuple[str, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        names = tuple(field.name for field in dataclasses.fields(self.record_type))
        object.__setattr__(self, "fields", names)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.renamed.get(name, name) for name in self.fields)

    def insert_sql(self, *, replace: bool) -> str:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        placeholders = ", ".join("?" for _ in self.columns)
        return f"{verb} INTO {self.name} ({', '.join(self.columns)}) VALUES ({placeholders})"

    def select_sql(self) -> str:
        return f"SELECT {', '.join(self.columns)} FROM {self.name}"  # noqa: S608  (names are ours)

    def to_row(self, record: object) -> tuple[object, ...]:
        return tuple(_to_column(name, getattr(record, name)) for name in self.fields)

    def from_row(self, row: Sequence[object]) -> Any:
        try:
            return self.record_type(
                **{name: _from_column(name, value) for name, value in zip(self.fields, row, strict=True)}
            )
        except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise RowDecodeError(f"{self.name}: {exc}") from exc


# Fields stored as 0/1 and as JSON text; every other field is stored as it is.
_BOOLEAN_FIELDS: Final = frozenset({"disabled", "per_day"})
_JSON_FIELDS: Final = frozenset({"limits"})


def _to_column(field_name: str, value: object) -> object:
    if field_name in _JSON_FIELDS:
        return orjson.dumps(value).decode()
    return value


def _from_column(field_name: str, value: object) -> object:
    if field_name in _BOOLEAN_FIELDS:
        return bool(value)
    if field_name in _JSON_FIELDS:
        if not isinstance(value, str | bytes):
            raise RowDecodeError(f"{field_name}: expected JSON text")
        return orjson.loads(value)
    return value


KEY_STATES: Final = Table("key_state", KeyStateRecord)
COOLDOWNS: Final = Table("cooldown", CooldownRecord)
USAGE: Final = Table("usage_window", UsageRecord, renamed={"window": "window_kind"})
ADDED_KEYS: Final = Table("added_key", AddedKeyRecord)
