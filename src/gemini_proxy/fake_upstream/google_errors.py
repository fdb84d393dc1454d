"""Google's error bodies, as the real Gemini API writes them (protocol.md A.6 and A.7).

Every builder returns a ``GoogleError``: the HTTP status and the ``{"error": {...}}`` body
with ``code``, ``message``, ``status`` and, where Google sends them, typed ``details``.
Pure: nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_TYPE_PREFIX = "type.googleapis.com/google.rpc."
_SERVICE = "generativelanguage.googleapis.com"
_RATE_LIMITS_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"
_FREE_TIER_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_FAKE_PROJECT_NUMBER = "123456789012"

DEFAULT_MINUTE_LIMIT = 10
DEFAULT_DAY_LIMIT = 250


@dataclass(frozen=True)
class GoogleError:
    """An HTTP status and the Google error body that goes with it."""

    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        """The human text of the error."""
        return str(self.body["error"]["message"])


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> GoogleError:
    """The A.6 envelope; ``details`` is left out when there are none, as Google does."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return GoogleError(code, {"error": error})


def format_duration_s(seconds: float) -> str:
    """A protobuf Duration string: ``30`` → ``"30s"``, ``0.5`` → ``"0.5s"``."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def _error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": _TYPE_PREFIX + "ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": _SERVICE, **metadata},
    }


def _localized(message: str) -> dict[str, Any]:
    return {"@type": _TYPE_PREFIX + "LocalizedMessage", "locale": "en-US", "message": message}


def _help(description: str, url: str) -> dict[str, Any]:
    return {"@type": _TYPE_PREFIX + "Help", "links": [{"description": description, "url": url}]}


def invalid_key() -> GoogleError:
    """400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID: a wrong or deleted key."""
    message = "API key not valid. Please pass a valid API key."
    return google_error(
        400, "INVALID_ARGUMENT", message, [_error_info("API_KEY_INVALID"), _localized(message)]
    )


def expired_key() -> GoogleError:
    """400 INVALID_ARGUMENT with ErrorInfo API_KEY_EXPIRED."""
    message = "API key expired. Please renew the API key."
    return google_error(
        400, "INVALID_ARGUMENT", message, [_error_info("API_KEY_EXPIRED"), _localized(message)]
    )


def service_disabled() -> GoogleError:
    """403 PERMISSION_DENIED with ErrorInfo SERVICE_DISABLED: the key's project has the API off."""
    console = (
        f"https://console.developers.google.com/apis/api/{_SERVICE}/overview?project={_FAKE_PROJECT_NUMBER}"
    )
    message = (
        f"Generative Language API has not been used in project {_FAKE_PROJECT_NUMBER} before or it is "
        f"disabled. Enable it by visiting {console} then retry. If you enabled this API recently, wait a "
        "few minutes for the action to propagate to our systems and retry."
    )
    info = _error_info(
        "SERVICE_DISABLED",
        consumer=f"projects/{_FAKE_PROJECT_NUMBER}",
        activationUrl=console,
        serviceTitle="Generative Language API",
    )
    details = [info, _localized(message), _help("Google developers console API activation", console)]
    return google_error(403, "PERMISSION_DENIED", message, details)


def unregistered_caller() -> GoogleError:
    """403 PERMISSION_DENIED for a request that carries no API key at all."""
    message = (
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API."
    )
    return google_error(403, "PERMISSION_DENIED", message)


def unauthenticated() -> GoogleError:
    """401 UNAUTHENTICATED: a credential that is not an API key (an OAuth token, say)."""
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    return google_error(401, "UNAUTHENTICATED", message, [_error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED")])


def _quota_exceeded(model: str | None, quota_id: str, limit: int, retry_delay_s: float | None) -> GoogleError:
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        f"information on this error, head to: {_RATE_LIMITS_URL}. To monitor your current usage, head "
        f"to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: {_FREE_TIER_METRIC}, "
        f"limit: {limit}" + (f", model: {model}" if model else "")
    )
    dimensions = {"location": "global", "model": model} if model else {"location": "global"}
    violation = {
        "quotaMetric": _FREE_TIER_METRIC,
        "quotaId": quota_id,
        "quotaDimensions": dimensions,
        "quotaValue": str(limit),
    }
    details: list[dict[str, Any]] = [
        {"@type": _TYPE_PREFIX + "QuotaFailure", "violations": [violation]},
        _help("Learn more about Gemini API quotas", _RATE_LIMITS_URL),
    ]
    if retry_delay_s is not None:
        message += f"\nPlease retry in {format_duration_s(retry_delay_s)}."
        details.append({"@type": _TYPE_PREFIX + "RetryInfo", "retryDelay": format_duration_s(retry_delay_s)})
    return google_error(429, "RESOURCE_EXHAUSTED", message, details)


def rate_per_minute(
    model: str | None, retry_delay_s: float, limit: int = DEFAULT_MINUTE_LIMIT
) -> GoogleError:
    """429 for the free-tier requests-per-minute quota of ``model``, with RetryInfo."""
    quota_id = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    return _quota_exceeded(model, quota_id, limit, retry_delay_s)


def rate_per_day(model: str | None, retry_delay_s: float, limit: int = DEFAULT_DAY_LIMIT) -> GoogleError:
    """429 for the free-tier requests-per-day quota, retrying at the next Pacific midnight."""
    quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    return _quota_exceeded(model, quota_id, limit, retry_delay_s)


def rate_bare() -> GoogleError:
    """429 with no details: shared-capacity throttling."""
    return google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")


def internal_error() -> GoogleError:
    """500 INTERNAL."""
    message = (
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting"
    )
    return google_error(500, "INTERNAL", message)


def overloaded() -> GoogleError:
    """503 UNAVAILABLE: the model is overloaded."""
    return google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def invalid_argument(message: str, field: str | None = None) -> GoogleError:
    """400 INVALID_ARGUMENT for a bad request, with a BadRequest field violation when a field is named."""
    details = None
    if field is not None:
        violation = {"field": field, "description": message}
        details = [{"@type": _TYPE_PREFIX + "BadRequest", "fieldViolations": [violation]}]
    return google_error(400, "INVALID_ARGUMENT", message, details)


def invalid_json(reason: str) -> GoogleError:
    """400 INVALID_ARGUMENT for a body that is not the JSON object the method expects."""
    message = f"Invalid JSON payload received. {reason}"
    violation = {"description": message}
    details = [{"@type": _TYPE_PREFIX + "BadRequest", "fieldViolations": [violation]}]
    return google_error(400, "INVALID_ARGUMENT", message, details)


def model_not_found(resource: str, api_version: str, api_method: str) -> GoogleError:
    """404 NOT_FOUND for a model the server does not have (or that does not support the method)."""
    message = (
        f"{resource} is not found for API version {api_version}, or is not supported for {api_method}. "
        "Call ListModels to see the list of available models and their supported methods."
    )
    return google_error(404, "NOT_FOUND", message)


def path_not_found() -> GoogleError:
    """404 NOT_FOUND for a URL no method lives at."""
    return google_error(404, "NOT_FOUND", "Method not found.")


def missing_thought_signature(function_name: str, position: int) -> GoogleError:
    """400 from Gemini 3 when a model turn's first functionCall comes back without its signature."""
    message = (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools "
        "to work correctly, and missing thought_signature may lead to degraded model performance. "
        f"Additional data, function call `default_api:{function_name}` , position {position}. "
        "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )
    return google_error(400, "INVALID_ARGUMENT", message)
