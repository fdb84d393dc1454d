"""JSON Schema -> the OpenAPI subset Gemini's ``parameters``/``responseSchema`` accept (D.8, F#18).

The cleaner keeps meaning wherever the subset can express it and otherwise loosens
the schema rather than reject it, telling the model in ``description`` what was lost
(a dropped ``format``, the allowed values of a non-string ``enum``):

- ``$ref`` is inlined from ``$defs``/``definitions`` (any local JSON pointer); a
  reference that is already being expanded (a cycle) becomes ``{"type": "object"}``.
- ``allOf`` members are merged; ``oneOf`` becomes ``anyOf``; ``null`` branches of
  ``anyOf`` and ``null`` in a type list become ``nullable``; several types become an
  ``anyOf`` of one-type schemas.
- ``const`` and string ``enum`` become a string ``enum``; other enums keep their type.
- keywords outside the subset are dropped (``exclusiveMinimum`` becomes ``minimum``).
- ``required`` and ``propertyOrdering`` only name properties that exist.

Unresolvable references, non-schema values and schemas that explode when inlined
are the client's error: ``InvalidRequest`` naming the place.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from gemini_proxy.translate.fields import invalid_value, wrong_type

MAX_DEPTH = 64
MAX_NODES = 10_000

_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "number": frozenset({"float", "double"}),
    "integer": frozenset({"int32", "int64"}),
}
# Keywords that only make sense for one type; the rest stay on the parent of a type split.
_TYPE_KEYWORDS = {
    "string": ("format", "enum", "minLength", "maxLength", "pattern"),
    "number": ("format", "minimum", "maximum"),
    "integer": ("format", "minimum", "maximum"),
    "boolean": (),
    "array": ("items", "minItems", "maxItems"),
    "object": ("properties", "required", "propertyOrdering", "minProperties", "maxProperties"),
}
_SPECIFIC_KEYWORDS = frozenset(k for keys in _TYPE_KEYWORDS.values() for k in keys)
_INT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_TEXT_KEYWORDS = frozenset({"description", "title", "pattern"})
_PLAIN_TYPES = frozenset({"string", "number", "integer", "boolean"})
_PLAIN_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "title",
        "pattern",
        "enum",
        "format",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
    }
)
_BOUND_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_CYCLE = {"type": "object"}


def clean_schema(schema: Any, *, param: str = "schema") -> dict[str, Any]:
    """A Gemini-acceptable copy of a JSON Schema; ``param`` names it in errors."""
    if schema is None or isinstance(schema, bool):
        return {}
    if not isinstance(schema, dict):
        raise wrong_type(param, "a JSON Schema object", schema)
    return _SchemaCleaner(schema, param).clean(schema, ("#",), 0, param)


class _SchemaCleaner:
    __slots__ = ("_nodes", "_param", "_root")

    def __init__(self, root: dict[str, Any], param: str) -> None:
        self._root = root
        self._param = param
        self._nodes = 0

    def clean(self, node: Any, refs: tuple[str, ...], depth: int, where: str) -> dict[str, Any]:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise invalid_value(
                self._param, f"The schema in '{self._param}' is too large once its $refs are inlined."
            )
        if depth > MAX_DEPTH:
            raise invalid_value(where, f"The schema in '{self._param}' is nested too deeply.")
        if isinstance(node, bool):
            return {}
        if not isinstance(node, dict):
            raise wrong_type(where, "a JSON Schema object", node)
        if is_plain_leaf(node):
            return node
        if "$ref" in node:
            resolved, refs = self._deref(node, refs, where)
            if resolved is None:
                description = node.get("description")
                return (
                    {**_CYCLE, "description": description} if isinstance(description, str) else dict(_CYCLE)
                )
            node = resolved
        if "allOf" in node:
            node, refs = self._merge_all_of(node, refs, where)
        return self._clean_keywords(node, refs, depth, where)

    def _deref(
        self, node: dict[str, Any], refs: tuple[str, ...], where: str
    ) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        """``node`` with its ``$ref`` chain followed (sibling keys win), or ``None`` on a cycle."""
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise wrong_type(f"{where}.$ref", "a string", ref)
            if ref in refs:
                return None, refs
            target = self._lookup(ref, where)
            refs = (*refs, ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if siblings else target
        return node, refs

    def _lookup(self, ref: str, where: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise invalid_value(
                f"{where}.$ref",
                f"Cannot resolve $ref {ref!r}: only references inside the schema are supported.",
            )
        target: Any = self._root
        for token in ref[1:].split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and key in target:
                target = target[key]
            elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            else:
                raise invalid_value(
                    f"{where}.$ref", f"Cannot resolve $ref {ref!r}: nothing is defined there."
                )
        if isinstance(target, bool):
            return {}
        if not isinstance(target, dict):
            raise invalid_value(f"{where}.$ref", f"$ref {ref!r} does not point to a schema.")
        return target

    def _merge_all_of(
        self, node: dict[str, Any], refs: tuple[str, ...], where: str
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """One schema holding every ``allOf`` member; a property in several members is an ``allOf`` again."""
        members = node["allOf"]
        if not isinstance(members, list):
            raise wrong_type(f"{where}.allOf", "an array", members)
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for index, raw in enumerate(members):
            member_where = f"{where}.allOf[{index}]"
            if isinstance(raw, bool):
                continue
            if not isinstance(raw, dict):
                raise wrong_type(member_where, "a JSON Schema object", raw)
            member, refs = self._deref(raw, refs, member_where)
            if member is None:
                member = _CYCLE
            if "allOf" in member:
                member, refs = self._merge_all_of(member, refs, member_where)
            _merge_into(merged, member)
        return merged, refs

    def _clean_keywords(
        self, node: dict[str, Any], refs: tuple[str, ...], depth: int, where: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        notes: list[str] = []
        types, nullable = _read_types(node.get("type"))
        if node.get("nullable") is True:
            nullable = True
        if "const" in node or isinstance(node.get("enum"), list):
            types, nullable = _apply_enum(node, types, nullable, out, notes)
        if not types:
            if isinstance(node.get("properties"), dict):
                types = ["object"]
            elif "items" in node or "prefixItems" in node:
                types = ["array"]
        for key, value in node.items():  # one pass over what is there, not a lookup per keyword
            if key in _TEXT_KEYWORDS:
                if isinstance(value, str):
                    out[key] = value
            elif key in _INT_KEYWORDS:
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    out[key] = value
            elif key == "example":
                out[key] = value
        if not _BOUND_KEYWORDS.isdisjoint(node):
            _copy_bounds(node, types, out)
        fmt = node.get("format")
        if isinstance(fmt, str):
            if any(fmt in _FORMATS.get(t, ()) for t in types):
                out["format"] = fmt
            else:
                notes.append(f"Format: {fmt}.")
        self._clean_children(node, refs, depth, where, out)
        if self._clean_alternatives(node, refs, depth, where, out):
            nullable = True
        if notes:
            out["description"] = (
                " ".join([out["description"], *notes]) if "description" in out else " ".join(notes)
            )
        if nullable:
            out["nullable"] = True
        return _finish_types(out, types)

    def _clean_children(
        self, node: dict[str, Any], refs: tuple[str, ...], depth: int, where: str, out: dict[str, Any]
    ) -> None:
        properties = node.get("properties")
        if isinstance(properties, dict) and properties:
            cleaned = {
                name: self.clean(sub, refs, depth + 1, f"{where}.properties.{name}")
                for name, sub in properties.items()
            }
            out["properties"] = cleaned
            required = node.get("required")
            if isinstance(required, list):
                kept = list(dict.fromkeys(r for r in required if isinstance(r, str) and r in cleaned))
                if kept:
                    out["required"] = kept
            ordering = node.get("propertyOrdering")
            if isinstance(ordering, list):
                kept = [p for p in ordering if isinstance(p, str) and p in cleaned]
                if kept:
                    out["propertyOrdering"] = kept
        items = node.get("items")
        prefix = node.get("prefixItems")
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, None
        if isinstance(items, dict | bool):
            out["items"] = self.clean(items, refs, depth + 1, f"{where}.items")
        elif isinstance(prefix, list) and prefix:
            branches = [
                self.clean(sub, refs, depth + 1, f"{where}.prefixItems[{i}]") for i, sub in enumerate(prefix)
            ]
            out["items"] = branches[0] if len(branches) == 1 else {"anyOf": branches}

    def _clean_alternatives(
        self, node: dict[str, Any], refs: tuple[str, ...], depth: int, where: str, out: dict[str, Any]
    ) -> bool:
        """Write ``anyOf``/``oneOf`` into ``out``; ``True`` when one branch was ``null``."""
        key = "anyOf" if "anyOf" in node else "oneOf" if "oneOf" in node else None
        if key is None:
            return False
        raw = node[key]
        if not isinstance(raw, list):
            raise wrong_type(f"{where}.{key}", "an array", raw)
        branches: list[dict[str, Any]] = []
        nullable = False
        for index, sub in enumerate(raw):
            branch = self.clean(sub, refs, depth + 1, f"{where}.{key}[{index}]")
            if branch.get("type") == "null" and len(branch) == 1:
                nullable = True
            elif branch:
                branches.append(branch)
            else:  # an "anything" branch makes the whole alternative "anything"
                return nullable
        if len(branches) == 1:
            for name, value in branches[0].items():
                out.setdefault(name, value)
        elif branches:
            out["anyOf"] = branches
        return nullable


def is_plain_leaf(node: dict[str, Any]) -> bool:
    """Whether a node is a scalar schema already inside Gemini's subset (cleaning returns it as is).

    The common leaf (``{"type": "string", "description": ...}``) skips the general
    path; a property test pins that both paths agree.
    """
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in _PLAIN_TYPES or not _PLAIN_KEYWORDS.issuperset(node):
        return False
    for key, value in node.items():
        if key in _TEXT_KEYWORDS:
            if not isinstance(value, str):
                return False
        elif key in _INT_KEYWORDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return False
        elif key == "enum":
            if kind != "string" or not value or not isinstance(value, list):
                return False
            if not all(isinstance(item, str) for item in value):
                return False
        elif key == "format":
            if not isinstance(value, str) or value not in _FORMATS.get(kind, ()):
                return False
        elif key in ("minimum", "maximum") and _number(value) is None:
            return False
    return True


def _merge_into(merged: dict[str, Any], member: dict[str, Any]) -> None:
    for key, value in member.items():
        if key == "properties" and isinstance(value, dict):
            properties = dict(merged.get("properties") or {})
            for name, sub in value.items():
                properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
            merged["properties"] = properties
        elif key == "required" and isinstance(value, list):
            merged["required"] = list(dict.fromkeys([*(merged.get("required") or []), *value]))
        elif key not in merged:
            merged[key] = value


def _read_types(raw: Any) -> tuple[list[str], bool]:
    """The non-null type names of a ``type`` keyword, and whether ``null`` was among them."""
    if isinstance(raw, str):
        names = [raw.lower()]
    elif isinstance(raw, list):
        names = [t.lower() for t in raw if isinstance(t, str)]
    else:
        return [], False
    names = [t for t in dict.fromkeys(names) if t in _TYPES]
    if "null" in names and len(names) > 1:
        return [t for t in names if t != "null"], True
    return names, False


def _apply_enum(
    node: dict[str, Any], types: list[str], nullable: bool, out: dict[str, Any], notes: list[str]
) -> tuple[list[str], bool]:
    """Write ``const``/``enum`` as a string enum, or as a note when the type is not string."""
    values = [node["const"]] if "const" in node else list(node["enum"])
    if None in values:
        nullable = True
        values = [v for v in values if v is not None]
    if not values:
        return types, nullable
    if types in ([], ["string"]) and all(isinstance(v, str) for v in values):
        out["enum"] = values
        return ["string"], nullable
    if types == ["string"]:
        strings = [v for v in values if isinstance(v, str)]
        if strings:
            out["enum"] = strings
            return types, nullable
    notes.append("Allowed values: " + ", ".join(_json_text(v) for v in values) + ".")
    if not types:
        types = list(dict.fromkeys(_json_type(v) for v in values))
    return types, nullable


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits (not from orjson-parsed bodies, but possible)
        return str(value)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _copy_bounds(node: dict[str, Any], types: list[str], out: dict[str, Any]) -> None:
    """``minimum``/``maximum``, with exclusive bounds folded in (exact for integers)."""
    integer = types == ["integer"]
    for inclusive, exclusive, step in (
        ("minimum", "exclusiveMinimum", 1),
        ("maximum", "exclusiveMaximum", -1),
    ):
        value = _number(node.get(inclusive))
        raw_bound = node.get(exclusive)
        bound = _number(raw_bound)
        if bound is not None:
            if value is None or (value <= bound if step > 0 else value >= bound):
                value = (math.floor(bound) + 1 if step > 0 else math.ceil(bound) - 1) if integer else bound
        elif raw_bound is True and value is not None and integer:  # draft-4 boolean form
            value = value + step
        if value is not None:
            out[inclusive] = value


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _finish_types(out: dict[str, Any], types: list[str]) -> dict[str, Any]:
    """Set ``type``; several types become an ``anyOf`` of one-type schemas."""
    if len(types) == 1:
        out["type"] = types[0]
        return out
    if not types or "anyOf" in out:
        return out
    shared = {k: v for k, v in out.items() if k not in _SPECIFIC_KEYWORDS}
    branches = []
    for name in types:
        branch: dict[str, Any] = {"type": name}
        for key in _TYPE_KEYWORDS.get(name, ()):
            if key in out and (key != "format" or out[key] in _FORMATS.get(name, ())):
                branch[key] = out[key]
        branches.append(branch)
    return {**shared, "anyOf": branches}


def schema_has_properties(schema: dict[str, Any]) -> bool:
    """Whether a cleaned schema declares anything beyond an empty object."""
    if schema.get("type") not in (None, "object"):
        return True
    return bool(schema.get("properties") or schema.get("anyOf"))
