"""Typed reads of client JSON that fail with an ``InvalidRequest`` naming the field.

Every reader takes the containing object, the key, and ``where``: the path of the
containing object (``"messages[2]"``, ``""`` for the top level). The full parameter
path (``messages[2].content``) is only built when an error is raised, so reading a
valid request costs one dict lookup and one type check per field. ``null`` counts as
absent, as OpenAI's own API treats it.
"""

from __future__ import annotations

from typing import Any

from gemini_proxy.errors import InvalidRequest

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def join_param(where: str, key: str) -> str:
    """The dotted path of ``key`` inside the object at ``where``."""
    return f"{where}.{key}" if where else key


def json_type_name(value: Any) -> str:
    """How a JSON value's type is named in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def wrong_type(param: str, expected: str, value: Any) -> InvalidRequest:
    """The error for a field holding a value of the wrong JSON type."""
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)}.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, message: str) -> InvalidRequest:
    """The error for a field whose value has the right type but is not allowed."""
    return InvalidRequest(message, param=param, code="invalid_value")


def optional_str(obj: dict[str, Any], key: str, where: str = "") -> str | None:
    """``obj[key]`` as a string, or ``None`` when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(join_param(where, key), "a string", value)


def required_str(obj: dict[str, Any], key: str, where: str = "") -> str:
    """``obj[key]`` as a string; absence is an error."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    param = join_param(where, key)
    if value is None:
        raise InvalidRequest(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    raise wrong_type(param, "a string", value)


def optional_bool(obj: dict[str, Any], key: str, where: str = "") -> bool | None:
    """``obj[key]`` as a boolean, or ``None`` when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong_type(join_param(where, key), "a boolean", value)


def optional_int(
    obj: dict[str, Any],
    key: str,
    where: str = "",
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """``obj[key]`` as an integer within bounds; integral floats (``40.0``) are accepted."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(join_param(where, key), "an integer", value)
    if isinstance(value, float):
        if not value.is_integer():
            raise wrong_type(join_param(where, key), "an integer", value)
        value = int(value)
    _check_bounds(where, key, value, minimum, maximum)
    if not _INT64_MIN <= value <= _INT64_MAX:  # could not even be serialised for the upstream
        param = join_param(where, key)
        raise invalid_value(param, f"Invalid value for '{param}': {value} is too large.")
    return value


def optional_number(
    obj: dict[str, Any],
    key: str,
    where: str = "",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | int | None:
    """``obj[key]`` as a number within bounds, or ``None`` when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(join_param(where, key), "a number", value)
    _check_bounds(where, key, value, minimum, maximum)
    return value


def _check_bounds(where: str, key: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        param = join_param(where, key)
        low = "-inf" if minimum is None else _format_bound(minimum)
        high = "inf" if maximum is None else _format_bound(maximum)
        raise invalid_value(
            param, f"Invalid value for '{param}': {value} is outside the range [{low}, {high}]."
        )


def _format_bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def optional_dict(obj: dict[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
    """``obj[key]`` as a JSON object, or ``None`` when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise wrong_type(join_param(where, key), "an object", value)


def optional_list(obj: dict[str, Any], key: str, where: str = "") -> list[Any] | None:
    """``obj[key]`` as a JSON array, or ``None`` when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise wrong_type(join_param(where, key), "an array", value)


def require_object(value: Any, param: str) -> dict[str, Any]:
    """``value`` itself, which must be a JSON object."""
    if isinstance(value, dict):
        return value
    raise wrong_type(param, "an object", value)
