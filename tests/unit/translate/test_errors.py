"""Upstream Gemini errors -> OpenAI errors (D.13, F#31)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gemini_proxy.translate.errors import gemini_error_from_stream, gemini_error_to_openai

INVALID_KEY_BODY = {
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ],
    }
}


def gemini_error(code: int, message: str, status: str = "", **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


class TestErrorMapping:
    """D.13: upstream errors become OpenAI errors."""

    @pytest.mark.parametrize(
        ("status", "body", "expected_status", "error_type", "code"),
        [
            (
                400,
                gemini_error(400, "Invalid value at contents", "INVALID_ARGUMENT"),
                400,
                "invalid_request_error",
                "invalid_request",
            ),
            (
                404,
                gemini_error(404, "models/gemini-9 is not found for API version v1beta", "NOT_FOUND"),
                404,
                "invalid_request_error",
                "model_not_found",
            ),
            (
                404,
                gemini_error(404, "File files/abc not found", "NOT_FOUND"),
                404,
                "invalid_request_error",
                "not_found",
            ),
            (
                429,
                gemini_error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED"),
                429,
                "rate_limit_error",
                "rate_limit_exceeded",
            ),
            (413, None, 413, "invalid_request_error", "request_too_large"),
            (500, gemini_error(500, "Internal error", "INTERNAL"), 500, "server_error", "internal"),
            (
                503,
                gemini_error(503, "The model is overloaded.", "UNAVAILABLE"),
                503,
                "server_error",
                "unavailable",
            ),
            (504, b"not json at all", 504, "server_error", "upstream_error"),
            (400, INVALID_KEY_BODY, 503, "server_error", "no_usable_keys"),
            (
                400,
                gemini_error(400, "API key expired. Please renew the API key."),
                503,
                "server_error",
                "no_usable_keys",
            ),
            (
                401,
                gemini_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
                503,
                "server_error",
                "no_usable_keys",
            ),
            (
                403,
                gemini_error(
                    403, "Permission denied", "PERMISSION_DENIED", details=[{"reason": "CONSUMER_SUSPENDED"}]
                ),
                503,
                "server_error",
                "no_usable_keys",
            ),
            (
                403,
                gemini_error(403, "You do not have permission to access the File abc", "PERMISSION_DENIED"),
                500,
                "server_error",
                "upstream_rejected",
            ),
            (302, None, 502, "server_error", "upstream_error"),
        ],
    )
    def test_mapping(self, status: int, body: Any, expected_status: int, error_type: str, code: str) -> None:
        """D.13: status, type and code per upstream outcome; key problems are never a client 401."""
        mapped_status, mapped = gemini_error_to_openai(status, body)
        assert mapped_status == expected_status
        assert (mapped["error"]["type"], mapped["error"]["code"]) == (error_type, code)
        assert set(mapped["error"]) == {"message", "type", "param", "code"}

    def test_message_carried_over_from_bytes(self) -> None:
        """D.13: the upstream message reaches the client, from raw bytes too."""
        body = orjson.dumps(gemini_error(400, "contents.parts must not be empty", "INVALID_ARGUMENT"))
        assert gemini_error_to_openai(400, body)[1]["error"]["message"] == "contents.parts must not be empty"

    def test_array_wrapped_error_read(self) -> None:
        """D.12: the JSON-array stream form ``[{"error": ...}]`` is understood."""
        _, mapped = gemini_error_to_openai(400, [gemini_error(400, "bad thing")])
        assert mapped["error"]["message"] == "bad thing"

    def test_keys_masked_in_messages(self) -> None:
        """A key quoted by the upstream never reaches the client."""
        message = (
            "Permission denied: Consumer 'api_key:AIzaSyA1234567890abcdefghijklmnopqrstu' has been suspended."
        )
        _, mapped = gemini_error_to_openai(403, gemini_error(403, message))
        assert "AIzaSyA1234567890" not in orjson.dumps(mapped).decode()

    @pytest.mark.parametrize(
        ("obj", "code"),
        [
            ({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}, "unavailable"),
            ({"error": {"code": 429, "message": "quota"}}, "rate_limit_exceeded"),
            ({"error": {"message": "no code"}}, "upstream_error"),
            ({"error": "just a string"}, "upstream_error"),
        ],
    )
    def test_stream_error_objects(self, obj: dict[str, Any], code: str) -> None:
        """F#31: an error object inside a stream becomes an OpenAI error body."""
        assert gemini_error_from_stream(obj)["error"]["code"] == code
