"""Placeholder values that fit a schema: function-call arguments and structured JSON answers.

Accepts both schema dialects a Gemini request can carry: the OpenAPI subset
(``"type": "STRING"``) and raw JSON Schema (``"type": ["string", "null"]``, ``anyOf``).
Every value is fixed per type, so answers are deterministic.
"""

from __future__ import annotations

from typing import Any

from gemini_proxy.fake_upstream.request_fields import mapping

_MAX_DEPTH = 8
_SCALARS: dict[str, Any] = {"string": "x", "number": 1, "integer": 1, "boolean": True, "null": None}


def _schema_type(schema: dict[str, Any] | Any) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if str(t).lower() != "null"), "null")
    if declared is None:
        return "object" if "properties" in schema else "string"
    return str(declared).lower()


def placeholder_value(schema: Any, depth: int = 0) -> Any:
    """A value of the schema's type: ``"x"``, ``1``, ``true``, a one-item array, or an object."""
    node = mapping(schema)
    if depth > _MAX_DEPTH:
        return None
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for alternatives in ("anyOf", "oneOf", "any_of"):
        options = node.get(alternatives)
        if isinstance(options, list) and options:
            return placeholder_value(options[0], depth + 1)
    kind = _schema_type(node)
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return [placeholder_value(node.get("items"), depth + 1)]
    if kind == "object":
        return placeholder_object(node, depth + 1)
    return "x"


def placeholder_object(schema: Any, depth: int = 0) -> dict[str, Any]:
    """One placeholder value per declared property (an empty object when none are declared)."""
    properties = mapping(mapping(schema).get("properties"))
    return {name: placeholder_value(sub, depth + 1) for name, sub in properties.items()}
