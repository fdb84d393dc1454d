"""Gemini-native passthrough: ``/v1beta/...`` and ``/v1/...`` model methods and models,
plus Google's own OpenAI-compatible paths under ``/v1beta/openai/``.

The request body goes upstream byte for byte; the client's credential is replaced by a
pool key sent as ``x-goog-api-key`` (Bearer for the OpenAI-compatible paths); query
parameters other than ``key`` are kept. Streams are relayed chunk by chunk.
"""

from __future__ import annotations

import re

import orjson
from aiohttp import web

from gemini_proxy.auth import find_client_credential
from gemini_proxy.errors import InvalidRequest, NotFound, ProxyError
from gemini_proxy.routes.common import TRACE, read_body, relay_stream
from gemini_proxy.services import SERVICES, Services
from gemini_proxy.upstream.client import FORWARDED_REQUEST_HEADERS, UpstreamRequest
from gemini_proxy.upstream.dispatch import StreamRelay, UpstreamReply, forwarded_headers
from gemini_proxy.upstream.trace import CallTrace

MODEL_METHODS = frozenset(
    {"generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"}
)
_MODEL_METHOD = re.compile(r"^/(v1|v1beta)/((?:models|tunedModels)/[^:/]+)(?::|%3[Aa])([A-Za-z]+)$")
_MODELS = re.compile(r"^/(v1|v1beta)/models(?:/([^:/]+))?/?$")
_OPENAI_COMPAT = re.compile(r"^/v1beta/openai/[A-Za-z0-9_\-/.]+$")


def strip_key_param(raw_query: str) -> str:
    """The raw query string without any ``key=`` parameter."""
    if "key=" not in raw_query:
        return raw_query
    return "&".join(p for p in raw_query.split("&") if p and not p.startswith("key="))


def pool_model(resource: str) -> str:
    """The model name cooldowns are kept under: ``models/x`` -> ``x``; tuned models keep their prefix."""
    return resource.removeprefix("models/")


async def _forward(
    request: web.Request, services: Services, trace: CallTrace, upstream: UpstreamRequest, model: str
) -> web.StreamResponse:
    trace.model = model
    trace.stream = upstream.stream
    reply = await services.dispatcher.call(upstream, model, trace)
    if isinstance(reply, StreamRelay):
        return await relay_stream(request, reply)
    return _unary_response(services, reply)


def _unary_response(services: Services, reply: UpstreamReply) -> web.Response:
    """A complete upstream answer as it came (error bodies redacted: they may echo a key)."""
    body = reply.body
    if reply.status >= 400:
        body = services.redactor.redact(body.decode("utf-8", "replace")).encode()
    return web.Response(status=reply.status, body=body, content_type=_mime(reply.content_type))


_MIMES: dict[str, str] = {}  # upstream Content-Type -> its media type (a handful of values)


def _mime(content_type: str) -> str:
    mime = _MIMES.get(content_type)
    if mime is None:
        mime = content_type.split(";", 1)[0].strip() or "application/json"
        if len(_MIMES) < 64:
            _MIMES[content_type] = mime
    return mime


def _begin(request: web.Request) -> tuple[Services, CallTrace]:
    """Authenticate the client. (The access middleware named the surface from the path:
    ``gemini``, or ``openai`` under ``/v1beta/openai/``, so errors take that format.)"""
    services = request.app[SERVICES]
    trace = request[TRACE]
    trace.token_name = services.client_auth.authenticate(find_client_credential(request))
    return services, trace


async def handle_native(request: web.Request) -> web.StreamResponse:
    """Every ``/v1`` and ``/v1beta`` path that is not an OpenAI route."""
    raw_path = request.rel_url.raw_path
    match = _MODEL_METHOD.match(raw_path)
    if match is not None:
        version, resource, method = match.groups()
        if method not in MODEL_METHODS:
            raise NotFound(f"method {method!r} is not supported by this proxy")
        if request.method != "POST":
            raise ProxyError(f"{method} takes POST", status=405, code="method_not_allowed")
        services, trace = _begin(request)
        body = await read_body(request, services)
        stream = method == "streamGenerateContent"
        upstream = UpstreamRequest(
            "POST",
            f"/{version}/{resource}:{method}",
            strip_key_param(request.rel_url.raw_query_string),
            forwarded_headers(request.headers, FORWARDED_REQUEST_HEADERS),
            body,
            stream=stream,
        )
        # ``_forward``, inlined on the busiest route: one coroutine less per request
        model = trace.model = pool_model(resource)
        trace.stream = stream
        reply = await services.dispatcher.call(upstream, model, trace)
        if isinstance(reply, StreamRelay):
            return await relay_stream(request, reply)
        return _unary_response(services, reply)
    match = _MODELS.match(raw_path)
    if match is not None:
        return await handle_models(request)
    if _OPENAI_COMPAT.match(raw_path):
        return await handle_openai_compat(request)
    raise NotFound(f"unknown path {request.path}")


async def handle_models(request: web.Request) -> web.StreamResponse:
    """``GET /v1beta/models`` and ``GET /v1beta/models/{model}`` in Gemini's format."""
    request[TRACE].surface = "gemini"  # also reached from the OpenAI paths, for Gemini clients
    if request.method != "GET":
        raise ProxyError("models takes GET", status=405, code="method_not_allowed")
    services, trace = _begin(request)
    upstream = UpstreamRequest(
        "GET",
        request.rel_url.raw_path,
        strip_key_param(request.rel_url.raw_query_string),
        forwarded_headers(request.headers, ("Accept", "User-Agent", "x-goog-api-client")),
    )
    return await _forward(request, services, trace, upstream, "")


async def handle_openai_compat(request: web.Request) -> web.StreamResponse:
    """Google's OpenAI-compatible endpoint, passed through as it is (Bearer key upstream)."""
    services, trace = _begin(request)
    body = await read_body(request, services) if request.method in ("POST", "PUT", "PATCH") else None
    model, stream = "", False
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidRequest("the request body is not valid JSON") from None
        if isinstance(parsed, dict):
            model = str(parsed.get("model") or "").removeprefix("models/")
            stream = parsed.get("stream") is True
    upstream = UpstreamRequest(
        request.method,
        request.rel_url.raw_path,
        strip_key_param(request.rel_url.raw_query_string),
        forwarded_headers(request.headers, FORWARDED_REQUEST_HEADERS),
        body,
        stream=stream,
        bearer_auth=True,
    )
    return await _forward(request, services, trace, upstream, model)
