"""Per-request middleware: request id, the call trace, errors in the client's format, and
one access log event per request."""

from __future__ import annotations

import itertools
import os
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from gemini_proxy.errors import NotFound, PayloadTooLarge, ProxyError
from gemini_proxy.observability.logging import CURRENT_REQUEST_ID
from gemini_proxy.routes.admin_json import admin_error_body
from gemini_proxy.routes.common import TRACE, error_response, json_response
from gemini_proxy.services import SERVICES
from gemini_proxy.upstream.trace import CallTrace

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Request ids: a random per-process prefix and a counter: unique, and cheaper than uuid4.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
_OPENAI_PATHS = ("/v1/chat/", "/v1/embeddings", "/chat/", "/embeddings", "/v1beta/openai/")
_GEMINI_PATHS = ("/v1beta/", "/v1/")


def _surface_for_path(path: str) -> str:
    if path.startswith(_OPENAI_PATHS):
        return "openai"
    if path.startswith(_GEMINI_PATHS):
        return "gemini"
    if path.startswith("/admin"):
        return "admin"
    return "ops"


def _http_exception_to_error(exc: web.HTTPException) -> ProxyError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("unknown path")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body is over the configured limit")
    allow = exc.headers.get("Allow")  # a 405 says which methods the path takes
    return ProxyError(
        exc.reason or "request failed", status=exc.status, headers={"Allow": allow} if allow else None
    )


def _error_response(surface: str, error: ProxyError) -> web.Response:
    """``error`` in the admin API's format on ``/admin``, else in the client API's."""
    if surface == "admin":
        return json_response(admin_error_body(error), status=error.status, headers=error.headers)
    return error_response(surface, error)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind the request id, turn errors into API-shaped responses, log one access event.

    Every response carries ``X-Request-ID``: set here on the responses handlers return,
    and by the stream relays on the streams they prepare themselves.
    """
    incoming = request.headers.get("X-Request-ID")
    request_id = (
        incoming if incoming and _VALID_REQUEST_ID.match(incoming) else f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"
    )
    trace = CallTrace(surface=_surface_for_path(request.path), request_id=request_id)
    request[TRACE] = trace
    services = request.app.get(SERVICES)  # None only before the lifespan built them
    started = time.perf_counter()
    status = 500
    error_code: str | None = None
    token = CURRENT_REQUEST_ID.set(request_id)
    try:
        try:
            response = await handler(request)
        except ProxyError as exc:
            response = _error_response(trace.surface, exc)
            error_code = exc.code
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect or the like: aiohttp answers it as it is
                status = exc.status
                exc.headers["X-Request-ID"] = request_id
                raise
            error = _http_exception_to_error(exc)
            response = _error_response(trace.surface, error)
            error_code = error.code
        status = response.status
        if not response.prepared:
            response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException:
        raise
    except Exception as exc:
        if services is not None:
            services.log.error("request_failed", error=exc, path=request.path)
        response = _error_response(trace.surface, ProxyError("internal error"))
        response.headers["X-Request-ID"] = request_id
        status = 500
        return response
    finally:
        CURRENT_REQUEST_ID.reset(token)
        if services is not None:
            duration_s = time.perf_counter() - started
            if services.metrics is not None:
                services.metrics.request(trace.surface, trace.model, status, duration_s)
            if services.access_log.enabled:
                services.access_log.write(
                    request_id, _access_fields(request, trace, status, error_code, duration_s)
                )


def _access_fields(
    request: web.Request, trace: CallTrace, status: int, error_code: str | None, duration_s: float
) -> dict[str, object]:
    fields: dict[str, object] = {
        "method": request.method,
        "route": request.path,
        "surface": trace.surface,
        "status": status,
        "duration_ms": int(duration_s * 1_000_000) / 1000,  # to the microsecond
        "attempts": len(trace.keys_tried),
    }
    if trace.model is not None:
        fields["model"] = trace.model
    if trace.keys_tried:
        fields["keys_tried"] = trace.keys_tried
        fields["upstream_status"] = trace.upstream_status
        fields["outcome"] = trace.outcome
    if trace.stream:
        fields["stream"] = True
    usage = trace.usage
    if usage is not None:
        fields["prompt_tokens"] = usage.prompt
        fields["completion_tokens"] = usage.candidates
        fields["thought_tokens"] = usage.thoughts
    if trace.token_name is not None:
        fields["client"] = trace.token_name
    if trace.user is not None:
        fields["user"] = trace.user
    if error_code is not None:
        fields["error"] = error_code
    return fields
