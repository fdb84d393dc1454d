"""``GET /v1/models`` and ``GET /v1/models/{id}``, for OpenAI clients and Gemini clients alike.

Both APIs use these paths (protocol.md E.4): a request carrying ``x-goog-api-key`` or
``?key=`` comes from a Gemini client and gets Gemini's format (the native handler);
anything else (``Authorization: Bearer``) gets OpenAI's. The OpenAI list is the
upstream's model list, fetched through the dispatcher and kept for
``openai.models_cache_s``, followed by the configured aliases; an alias is answered
under its own name with its target's details.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from gemini_proxy.errors import InvalidRequest, NotFound
from gemini_proxy.routes import gemini
from gemini_proxy.routes.common import json_response
from gemini_proxy.routes.openai_common import begin_openai_request, call_unary, reply_json, upstream_failure
from gemini_proxy.services import Services
from gemini_proxy.translate import gemini_model_to_openai, gemini_models_to_openai, resolve_model
from gemini_proxy.translate.model_names import strip_model_prefixes
from gemini_proxy.upstream.client import UpstreamRequest
from gemini_proxy.upstream.trace import CallTrace

PAGE_SIZE = 1000
MAX_PAGES = 20
_ACCEPT_JSON = {"Accept": "application/json"}


def is_gemini_client(request: web.Request) -> bool:
    """Whether the caller authenticates the way Gemini clients do (E.4)."""
    return "x-goog-api-key" in request.headers or "key" in request.query


async def handle_models_list(request: web.Request) -> web.StreamResponse:
    """The model list: OpenAI's ``{"object": "list", "data": [...]}`` or Gemini's ``{"models": [...]}``."""
    if is_gemini_client(request):
        return await gemini.handle_models(request)
    services, trace = begin_openai_request(request)
    models = await _cached_models(services, trace)
    return json_response(gemini_models_to_openai(models, services.settings.models.aliases))


async def handle_model_get(request: web.Request) -> web.StreamResponse:
    """One model by id or alias; 404 ``model_not_found`` when the upstream does not know it."""
    if is_gemini_client(request):
        return await gemini.handle_models(request)
    services, trace = begin_openai_request(request)
    requested = request.match_info["model"]
    settings = services.settings.models
    try:
        target = resolve_model(requested, default_model=settings.default, aliases=settings.aliases)
    except InvalidRequest:
        raise _not_found(requested) from None
    trace.model = target
    model = _find(await _cached_models(services, trace), target)
    if model is None:
        model = await _upstream_model(services, trace, target)
    if model is None:
        raise _not_found(requested)
    return json_response(gemini_model_to_openai(model, model_id=_alias_name(requested, settings.aliases)))


def _not_found(requested: str) -> NotFound:
    return NotFound(f"The model '{requested}' does not exist.", code="model_not_found", param="model")


def _alias_name(requested: str, aliases: dict[str, str]) -> str | None:
    """The alias as the client wrote it, if ``requested`` is one (answered under that name)."""
    if requested in aliases:
        return requested
    stripped = strip_model_prefixes(requested)
    return stripped if stripped in aliases else None


def _find(models: list[dict[str, Any]], target: str) -> dict[str, Any] | None:
    for model in models:
        name = model.get("name")
        if isinstance(name, str) and strip_model_prefixes(name) == target:
            return model
    return None


async def _cached_models(services: Services, trace: CallTrace) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        return await _upstream_models(services, trace)

    return await services.models_cache.get(load, ttl_s=services.settings.openai.models_cache_s)


async def _upstream_models(services: Services, trace: CallTrace) -> list[dict[str, Any]]:
    """Every page of the upstream's ``GET /v1beta/models``."""
    models: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        query = f"pageSize={PAGE_SIZE}" + (f"&pageToken={quote(token, safe='')}" if token else "")
        upstream = UpstreamRequest("GET", "/v1beta/models", query, dict(_ACCEPT_JSON))
        reply = await call_unary(services, upstream, "", trace)
        if not 200 <= reply.status < 300:
            raise upstream_failure(reply)
        page = reply_json(reply)
        listed = page.get("models")
        if isinstance(listed, list):
            models.extend(model for model in listed if isinstance(model, dict))
        next_token = page.get("nextPageToken")
        if not isinstance(next_token, str) or not next_token:
            break
        token = next_token
    return models


async def _upstream_model(services: Services, trace: CallTrace, target: str) -> dict[str, Any] | None:
    """``GET /v1beta/models/{target}`` for a model the list does not show; ``None`` on 404."""
    upstream = UpstreamRequest("GET", f"/v1beta/models/{target}", "", dict(_ACCEPT_JSON))
    reply = await call_unary(services, upstream, "", trace)
    if reply.status == 404:
        return None
    if not 200 <= reply.status < 300:
        raise upstream_failure(reply)
    return reply_json(reply)
