"""classify_upstream_response over real-shaped Gemini responses (protocol.md A.6, A.7, F#38-43)."""

from __future__ import annotations

import orjson
import pytest

from gemini_proxy.keys.classify import classify_upstream_response, parse_protobuf_duration
from gemini_proxy.keys.outcome import Outcome, OutcomeKind

# protocol.md A.6, verbatim.
INVALID_KEY_400 = b"""{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
  "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
               "metadata": {"service": "generativelanguage.googleapis.com"}},
              {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": "API key not valid. Please pass a valid API key."}]}}"""

# protocol.md A.6, verbatim (the message's "\n" is a JSON escape).
PER_MINUTE_429 = b"""{"error": {"code": 429,
  "message": "You exceeded your current quota, please check your plan and billing details. ... \\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 5, model: gemini-3-flash\\nPlease retry in 58.217843437s.",
  "status": "RESOURCE_EXHAUSTED",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
       {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        "quotaDimensions": {"location": "global", "model": "gemini-3-flash"}, "quotaValue": "5"}]},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "58s"}]}}"""


def _error(code: int, status: str, message: str, *details: dict[str, object]) -> bytes:
    body: dict[str, object] = {"code": code, "message": message, "status": status}
    if details:
        body["details"] = list(details)
    return orjson.dumps({"error": body})


def _quota(*quota_ids: str, value: str = "250") -> dict[str, object]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                "quotaValue": value,
            }
            for quota_id in quota_ids
        ],
    }


def _retry(delay: str) -> dict[str, object]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def _info(reason: str) -> dict[str, object]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}


