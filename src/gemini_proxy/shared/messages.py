"""The changes instances tell each other on the pub/sub channel, and their JSON form.

Every message is one JSON object ``{"o": origin, "op": kind, ...}``; ``origin`` names the
instance that made the change, so it can skip its own. Kinds:

- ``disable`` / ``breaker``: a key's disable or breaker register, stamped ``at``;
- ``cool``: a (key, model) cooldown, set ``at``;
- ``reset``: an admin reset of a key ``at``;
- ``add`` / ``remove``: a key joined (its record is in ``P:added``) or left the pool;
- ``usage``: requests and tokens counted, numbered ``s`` by Redis (``P:seq``), in the
  Pacific day starting ``d``; written by the usage script (see ``scripts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson

from gemini_proxy.shared.codec import BREAKER_FIELDS, DISABLE_FIELDS, decode_key_state, encode_key_state
from gemini_proxy.store.records import CooldownRecord, KeyStateRecord

RegisterKind = Literal["disable", "breaker"]
REGISTER_FIELDS: dict[RegisterKind, tuple[str, ...]] = {"disable": DISABLE_FIELDS, "breaker": BREAKER_FIELDS}


class MessageError(ValueError):
    """A message on the channel cannot be understood."""


@dataclass(frozen=True, slots=True)
class RegisterChange:
    """A key's disable or breaker register as its instance set it ``at``."""

    kind: RegisterKind
    record: KeyStateRecord
    at: float


@dataclass(frozen=True, slots=True)
class CooldownChange:
    """A (key, model) pair cooling, set ``at``."""

    record: CooldownRecord
    at: float


@dataclass(frozen=True, slots=True)
class ResetChange:
    """An admin reset of a key ``at``."""

    key_id: str
    at: float


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """A key joined (``add``: read its record from ``P:added``) or left (``remove``) the pool."""

    kind: Literal["add", "remove"]
    key_id: str


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """Requests and tokens one instance counted for one (key, model)."""

    key_id: str
    model: str
    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class UsageChange:
    """Usage counted by one instance: increment number ``seq`` of day ``day_start``."""

    seq: int
    day_start: float
    entries: tuple[UsageEntry, ...]


Change = RegisterChange | CooldownChange | ResetChange | MembershipChange | UsageChange


def encode_register(origin: str, change: RegisterChange) -> bytes:
    fields, _ = encode_key_state(change.record, REGISTER_FIELDS[change.kind])
    return orjson.dumps(
        {"o": origin, "op": change.kind, "k": change.record.key_id, "at": change.at, "f": fields}
    )


def encode_cooldown_change(origin: str, change: CooldownChange) -> bytes:
    record = change.record
    return orjson.dumps(
        {
            "o": origin,
            "op": "cool",
            "k": record.key_id,
            "m": record.model,
            "until": record.until,
            "reason": record.reason,
            "per_day": record.per_day,
            "at": change.at,
        }
    )


def encode_reset(origin: str, change: ResetChange) -> bytes:
    return orjson.dumps({"o": origin, "op": "reset", "k": change.key_id, "at": change.at})


def encode_membership(origin: str, change: MembershipChange) -> bytes:
    return orjson.dumps({"o": origin, "op": change.kind, "k": change.key_id})


def encode_usage_body(origin: str, day_start: float, entries: list[UsageEntry]) -> bytes:
    """A usage message without its ``s``: the usage script puts the sequence number in front."""
    rows = [[e.key_id, e.model, e.requests, e.tokens] for e in entries]
    return orjson.dumps({"o": origin, "op": "usage", "d": repr(day_start), "u": rows})


def decode_message(raw: bytes | str) -> tuple[str, Change]:
    """``(origin, change)`` of one message; ``MessageError`` if it is out of shape."""
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise MessageError("a message must be a JSON object")
        return str(data["o"]), _decode(data)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, MessageError):
            raise
        raise MessageError(f"bad message: {exc!r}") from None


def _decode(data: dict[str, object]) -> Change:
    op = data["op"]
    if op in ("disable", "breaker"):
        fields = data["f"]
        if not isinstance(fields, dict):
            raise MessageError("register fields must be an object")
        state, _ = decode_key_state(str(data["k"]), {str(k): str(v) for k, v in fields.items()})
        return RegisterChange("disable" if op == "disable" else "breaker", state, _float(data["at"]))
    if op == "cool":
        cooldown = CooldownRecord(
            str(data["k"]), str(data["m"]), _float(data["until"]), str(data["reason"]), bool(data["per_day"])
        )
        return CooldownChange(cooldown, _float(data["at"]))
    if op == "reset":
        return ResetChange(str(data["k"]), _float(data["at"]))
    if op in ("add", "remove"):
        return MembershipChange("add" if op == "add" else "remove", str(data["k"]))
    if op == "usage":
        rows = data["u"]
        if not isinstance(rows, list):
            raise MessageError("usage rows must be a list")
        entries = tuple(UsageEntry(str(k), str(m), int(r), int(t)) for k, m, r, t in rows)
        return UsageChange(int(str(data["s"])), _float(data["d"]), entries)
    raise MessageError(f"unknown change {op!r}")


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MessageError(f"expected a number, got {value!r}")
    return float(value)
