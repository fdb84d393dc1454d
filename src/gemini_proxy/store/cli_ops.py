"""What ``gemini-proxy state show`` and ``state reset`` do, synchronously, on the state files.

They read the JSON fallback when it exists (it then holds the newest state) and the
SQLite database otherwise; a reset clears both. A corrupt file is reported as
``StoreCorrupt`` and left where it is. Rows never hold a raw key: an added key is shown
by its id and masked form (first 4 + ``...`` + last 4 characters), and any key-shaped
text in an error message is masked too. Run these while the proxy is stopped: a running
proxy writes its own state over a reset at its next flush.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from gemini_proxy.store.factory import fallback_path_for
from gemini_proxy.store.jsonfile import JsonStateFile
from gemini_proxy.store.records import KeyStateRecord, PoolSnapshot
from gemini_proxy.store.snapshot import without_state_of
from gemini_proxy.store.sqlite import SqliteDatabase

_KEY_SHAPED = re.compile(r"AIza[0-9A-Za-z_\-]{8,}")
_MIN_MASKABLE_LENGTH = 12


def mask_secret(secret: str) -> str:
    """The display form of a raw key: first 4 + ``...`` + last 4 (``...`` when too short)."""
    if len(secret) < _MIN_MASKABLE_LENGTH:
        return "..."
    return f"{secret[:4]}...{secret[-4:]}"


def show_state(path: Path) -> list[dict[str, Any]]:
    """One row per key the state files know, sorted by key id (empty when there are none)."""
    snapshot = _read_newest(path)
    added = {record.key_id: record for record in snapshot.added_keys}
    states = {record.key_id: record for record in snapshot.keys}
    key_ids = sorted(
        set(added) | set(states) | {c.key_id for c in snapshot.cooldowns} | {u.key_id for u in snapshot.usage}
    )
    rows: list[dict[str, Any]] = []
    for key_id in key_ids:
        state = dataclasses.asdict(states.get(key_id, KeyStateRecord(key_id=key_id)))
        for field in ("disabled_reason", "last_error"):
            state[field] = _mask_key_shaped(state[field])
        added_key = added.get(key_id)
        rows.append(
            {
                **state,
                "added": added_key is not None,
                "masked_key": mask_secret(added_key.secret) if added_key else None,
                "name": added_key.name if added_key else None,
                "cooldowns": [
                    _without_key_id(cooldown) for cooldown in snapshot.cooldowns if cooldown.key_id == key_id
                ],
                "usage": [_without_key_id(usage) for usage in snapshot.usage if usage.key_id == key_id],
            }
        )
    return rows


def reset_state(path: Path, key_id: str | None) -> None:
    """Clear the stored state of one key (or all) in every state file; added keys stay."""
    fallback = JsonStateFile(fallback_path_for(path), move_corrupt_aside=False)
    if fallback.exists():
        fallback.update(lambda stored: (without_state_of(stored, key_id), None))
    if path.exists():
        database = SqliteDatabase(path, move_corrupt_aside=False)
        try:
            database.reset(key_id)
        finally:
            database.close()


def _read_newest(path: Path) -> PoolSnapshot:
    fallback = JsonStateFile(fallback_path_for(path), move_corrupt_aside=False)
    if fallback.exists():
        return fallback.read()
    if not path.exists():
        return PoolSnapshot()
    database = SqliteDatabase(path, move_corrupt_aside=False)
    try:
        return database.load()
    finally:
        database.close()


def _without_key_id(record: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(record)
    del fields["key_id"]
    for name, value in fields.items():
        if isinstance(value, str):
            fields[name] = _mask_key_shaped(value)
    return fields


def _mask_key_shaped(text: str | None) -> str | None:
    if text is None:
        return None
    return _KEY_SHAPED.sub(lambda match: mask_secret(match.group()), text)
