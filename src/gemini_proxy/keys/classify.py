"""What an upstream response means for the key that got it: one pure function.

``classify_upstream_response`` reads the status, the headers and the error body of a
Gemini response (protocol.md A.6, A.7) and returns an ``Outcome``. It never raises on a
strange body: empty, non-JSON, wrongly typed fields and the list-wrapped form
``[{"error": {...}}]`` all classify by status alone when the body says nothing useful.

Decision order:
1. a transport error (no usable response) is transient;
2. 2xx is success, even a 200 whose prompt was blocked (no candidates);
3. 429 is a rate limit; a ``PerDay`` quota id wins over a per-minute one (F#38);
4. a key-level ``ErrorInfo.reason`` rejects the key whatever the status (F#41);
5. 400 ``FAILED_PRECONDITION``, 401 and 403 reject the key, except a 403 about a
   ``files/`` or ``cachedContents/`` resource owned by another project (F#42);
6. 5xx and 408 are transient (a 503 is model-wide, F#43); any other 4xx is the client's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind

# ErrorInfo reasons that say the key itself (or its project) cannot be used (A.7).
KEY_REJECTION_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
        "SERVICE_DISABLED",
        "CONSUMER_SUSPENDED",
        "CONSUMER_INVALID",
        "BILLING_DISABLED",
        "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    }
)

_TRANSPORT_REASONS = {
    "timeout": "timeout",
    "connect": "connect_error",
    "connect_error": "connect_error",
    "stream_cut": "stream_cut",
}

_PROTOBUF_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_IN_MESSAGE = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_LIMIT_ZERO = re.compile(r"\blimit:\s*0(?![\d.])")
_FOREIGN_RESOURCE = re.compile(r"files/|cachedContents/|access the (?:File|CachedContent)\b")
_KEY_INVALID_MESSAGE = re.compile(r"API key not valid|API Key not found", re.IGNORECASE)
_KEY_EXPIRED_MESSAGE = re.compile(r"API key expired", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    """The parts of a Google error body the classifier looks at."""

    status_name: str = ""
    message: str = ""
    reasons: tuple[str, ...] = ()
    quota_ids: tuple[str, ...] = ()
    quota_values: tuple[str, ...] = ()
    retry_delay_s: float | None = None


def classify_upstream_response(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes | None,
    transport_error: str | None = None,
) -> Outcome:
    """Classify one upstream call: success, rate limited, key rejected, transient or client error.

    ``transport_error`` names a failure below HTTP (``"timeout"``, ``"connect"`` or
    ``"connect_error"``, ``"stream_cut"``; anything else reads as ``"transport_error"``);
    when given it decides the outcome whatever ``status`` says.
    """
    if transport_error is not None:
        return Outcome(OutcomeKind.TRANSIENT, _TRANSPORT_REASONS.get(transport_error, "transport_error"))
    if status is None:
        return Outcome(OutcomeKind.TRANSIENT, "no_response")
    if 200 <= status < 300:
        return SUCCESS
    error = _parse_error_body(body)
    if status == 429:
        return _classify_rate_limit(headers, error)
    rejection = _key_rejection(status, error)
    if rejection is not None:
        return rejection
    if status >= 500 or status == 408:
        return Outcome(OutcomeKind.TRANSIENT, f"http_{status}")
    if 400 <= status < 500:
        return Outcome(OutcomeKind.CLIENT_ERROR, f"http_{status}")
    return Outcome(OutcomeKind.TRANSIENT, f"http_{status}")


def _classify_rate_limit(headers: Mapping[str, str], error: _ErrorBody) -> Outcome:
    per_day = any("PerDay" in quota_id for quota_id in error.quota_ids)
    per_minute = any("PerMinute" in quota_id for quota_id in error.quota_ids)
    no_quota = bool(_LIMIT_ZERO.search(error.message)) or "0" in error.quota_values
    retry_after_s = error.retry_delay_s
    if retry_after_s is None:
        retry_after_s = _retry_after_header(headers)
    if retry_after_s is None:
        retry_after_s = _retry_in_message(error.message)
    if no_quota:
        reason = "no_quota"
    elif per_day:
        reason = "per_day_quota"
    elif per_minute:
        reason = "per_minute_quota"
    elif error.quota_ids:
        reason = "quota_exceeded"
    elif retry_after_s is not None:
        reason = "rate_limited"
    else:
        reason = "bare_429"
    return Outcome(
        OutcomeKind.RATE_LIMITED,
        reason,
        retry_after_s=retry_after_s,
        per_day=per_day,
        no_quota=no_quota,
    )


def _key_rejection(status: int, error: _ErrorBody) -> Outcome | None:
    for reason in error.reasons:
        if reason in KEY_REJECTION_REASONS:
            return Outcome(OutcomeKind.KEY_REJECTED, reason)
    if status == 400:
        if _KEY_INVALID_MESSAGE.search(error.message):
            return Outcome(OutcomeKind.KEY_REJECTED, "API_KEY_INVALID")
        if _KEY_EXPIRED_MESSAGE.search(error.message):
            return Outcome(OutcomeKind.KEY_REJECTED, "API_KEY_EXPIRED")
        if error.status_name == "FAILED_PRECONDITION":
            return Outcome(OutcomeKind.KEY_REJECTED, "FAILED_PRECONDITION")
        return None
    if status == 401:
        return Outcome(OutcomeKind.KEY_REJECTED, "UNAUTHENTICATED")
    if status == 403:
        if _FOREIGN_RESOURCE.search(error.message):
            return Outcome(OutcomeKind.CLIENT_ERROR, "foreign_resource")
        return Outcome(OutcomeKind.KEY_REJECTED, "PERMISSION_DENIED")
    return None


def _parse_error_body(body: bytes | None) -> _ErrorBody:
    if not body:
        return _ErrorBody()
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _ErrorBody(message=body[:2048].decode("utf-8", "replace"))
    if isinstance(document, list) and document:
        document = document[0]
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):
        return _ErrorBody(message=error)
    if not isinstance(error, dict):
        return _ErrorBody()
    reasons: list[str] = []
    quota_ids: list[str] = []
    quota_values: list[str] = []
    retry_delay_s: float | None = None
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict):
            continue
        type_url = str(detail.get("@type", ""))
        if type_url.endswith("google.rpc.ErrorInfo"):
            reasons.append(str(detail.get("reason", "")))
        elif type_url.endswith("google.rpc.QuotaFailure"):
            violations = detail.get("violations")
            for violation in violations if isinstance(violations, list) else ():
                if isinstance(violation, dict):
                    quota_ids.append(str(violation.get("quotaId", "")))
                    quota_values.append(str(violation.get("quotaValue", "")))
        elif type_url.endswith("google.rpc.RetryInfo") and retry_delay_s is None:
            retry_delay_s = parse_protobuf_duration(detail.get("retryDelay"))
    return _ErrorBody(
        status_name=str(error.get("status", "")),
        message=str(error.get("message", "")),
        reasons=tuple(reasons),
        quota_ids=tuple(quota_ids),
        quota_values=tuple(quota_values),
        retry_delay_s=retry_delay_s,
    )


def parse_protobuf_duration(value: object) -> float | None:
    """Seconds in a protobuf Duration string (``"26s"``, ``"0.5s"``); ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    match = _PROTOBUF_DURATION.match(value)
    return float(match.group(1)) if match else None


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date: the pool's backoff is close enough
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _retry_in_message(message: str) -> float | None:
    match = _RETRY_IN_MESSAGE.search(message)
    if match is None:
        return None
    amount = float(match.group(1))
    return amount / 1000 if match.group(2).lower() == "ms" else amount
