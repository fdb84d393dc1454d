"""``PoolSnapshot`` to and from a plain JSON document, checking every field on the way in.

The document is ``{"format": "gemini-proxy-state", "version": 1, "keys": [...],
"cooldowns": [...], "usage": [...], "added_keys": [...]}``; each record is an object of
its dataclass fields. Missing fields that have a default take it, unknown fields are
ignored, anything else out of shape raises ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Final, TypeVar, get_args, get_origin, get_type_hints

from gemini_proxy.store.base import StoreUnavailable
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

DOCUMENT_FORMAT: Final = "gemini-proxy-state"
DOCUMENT_VERSION: Final = 1

_SECTIONS: Final[dict[str, type[Any]]] = {
    "keys": KeyStateRecord,
    "cooldowns": CooldownRecord,
    "usage": UsageRecord,
    "added_keys": AddedKeyRecord,
}

_R = TypeVar("_R")


def snapshot_to_document(snapshot: PoolSnapshot) -> dict[str, Any]:
    """The JSON-ready document of a snapshot."""
    document: dict[str, Any] = {"format": DOCUMENT_FORMAT, "version": DOCUMENT_VERSION}
    for section in _SECTIONS:
        document[section] = [dataclasses.asdict(record) for record in getattr(snapshot, section)]
    return document


def snapshot_from_document(document: object) -> PoolSnapshot:
    """The snapshot a document holds.

    ``ValueError`` when the document is out of shape; ``StoreUnavailable`` when it was
    written in a newer format than this version understands (it is not corrupt, and
    must not be moved aside or overwritten).
    """
    if not isinstance(document, dict) or document.get("format") != DOCUMENT_FORMAT:
        raise ValueError("not a gemini-proxy state document")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"bad document version {version!r}")
    if version > DOCUMENT_VERSION:
        raise StoreUnavailable(
            f"state document version {version} is newer than this proxy understands ({DOCUMENT_VERSION})"
        )
    sections: dict[str, tuple[Any, ...]] = {}
    for section, record_type in _SECTIONS.items():
        items = document.get(section, [])
        if not isinstance(items, list):
            raise ValueError(f"{section}: expected a list")
        sections[section] = tuple(
            _record_from_fields(record_type, item, f"{section}[{index}]") for index, item in enumerate(items)
        )
    return PoolSnapshot(
        keys=sections["keys"],
        cooldowns=sections["cooldowns"],
        usage=sections["usage"],
        added_keys=sections["added_keys"],
    )


def _record_from_fields(record_type: type[_R], fields: object, where: str) -> _R:
    if not isinstance(fields, dict):
        raise ValueError(f"{where}: expected an object")
    hints = get_type_hints(record_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(record_type):  # type: ignore[arg-type]
        if field.name not in fields:
            has_default = (
                field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            )
            if not has_default:
                raise ValueError(f"{where}: missing field {field.name!r}")
            continue
        value = fields[field.name]
        if not _accepts(hints[field.name], value):
            raise ValueError(f"{where}.{field.name}: unexpected value of type {type(value).__name__}")
        values[field.name] = _as_float_if_expected(hints[field.name], value)
    return record_type(**values)


def _as_float_if_expected(hint: Any, value: object) -> object:
    """A JSON integer given for a float field, as a float (``5`` for ``5.0``)."""
    members = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if isinstance(value, int) and not isinstance(value, bool) and float in members and int not in members:
        return float(value)
    return value


def _accepts(hint: Any, value: object) -> bool:
    """Whether a decoded JSON value fits a record field's type hint."""
    if isinstance(hint, types.UnionType):
        return any(_accepts(member, value) for member in get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    if hint is Any:
        return True
    return isinstance(value, get_origin(hint) or hint)
