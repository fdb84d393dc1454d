"""What every route shares: typed app/request keys, body reading, stream relaying and
error responses in the format of the API the client called."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from gemini_proxy.errors import (
    PayloadTooLarge,
    ProxyError,
    UpstreamError,
    gemini_error_body,
    openai_error_body,
)
from gemini_proxy.services import SERVICES, Services
from gemini_proxy.upstream.dispatch import StreamRelay
from gemini_proxy.upstream.trace import CallTrace

TRACE = web.RequestKey("trace", CallTrace)


def json_response(data: object, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(
        status=status, body=orjson.dumps(data), content_type="application/json", headers=headers
    )


def error_response(surface: str, error: ProxyError) -> web.Response:
    """``error`` as the client's API expects it: OpenAI's or Gemini's error object."""
    if surface == "openai":
        body = openai_error_body(error.status, error.message, code=error.code, param=error.param)
    else:
        body = gemini_error_body(error.status, error.message)
    return json_response(body, status=error.status, headers=error.headers)


async def read_body(request: web.Request, services: Services) -> bytes:
    """The whole request body, refusing one over the configured limit with 413."""
    limit = services.settings.server.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body of {length} bytes is over the limit of {limit} bytes")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body is over the limit of {limit} bytes") from None


async def relay_stream(request: web.Request, relay: StreamRelay) -> web.StreamResponse:
    """Relay an upstream stream chunk by chunk; a break upstream cuts the client's stream."""
    services = request.app[SERVICES]
    response = web.StreamResponse(
        status=relay.status,
        headers={
            "Content-Type": relay.content_type,
            "Cache-Control": "no-cache",
            "X-Request-ID": request[TRACE].request_id,
        },
    )
    services.streams.opened()
    error: BaseException | None = None
    try:
        await response.prepare(request)
        chunk = relay.first_chunk
        while chunk:
            await response.write(chunk)
            chunk = await relay.next_chunk()
    except UpstreamError as exc:
        error = exc
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        error = exc
        raise
    finally:
        relay.finish(error)
        services.streams.closed()
    if error is not None:
        # The upstream broke mid-stream: end the client's connection without a clean end,
        # so the client sees an incomplete stream rather than a silently short one.
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
