"""``POST /v1/embeddings`` (and ``/embeddings``) on Gemini's ``batchEmbedContents``.

Inputs go upstream in batches of at most 100 (``translate.embeddings_to_gemini``);
several batches run a few at a time, each through the dispatcher (so each may use a
different key), and are reassembled in input order. The first failing batch decides
the answer and the others are cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.routes.common import json_response
from gemini_proxy.routes.openai_common import (
    JSON_HEADERS,
    begin_openai_request,
    call_unary,
    current_translate_options,
    read_json_object,
    record_user,
    reply_json,
    upstream_failure,
)
from gemini_proxy.services import Services
from gemini_proxy.translate import EmbeddingCall, embeddings_to_gemini, gemini_to_embeddings
from gemini_proxy.upstream.client import UpstreamRequest
from gemini_proxy.upstream.trace import CallTrace

CONCURRENT_BATCHES = 4


async def handle_embeddings(request: web.Request) -> web.StreamResponse:
    """Embeddings for a string or a list of strings, as floats or base64."""
    services, trace = begin_openai_request(request)
    body = await read_json_object(request, services)
    record_user(trace, body)
    call = embeddings_to_gemini(body, current_translate_options(services))
    trace.model = call.model
    responses = await _embed_batches(services, trace, call)
    return json_response(gemini_to_embeddings(responses, call))


async def _embed_batches(services: Services, trace: CallTrace, call: EmbeddingCall) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(CONCURRENT_BATCHES)

    async def embed(batch: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            upstream = UpstreamRequest(
                "POST", call.upstream_path, "", dict(JSON_HEADERS), orjson.dumps(batch)
            )
            reply = await call_unary(services, upstream, call.model, trace)
            if not 200 <= reply.status < 300:
                raise upstream_failure(reply)
            return reply_json(reply)

    if len(call.batches) == 1:
        return [await embed(call.batches[0])]
    tasks = [asyncio.ensure_future(embed(batch)) for batch in call.batches]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # their leases are back before we answer
        raise
