"""Gemini error bodies -> OpenAI error bodies and statuses (protocol.md D.13, C.4).

The upstream's message is carried over (with anything shaped like a Gemini key
masked). A rejected upstream key is never a 401 for the client: the client's token
was fine, the pool's key was not, so it is a 503 "no usable upstream keys"; other
permission refusals are a 500 "upstream rejected the request".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from gemini_proxy.errors import openai_error_body
from gemini_proxy.keys.classify import KEY_REJECTION_REASONS

_GEMINI_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{10,}")
_KEY_REJECTION_MESSAGES = ("api key not valid", "api key not found", "api key expired")


@dataclass(frozen=True, slots=True)
class GeminiError:
    """The parts of a Gemini error body (A.6) the mapping looks at."""

    code: int | None
    status: str | None
    message: str | None
    reasons: frozenset[str]


def parse_gemini_error(body: bytes | dict[str, Any] | list[Any] | None) -> GeminiError:
    """Read ``{"error": {code, message, status, details}}``; tolerant of anything else."""
    if isinstance(body, bytes | bytearray):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return GeminiError(None, None, None, frozenset())
    if isinstance(body, list) and body:  # the JSON-array stream form wraps errors in a list
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GeminiError(None, None, None, frozenset())
    code = error.get("code")
    status = error.get("status")
    message = error.get("message")
    details = error.get("details")
    reasons = frozenset(
        detail["reason"]
        for detail in (details if isinstance(details, list) else [])
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str)
    )
    return GeminiError(
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        status if isinstance(status, str) else None,
        mask_keys(message) if isinstance(message, str) and message else None,
        reasons,
    )


def mask_keys(text: str) -> str:
    """``text`` with anything shaped like a Gemini API key masked."""
    return _GEMINI_KEY.sub("AIza...", text) if "AIza" in text else text


def gemini_error_to_openai(
    status: int, body: bytes | dict[str, Any] | list[Any] | None
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI error body for an upstream error response."""
    error = parse_gemini_error(body)
    upstream = error.message or f"The upstream answered with HTTP {status}."
    if status == 401 or error.reasons & KEY_REJECTION_REASONS or _says_key_rejected(error.message):
        return 503, openai_error_body(
            503, "no usable upstream keys: the upstream rejected the pool's API key", code="no_usable_keys"
        )
    if status == 403:
        return 500, openai_error_body(
            500, f"upstream rejected the request: {upstream}", code="upstream_rejected"
        )
    if status == 404:
        code = "model_not_found" if "model" in upstream.lower() else "not_found"
        return 404, openai_error_body(404, upstream, code=code)
    if status == 429:
        return 429, openai_error_body(429, upstream, code="rate_limit_exceeded")
    if status == 413:
        return 413, openai_error_body(413, upstream, code="request_too_large")
    if 400 <= status < 500:
        return status, openai_error_body(status, upstream, code="invalid_request")
    if 500 <= status < 600:
        return status, openai_error_body(status, upstream, code=(error.status or "upstream_error").lower())
    return 502, openai_error_body(502, upstream, code="upstream_error")


def _says_key_rejected(message: str | None) -> bool:
    lowered = message.lower() if message else ""
    return any(phrase in lowered for phrase in _KEY_REJECTION_MESSAGES)


def gemini_error_from_stream(obj: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI error chunk (``{"error": {...}}``) for an error object found inside a stream."""
    error = parse_gemini_error(obj)
    status = error.code if error.code is not None and 400 <= error.code < 600 else 500
    return gemini_error_to_openai(status, obj)[1]