EXHAUSTED = "You exceeded your current quota, please check your plan and billing details."
PER_DAY_429 = _error(
    429,
    "RESOURCE_EXHAUSTED",
    EXHAUSTED,
    _quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", value="20"),
    _retry("26s"),
)
DAY_AND_MINUTE_429 = _error(
    429,
    "RESOURCE_EXHAUSTED",
    EXHAUSTED,
    _retry("0.5s"),
    _quota(
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    ),
)
BARE_429 = _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
LIMIT_ZERO_429 = _error(
    429,
    "RESOURCE_EXHAUSTED",
    EXHAUSTED
    + " * Quota exceeded for metric: generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro",
    _quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", value="0"),
)
EXPIRED_400 = _error(
    400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", _info("API_KEY_EXPIRED")
)
NOT_FOUND_KEY_400 = _error(400, "INVALID_ARGUMENT", "API Key not found. Please pass a valid API key.")
BAD_REQUEST_400 = _error(
    400,
    "INVALID_ARGUMENT",
    "* GenerateContentRequest.contents: contents is not specified",
    {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "contents"}]},
)
LOCATION_400 = _error(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
UNAUTHENTICATED_401 = _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
PERMISSION_403 = _error(
    403, "PERMISSION_DENIED", "Your project has been denied access. Please contact support."
)
SERVICE_DISABLED_403 = _error(
    403,
    "PERMISSION_DENIED",
    "Generative Language API has not been used in project 123",
    _info("SERVICE_DISABLED"),
)
FOREIGN_FILE_403 = _error(
    403, "PERMISSION_DENIED", "You do not have permission to access the File abc123 or it may not exist."
)
FOREIGN_CACHE_403 = _error(403, "PERMISSION_DENIED", "Permission denied on resource cachedContents/xyz789.")
OVERLOADED_503 = _error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
INTERNAL_500 = _error(500, "INTERNAL", "An internal error has occurred.")
NOT_FOUND_404 = _error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta")
BLOCKED_PROMPT_200 = orjson.dumps(
    {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
)

RATE = OutcomeKind.RATE_LIMITED
REJECTED = OutcomeKind.KEY_REJECTED
TRANSIENT = OutcomeKind.TRANSIENT
CLIENT = OutcomeKind.CLIENT_ERROR


class TestClassifyStatusAndBody:
    """Each real-shaped response lands in the right class with the right details."""

    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            pytest.param(200, b'{"candidates": []}', Outcome(OutcomeKind.SUCCESS, "ok"), id="200"),
            pytest.param(
                200, BLOCKED_PROMPT_200, Outcome(OutcomeKind.SUCCESS, "ok"), id="200-blocked-prompt"
            ),
            pytest.param(204, None, Outcome(OutcomeKind.SUCCESS, "ok"), id="204-no-body"),
            pytest.param(
                429,
                PER_MINUTE_429,
                Outcome(RATE, "per_minute_quota", retry_after_s=58.0),
                id="429-per-minute-a6",
            ),
            pytest.param(
                429,
                PER_DAY_429,
                Outcome(RATE, "per_day_quota", retry_after_s=26.0, per_day=True),
                id="429-per-day",
            ),
            pytest.param(
                429,
                DAY_AND_MINUTE_429,
                Outcome(RATE, "per_day_quota", retry_after_s=0.5, per_day=True),
                id="429-several-violations-daily-wins",
            ),
            pytest.param(429, BARE_429, Outcome(RATE, "bare_429"), id="429-bare"),
            pytest.param(429, b"", Outcome(RATE, "bare_429"), id="429-empty-body"),
            pytest.param(
                429,
                LIMIT_ZERO_429,
                Outcome(RATE, "no_quota", per_day=True, no_quota=True),
                id="429-limit-zero",
            ),
            pytest.param(400, INVALID_KEY_400, Outcome(REJECTED, "API_KEY_INVALID"), id="400-invalid-key-a6"),
            pytest.param(400, EXPIRED_400, Outcome(REJECTED, "API_KEY_EXPIRED"), id="400-expired"),
            pytest.param(
                400, NOT_FOUND_KEY_400, Outcome(REJECTED, "API_KEY_INVALID"), id="400-key-not-found-msg"
            ),
            pytest.param(400, BAD_REQUEST_400, Outcome(CLIENT, "http_400"), id="400-bad-request"),
            pytest.param(
                400, LOCATION_400, Outcome(REJECTED, "FAILED_PRECONDITION"), id="400-failed-precondition"
            ),
            pytest.param(401, UNAUTHENTICATED_401, Outcome(REJECTED, "UNAUTHENTICATED"), id="401"),
            pytest.param(403, PERMISSION_403, Outcome(REJECTED, "PERMISSION_DENIED"), id="403-denied"),
            pytest.param(
                403, SERVICE_DISABLED_403, Outcome(REJECTED, "SERVICE_DISABLED"), id="403-service-disabled"
            ),
            pytest.param(403, FOREIGN_FILE_403, Outcome(CLIENT, "foreign_resource"), id="403-foreign-file"),
            pytest.param(403, FOREIGN_CACHE_403, Outcome(CLIENT, "foreign_resource"), id="403-foreign-cache"),
            pytest.param(404, NOT_FOUND_404, Outcome(CLIENT, "http_404"), id="404"),
            pytest.param(413, b"", Outcome(CLIENT, "http_413"), id="413"),
            pytest.param(408, None, Outcome(TRANSIENT, "http_408"), id="408"),
            pytest.param(500, INTERNAL_500, Outcome(TRANSIENT, "http_500"), id="500"),
            pytest.param(502, b"<html>Bad Gateway</html>", Outcome(TRANSIENT, "http_502"), id="502-html"),
            pytest.param(503, OVERLOADED_503, Outcome(TRANSIENT, "http_503"), id="503-overloaded"),
            pytest.param(504, None, Outcome(TRANSIENT, "http_504"), id="504"),
        ],
    )
    def test_classifies(self, status: int, body: bytes | None, expected: Outcome) -> None:
        """The status and body map to the expected outcome, field for field."""
        assert classify_upstream_response(status, {}, body) == expected


class TestMalformedBodies:
    """Bodies that are not Google's error shape never raise and fall back on the status."""

    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            pytest.param(400, b"not json at all", Outcome(CLIENT, "http_400"), id="400-text"),
            pytest.param(400, b"{truncated", Outcome(CLIENT, "http_400"), id="400-truncated-json"),
            pytest.param(400, b"[]", Outcome(CLIENT, "http_400"), id="400-empty-list"),
            pytest.param(400, b'"a string"', Outcome(CLIENT, "http_400"), id="400-json-string"),
            pytest.param(400, b'{"error": "boom"}', Outcome(CLIENT, "http_400"), id="400-error-string"),
            pytest.param(
                400, b'{"error": {"details": "nope"}}', Outcome(CLIENT, "http_400"), id="400-details-str"
            ),
            pytest.param(
                400, b'{"error": {"details": [1, null]}}', Outcome(CLIENT, "http_400"), id="400-details-junk"
            ),
            pytest.param(
                429, b'{"error": {"details": [{"@type": 5}]}}', Outcome(RATE, "bare_429"), id="429-type-int"
            ),
            pytest.param(
                429,
                b'{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": 3}]}}',
                Outcome(RATE, "bare_429"),
                id="429-violations-int",
            ),
            pytest.param(
                429,
                b'{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": 7}]}}',
                Outcome(RATE, "bare_429"),
                id="429-retry-delay-not-string",
            ),
            pytest.param(
                400,
                b"[" + INVALID_KEY_400 + b"]",
                Outcome(REJECTED, "API_KEY_INVALID"),
                id="400-list-wrapped",
            ),
            pytest.param(
                429,
                b"[" + PER_DAY_429 + b"]",
                Outcome(RATE, "per_day_quota", retry_after_s=26.0, per_day=True),
                id="429-list-wrapped",
            ),
            pytest.param(500, b"\xff\xfe\x00", Outcome(TRANSIENT, "http_500"), id="500-binary"),
        ],
    )
    def test_tolerates(self, status: int, body: bytes, expected: Outcome) -> None:
        """A malformed body is classified by what can be read from it."""
        assert classify_upstream_response(status, {}, body) == expected


