"""What the OpenAI-compatible routes share: client auth, JSON bodies, unary upstream calls,
upstream errors in OpenAI's shape, and the translation settings of the moment.

Errors are raised as ``ProxyError``s; the access middleware writes them in OpenAI's
format because every OpenAI route sets ``trace.surface = "openai"`` first.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.auth import find_client_credential
from gemini_proxy.config import Settings
from gemini_proxy.errors import InvalidRequest, ProxyError, UpstreamError
from gemini_proxy.routes.common import TRACE, read_body
from gemini_proxy.services import SERVICES, Services
from gemini_proxy.translate import TranslateOptions, gemini_error_to_openai
from gemini_proxy.upstream.client import UpstreamRequest
from gemini_proxy.upstream.dispatch import StreamRelay, UpstreamReply
from gemini_proxy.upstream.trace import CallTrace

JSON_HEADERS = {"Content-Type": "application/json"}
MAX_LOGGED_USER_CHARS = 128


def begin_openai_request(request: web.Request) -> tuple[Services, CallTrace]:
    """Mark the request as OpenAI's (errors in OpenAI's format) and authenticate its client."""
    trace = request[TRACE]
    trace.surface = "openai"
    services = request.app[SERVICES]
    trace.token_name = services.client_auth.authenticate(find_client_credential(request))
    return services, trace


async def read_json_object(request: web.Request, services: Services) -> dict[str, Any]:
    """The request body parsed as a JSON object; 400 naming the problem otherwise."""
    raw = await read_body(request, services)
    if not raw.strip():
        raise InvalidRequest("The request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The request body must be a JSON object, not a JSON "
            f"{'array' if isinstance(body, list) else type(body).__name__}.",
            code="invalid_type",
        )
    return body


def record_user(trace: CallTrace, body: dict[str, Any]) -> None:
    """Keep the client's ``user`` (its end user's id) for the access log; it never goes upstream."""
    user = body.get("user")
    if isinstance(user, str) and user:
        trace.user = user[:MAX_LOGGED_USER_CHARS]


def translate_options_for(settings: Settings) -> TranslateOptions:
    """The translation settings ``settings`` asks for."""
    return TranslateOptions(
        default_model=settings.models.default,
        aliases=MappingProxyType(dict(settings.models.aliases)),
        include_thoughts_default=settings.openai.include_thoughts,
    )


def current_translate_options(services: Services) -> TranslateOptions:
    """``services.translate_options``, rebuilt first if a configuration reload changed its inputs."""
    options = services.translate_options
    settings = services.settings
    if (
        options.default_model != settings.models.default
        or options.include_thoughts_default != settings.openai.include_thoughts
        or options.aliases != settings.models.aliases
    ):
        options = services.translate_options = translate_options_for(settings)
    return options


async def call_unary(
    services: Services, upstream: UpstreamRequest, model: str, trace: CallTrace
) -> UpstreamReply:
    """A non-streamed upstream call through the dispatcher (failover included)."""
    reply = await services.dispatcher.call(upstream, model, trace)
    if isinstance(reply, StreamRelay):  # only asked-for streams come back as relays
        error = UpstreamError("the upstream answered a unary call with a stream")
        reply.finish(error)
        raise error
    return reply


def upstream_failure(reply: UpstreamReply) -> ProxyError:
    """An upstream error reply as the OpenAI error the client gets (protocol.md D.13)."""
    status, body = gemini_error_to_openai(reply.status, reply.body)
    error = body["error"]
    return ProxyError(str(error["message"]), status=status, code=error.get("code"), param=error.get("param"))


def reply_json(reply: UpstreamReply) -> dict[str, Any]:
    """A successful reply's JSON object; a 502 if the upstream sent something else."""
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("the upstream sent a response that is not JSON") from None
    if not isinstance(body, dict):
        raise UpstreamError("the upstream sent a response that is not a JSON object")
    return body
