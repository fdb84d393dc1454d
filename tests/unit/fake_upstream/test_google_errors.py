"""Google's error bodies (protocol.md A.6): envelope, details and messages."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_proxy.fake_upstream import google_errors
from gemini_proxy.fake_upstream.google_errors import GoogleError, format_duration_s

TYPE = "type.googleapis.com/google.rpc."


def detail(error: GoogleError, kind: str) -> dict[str, Any]:
    """The first detail of ``error`` whose @type ends with ``kind``."""
    return next(d for d in error.body["error"]["details"] if d["@type"] == TYPE + kind)


class TestErrorBodies:
    def test_invalid_key_is_exactly_the_observed_body(self) -> None:
        """The invalid-key body is the one observed from Google, detail for detail."""
        message = "API key not valid. Please pass a valid API key."
        assert google_errors.invalid_key() == GoogleError(
            400,
            {
                "error": {
                    "code": 400,
                    "message": message,
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": TYPE + "ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        },
                        {"@type": TYPE + "LocalizedMessage", "locale": "en-US", "message": message},
                    ],
                }
            },
        )

    @pytest.mark.parametrize(
        ("error", "code", "status", "reason"),
        [
            (google_errors.expired_key(), 400, "INVALID_ARGUMENT", "API_KEY_EXPIRED"),
            (google_errors.service_disabled(), 403, "PERMISSION_DENIED", "SERVICE_DISABLED"),
            (google_errors.unauthenticated(), 401, "UNAUTHENTICATED", "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        ],
    )
    def test_key_problems_carry_error_info(
        self, error: GoogleError, code: int, status: str, reason: str
    ) -> None:
        """Key rejections carry their ErrorInfo reason with the HTTP status inside and out."""
        assert error.status == code
        assert error.body["error"]["code"] == code
        assert error.body["error"]["status"] == status
        assert detail(error, "ErrorInfo")["reason"] == reason

    def test_rate_per_minute(self) -> None:
        """The per-minute 429 has QuotaFailure with the model, Help, RetryInfo and 'Please retry in'."""
        error = google_errors.rate_per_minute("gemini-2.5-flash", 42, limit=5)
        assert (error.status, error.body["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
        violation = detail(error, "QuotaFailure")["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        assert violation["quotaDimensions"] == {"location": "global", "model": "gemini-2.5-flash"}
        assert violation["quotaValue"] == "5"
        assert detail(error, "Help")["links"][0]["url"].startswith("https://ai.google.dev/")
        assert detail(error, "RetryInfo") == {"@type": TYPE + "RetryInfo", "retryDelay": "42s"}
        assert error.message.endswith("Please retry in 42s.")
        assert "limit: 5, model: gemini-2.5-flash" in error.message

    def test_rate_per_day(self) -> None:
        """The per-day 429 names the PerDay quota and a long retry delay."""
        error = google_errors.rate_per_day("gemini-2.5-pro", 36000)
        violation = detail(error, "QuotaFailure")["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        assert detail(error, "RetryInfo")["retryDelay"] == "36000s"

    def test_rate_without_model_leaves_the_dimension_out(self) -> None:
        """A 429 on a call without a model has only the location dimension."""
        error = google_errors.rate_per_minute(None, 1)
        assert detail(error, "QuotaFailure")["violations"][0]["quotaDimensions"] == {"location": "global"}

    @pytest.mark.parametrize(
        ("error", "code", "status", "message"),
        [
            (
                google_errors.rate_bare(),
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
            ),
            (
                google_errors.overloaded(),
                503,
                "UNAVAILABLE",
                "The model is overloaded. Please try again later.",
            ),
            (
                google_errors.unregistered_caller(),
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered",
            ),
            (google_errors.internal_error(), 500, "INTERNAL", "An internal error has occurred."),
        ],
    )
    def test_detail_free_errors(self, error: GoogleError, code: int, status: str, message: str) -> None:
        """Bare errors have code, status and message and no details."""
        assert error.status == code
        assert error.body["error"]["status"] == status
        assert error.message.startswith(message)
        assert "details" not in error.body["error"]

    def test_model_not_found_message(self) -> None:
        """The 404 names the model, the API version and the method."""
        error = google_errors.model_not_found("models/nope", "v1beta", "generateContent")
        assert error.status == 404
        assert error.message.startswith(
            "models/nope is not found for API version v1beta, or is not supported for generateContent."
        )

    def test_invalid_argument_names_the_field(self) -> None:
        """A field-level 400 carries a BadRequest violation for that field."""
        error = google_errors.invalid_argument("bad", field="contents")
        assert detail(error, "BadRequest")["fieldViolations"] == [{"field": "contents", "description": "bad"}]


class TestDurations:
    @pytest.mark.parametrize(
        ("seconds", "text"), [(30, "30s"), (30.0, "30s"), (0.5, "0.5s"), (58.217843437, "58.217843437s")]
    )
    def test_protobuf_duration(self, seconds: float, text: str) -> None:
        """Durations print as protobuf Duration strings: seconds, optional fraction, 's'."""
        assert format_duration_s(seconds) == text
