"""``POST /v1/chat/completions`` (and ``/chat/completions``): OpenAI chat on Gemini's native API.

The request is translated (``translate.chat_to_gemini``), sent as ``generateContent``
or ``streamGenerateContent?alt=sse`` through the same dispatcher as the passthrough
(one retry loop, key failover until the first byte), and the answer translated back:
``gemini_to_chat`` for a whole response, ``relay_chat_stream`` for a stream, and
``gemini_error_to_openai`` for an upstream error. Remote image URLs are fetched only
when ``openai.fetch_remote_media`` allows it, and only from public addresses.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.routes.common import json_response
from gemini_proxy.routes.openai_common import (
    JSON_HEADERS,
    begin_openai_request,
    current_translate_options,
    read_json_object,
    record_user,
    reply_json,
    upstream_failure,
)
from gemini_proxy.routes.openai_stream import relay_chat_stream
from gemini_proxy.services import Services
from gemini_proxy.translate import FetchedMedia, chat_to_gemini, gemini_to_chat, remote_media_urls
from gemini_proxy.upstream.client import UpstreamRequest
from gemini_proxy.upstream.dispatch import StreamRelay
from gemini_proxy.upstream.media import MediaLimits


async def handle_chat_completions(request: web.Request) -> web.StreamResponse:
    """One chat completion, whole or streamed."""
    services, trace = begin_openai_request(request)
    body = await read_json_object(request, services)
    record_user(trace, body)
    fetched = await _remote_media(services, body)
    now = services.clock()
    call = chat_to_gemini(
        body, current_translate_options(services), services.signatures, now, fetched_media=fetched
    )
    trace.model = call.model
    trace.stream = call.stream
    path, _, query = call.upstream_path.partition("?")
    upstream = UpstreamRequest(
        "POST", path, query, dict(JSON_HEADERS), orjson.dumps(call.payload), stream=call.stream
    )
    reply = await services.dispatcher.call(upstream, call.model, trace)
    if isinstance(reply, StreamRelay):
        return await relay_chat_stream(request, services, reply, call)
    if not 200 <= reply.status < 300:
        raise upstream_failure(reply)
    completion = gemini_to_chat(
        reply_json(reply),
        call,
        created=int(now),
        new_id=services.new_id,
        signatures=services.signatures,
        now=services.clock(),
    )
    return json_response(completion)


async def _remote_media(services: Services, body: dict[str, Any]) -> dict[str, FetchedMedia] | None:
    """The remote images the request names, fetched; ``None`` when fetching is off.

    With fetching off, the translator answers a remote URL with a 400 that says so.
    """
    settings = services.settings.openai
    if not settings.fetch_remote_media:
        return None
    urls = remote_media_urls(body)
    if not urls:
        return None
    limits = MediaLimits(settings.remote_media_max_bytes, settings.remote_media_timeout_s)
    return await services.media_fetcher.fetch_all(urls, limits)