class TestRetryDelaySources:
    """The delay comes from RetryInfo, else Retry-After, else the message, else nothing."""

    @pytest.mark.parametrize(
        ("headers", "body", "expected_delay"),
        [
            pytest.param({"Retry-After": "9"}, PER_MINUTE_429, 58.0, id="retryinfo-beats-header"),
            pytest.param({"Retry-After": "9"}, BARE_429, 9.0, id="header"),
            pytest.param({"retry-after": "2.5"}, BARE_429, 2.5, id="header-lowercase"),
            pytest.param(
                {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, BARE_429, None, id="header-date-ignored"
            ),
            pytest.param({"Retry-After": "-3"}, BARE_429, None, id="header-negative-ignored"),
            pytest.param(
                {}, _error(429, "RESOURCE_EXHAUSTED", "Please retry in 12.5s."), 12.5, id="message-s"
            ),
            pytest.param(
                {}, _error(429, "RESOURCE_EXHAUSTED", "Please retry in 750ms."), 0.75, id="message-ms"
            ),
            pytest.param({}, BARE_429, None, id="nothing"),
        ],
    )
    def test_delay(self, headers: dict[str, str], body: bytes, expected_delay: float | None) -> None:
        """The first available source of a delay wins."""
        assert classify_upstream_response(429, headers, body).retry_after_s == expected_delay

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("26s", 26.0),
            ("0.5s", 0.5),
            ("58.217843437s", 58.217843437),
            (" 3s ", 3.0),
            ("3", None),
            ("s", None),
        ],
    )
    def test_protobuf_duration(self, text: str, seconds: float | None) -> None:
        """Protobuf Duration strings parse to seconds; anything else to None."""
        assert parse_protobuf_duration(text) == seconds


class TestTransportErrors:
    """Failures below HTTP are transient whatever the status says."""

    @pytest.mark.parametrize(
        ("status", "error", "reason"),
        [
            (None, "timeout", "timeout"),
            (None, "connect", "connect_error"),
            (None, "connect_error", "connect_error"),
            (200, "stream_cut", "stream_cut"),
            (None, "something_else", "transport_error"),
        ],
    )
    def test_transport(self, status: int | None, error: str, reason: str) -> None:
        """A named transport failure becomes a transient outcome with a short reason."""
        assert classify_upstream_response(status, {}, None, error) == Outcome(TRANSIENT, reason)

    def test_no_status_no_error(self) -> None:
        """No response and no stated cause is still transient."""
        assert classify_upstream_response(None, {}, None) == Outcome(TRANSIENT, "no_response")


class TestOutcomeProperties:
    """What each class means for retrying and for the key."""

    @pytest.mark.parametrize(
        ("outcome", "retryable", "penalises"),
        [
            (Outcome(OutcomeKind.SUCCESS, "ok"), False, False),
            (Outcome(CLIENT, "http_400"), False, False),
            (Outcome(RATE, "bare_429"), True, True),
            (Outcome(REJECTED, "API_KEY_INVALID"), True, True),
            (Outcome(TRANSIENT, "http_500"), True, True),
            (Outcome(TRANSIENT, "http_503"), True, True),
        ],
    )
    def test_flags(self, outcome: Outcome, retryable: bool, penalises: bool) -> None:
        """A model-wide 503 is retried but not held against the key."""
        assert (outcome.retryable, outcome.penalises_key) == (retryable, penalises)
