"""Our exception tree and the two error body formats clients understand.

Everything above the upstream client raises or catches only these. A route turns a
``ProxyError`` into the error body of the API the client called: Gemini's
``{"error": {"code", "message", "status"}}`` or OpenAI's
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from typing import Any

# Google RPC status name for each HTTP status we emit on the Gemini surface.
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# OpenAI error ``type`` for each HTTP status (protocol.md C.4).
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ProxyError(Exception):
    """Base of every error the proxy answers a client with.

    ``code`` is the OpenAI-style machine code (``invalid_api_key``, ``model_not_found``...);
    ``param`` names the offending request field when there is one. ``headers`` are added
    to the response (``Retry-After`` and the like).
    """

    status: int = 500
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.param = param
        self.headers = dict(headers or {})


class InvalidRequest(ProxyError):
    """The client's request is malformed or names something impossible (400)."""

    status = 400
    code = "invalid_request"


class Unauthorized(ProxyError):
    """Missing or wrong client/admin token (401). Never says which part was wrong."""

    status = 401
    code = "invalid_api_key"


class NotFound(ProxyError):
    """Unknown path, model or key (404)."""

    status = 404
    code = "not_found"


class PayloadTooLarge(ProxyError):
    """Request body over the configured limit (413)."""

    status = 413
    code = "request_too_large"


class NoKeyAvailable(ProxyError):
    """No key of the pool can serve this model now (429), or every key is disabled (503)."""

    def __init__(self, model: str, *, retry_after_s: float | None, all_disabled: bool) -> None:
        self.model = model
        self.retry_after_s = retry_after_s
        self.all_disabled = all_disabled
        headers: dict[str, str] = {}
        if all_disabled:
            message = "no usable upstream keys: every key of the pool is disabled"
            status, code = 503, "no_usable_keys"
            # The OpenAI SDKs retry 503s by default; retrying cannot help here.
            headers["x-should-retry"] = "false"
        else:
            message = f"every upstream key is rate limited or unavailable for model {model!r}"
            status, code = 429, "rate_limit_exceeded"
            if retry_after_s is not None:
                headers["Retry-After"] = str(max(1, int(retry_after_s + 0.999)))
        super().__init__(message, status=status, code=code, headers=headers)


class UpstreamError(ProxyError):
    """The upstream could not give an answer (transport level)."""

    status = 502
    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    """Connection refused, reset or DNS failure (502)."""

    status = 502
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within the configured timeout (504)."""

    status = 504
    code = "upstream_timeout"


class UpstreamStreamBroken(UpstreamError):
    """A stream from the upstream ended before it was complete."""

    status = 502
    code = "upstream_stream_broken"


def google_status_name(status: int) -> str:
    """The google.rpc status name matching an HTTP status."""
    if status in _GOOGLE_STATUS:
        return _GOOGLE_STATUS[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def gemini_error_body(status: int, message: str, *, status_name: str | None = None) -> dict[str, Any]:
    """An error body in Gemini's format (protocol.md A.6)."""
    return {
        "error": {
            "code": status,
            "message": message,
            "status": status_name or google_status_name(status),
        }
    }


def openai_error_type(status: int) -> str:
    """The OpenAI error ``type`` for an HTTP status."""
    if status in _OPENAI_TYPE:
        return _OPENAI_TYPE[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error body in OpenAI's format (protocol.md C.4)."""
    return {
        "error": {
            "message": message,
            "type": openai_error_type(status),
            "param": param,
            "code": code,
        }
    }
