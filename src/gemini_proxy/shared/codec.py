"""Shared-state records to and from the strings Redis holds.

A key's record is a hash of its ``KeyStateRecord`` fields: floats as ``repr`` (they come
back exactly), ints in decimal, bools as ``1``/``0``; a ``None`` field is absent. Two
groups of fields are *registers* that instances change independently, each with its own
stamp (the time of the change; the later change wins): the disable register and the
breaker register. Cooldowns and added keys are JSON.

Decoding raises ``ValueError`` on anything out of shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord

DISABLE_FIELDS: Final = ("disabled", "disabled_reason", "disabled_at", "next_probe_at", "probe_failures")
BREAKER_FIELDS: Final = ("breaker_state", "breaker_level", "consecutive_failures", "open_until")
STATUS_AT: Final = "status_at"  # stamp of the disable register
BREAKER_AT: Final = "breaker_at"  # stamp of the breaker register
RESET_AT: Final = "reset_at"  # when the key was last reset (older cooldowns no longer count)

_FIELD_TYPES: Final = {field.name: str(field.type) for field in dataclasses.fields(KeyStateRecord)}


@dataclass(frozen=True, slots=True)
class KeyStamps:
    """When each register of a key last changed (0: never)."""

    status_at: float = 0.0
    breaker_at: float = 0.0
    reset_at: float = 0.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def encode_value(value: object) -> str:
    """One field value as Redis holds it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decode_value(name: str, raw: str) -> Any:
    kind = _FIELD_TYPES[name]
    if kind == "bool":
        if raw not in ("0", "1"):
            raise ValueError(f"{name}: expected 0 or 1, got {raw!r}")
        return raw == "1"
    if kind.startswith("float"):
        return float(raw)
    if kind == "int":
        return int(raw)
    return raw


def encode_key_state(
    record: KeyStateRecord, names: Iterable[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """``(fields to set, fields to delete)`` writing ``names`` (default: all) of a key record."""
    chosen = [name for name in (names or _FIELD_TYPES) if name != "key_id"]
    values = {name: getattr(record, name) for name in chosen}
    return (
        {name: encode_value(value) for name, value in values.items() if value is not None},
        [name for name, value in values.items() if value is None],
    )


def decode_key_state(
    key_id: str, fields: Mapping[bytes, bytes] | Mapping[str, str]
) -> tuple[KeyStateRecord, KeyStamps]:
    """A key's record and register stamps from its hash; absent fields take their defaults."""
    values: dict[str, Any] = {}
    stamps: dict[str, float] = {}
    for raw_name, raw_value in fields.items():
        name, value = _text(raw_name), _text(raw_value)
        if name in (STATUS_AT, BREAKER_AT, RESET_AT):
            stamps[name] = float(value)
        elif name in _FIELD_TYPES and name != "key_id":
            values[name] = _decode_value(name, value)
    return KeyStateRecord(key_id=key_id, **values), KeyStamps(**stamps)


def encode_cooldown(record: CooldownRecord, set_at: float) -> bytes:
    """A cooldown as the JSON value of its model's field."""
    return orjson.dumps(
        {"until": record.until, "reason": record.reason, "per_day": record.per_day, "set_at": set_at}
    )


def decode_cooldown(key_id: str, model: str, raw: bytes | str) -> tuple[CooldownRecord, float]:
    """A cooldown and when it was set."""
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a cooldown must be a JSON object")
    record = CooldownRecord(
        key_id, model, float(data["until"]), str(data.get("reason", "")), bool(data.get("per_day", False))
    )
    return record, float(data.get("set_at", 0.0))


def encode_added(record: AddedKeyRecord, cipher: SecretCipher) -> bytes:
    """An added key's JSON; its raw key sealed by ``cipher`` (encrypted when a secret is set)."""
    return orjson.dumps(
        {
            **cipher.seal(record.secret),
            "name": record.name,
            "project": record.project,
            "weight": record.weight,
            "limits": record.limits,
            "added_at": record.added_at,
        }
    )


def decode_added(key_id: str, raw: bytes | str, cipher: SecretCipher) -> AddedKeyRecord:
    """An added key from its JSON; ``UnreadableSecret`` when its raw key cannot be unsealed."""
    data = orjson.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("limits", {}), dict):
        raise ValueError("an added key must be a JSON object")
    project = data.get("project")
    return AddedKeyRecord(
        key_id=key_id,
        secret=cipher.open(data),
        name=str(data.get("name", "")),
        project=None if project is None else str(project),
        weight=float(data.get("weight", 1.0)),
        limits=dict(data.get("limits", {})),
        added_at=float(data.get("added_at", 0.0)),
    )
