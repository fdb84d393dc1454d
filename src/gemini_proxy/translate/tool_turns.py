"""Tool calls and tool results in the history -> ``functionCall``/``functionResponse`` parts (D.5, D.6).

Arguments arrive as a JSON-encoded string: empty means ``{}``, a non-object value is
wrapped as ``{"value": v}``, and invalid JSON is a 400 naming the exact field (F#7).
A tool result becomes the ``response`` object Gemini requires: a JSON object as is,
anything else wrapped as ``{"result": ...}`` (F#6).

Each call's thought signature is restored from, in order: the client's echo
(``extra_content.google.thought_signature``), the server-side cache, the call id
itself; for Gemini 3, the first call of a step without one gets the documented dummy
so the upstream does not refuse the follow-up (D.10, F#36, F#37).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gemini_proxy.translate.fields import (
    invalid_value,
    optional_dict,
    optional_str,
    require_object,
    required_str,
    wrong_type,
)
from gemini_proxy.translate.function_names import FunctionNames
from gemini_proxy.translate.signatures import DUMMY_SIGNATURE, SignatureCache, signature_from_id


@dataclass(frozen=True, slots=True)
class SignatureSources:
    """Where signatures for calls in the history are looked up."""

    cache: SignatureCache | None
    now: float
    dummy_for_first_call: bool


@dataclass(frozen=True, slots=True)
class HistoryCall:
    """One tool call of an assistant message: its id (may be absent) and original name."""

    call_id: str | None
    name: str


def parse_arguments(raw: Any, param: str) -> dict[str, Any]:
    """``function.arguments`` (a JSON string) as the object Gemini's ``args`` needs."""
    if raw is None:
        return {}
    if isinstance(raw, dict):  # some clients send the object itself
        return raw
    if not isinstance(raw, str):
        raise wrong_type(param, "a JSON-encoded string", raw)
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_value(param, f"'{param}' is not valid JSON: {_preview(raw)}") from None
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def _preview(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def function_call_parts(
    tool_calls: list[Any], where: str, names: FunctionNames, sources: SignatureSources
) -> tuple[list[dict[str, Any]], list[HistoryCall]]:
    """The ``functionCall`` parts of one assistant step, in order, and what they called."""
    parts: list[dict[str, Any]] = []
    calls: list[HistoryCall] = []
    for index, raw in enumerate(tool_calls):
        call_where = f"{where}.tool_calls[{index}]"
        call = require_object(raw, call_where)
        kind = optional_str(call, "type", call_where)
        if kind not in (None, "function"):
            raise invalid_value(
                f"{call_where}.type", f"Unsupported tool call type {kind!r}; only 'function' is supported."
            )
        call_id = optional_str(call, "id", call_where)
        function_where = f"{call_where}.function"
        function = require_object(call.get("function"), function_where)
        name = _function_name(function, function_where)
        args = parse_arguments(function.get("arguments"), f"{function_where}.arguments")
        part: dict[str, Any] = {"functionCall": {"name": names.to_gemini(name), "args": args}}
        signature = _signature(call, call_id, call_where, sources)
        if signature is None and index == 0 and sources.dummy_for_first_call:
            signature = DUMMY_SIGNATURE
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
        calls.append(HistoryCall(call_id, name))
    return parts, calls


def legacy_function_call_part(
    function_call: dict[str, Any], where: str, names: FunctionNames, sources: SignatureSources
) -> dict[str, Any]:
    """The ``functionCall`` part of a deprecated ``assistant.function_call``."""
    function_where = f"{where}.function_call"
    name = _function_name(function_call, function_where)
    args = parse_arguments(function_call.get("arguments"), f"{function_where}.arguments")
    part: dict[str, Any] = {"functionCall": {"name": names.to_gemini(name), "args": args}}
    if sources.dummy_for_first_call:
        part["thoughtSignature"] = DUMMY_SIGNATURE
    return part


def _function_name(function: dict[str, Any], where: str) -> str:
    name = required_str(function, "name", where)
    if not name:
        raise invalid_value(f"{where}.name", f"'{where}.name' must not be empty.")
    return name


def _signature(
    call: dict[str, Any], call_id: str | None, where: str, sources: SignatureSources
) -> str | None:
    extra = optional_dict(call, "extra_content", where)
    if extra is not None:
        google = optional_dict(extra, "google", f"{where}.extra_content")
        if google is not None:
            echoed = optional_str(google, "thought_signature", f"{where}.extra_content.google")
            if echoed:
                return echoed
    if call_id is None:
        return None
    if sources.cache is not None:
        cached = sources.cache.get(call_id, sources.now)
        if cached is not None and cached.signature:
            return cached.signature
    return signature_from_id(call_id)


def function_response_part(gemini_name: str, text: str) -> dict[str, Any]:
    """A ``functionResponse`` part for a tool result's text."""
    return {"functionResponse": {"name": gemini_name, "response": response_object(text)}}


def response_object(text: str) -> dict[str, Any]:
    """A tool result as a JSON object: objects as is, other JSON and plain text wrapped in ``result``."""
    if not text:
        return {"result": ""}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}
