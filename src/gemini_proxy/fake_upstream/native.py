"""The native Gemini methods: generate (unary and streamed), countTokens, embeddings, models.

Each handler runs after authentication and the rule's fault have been dealt with, and
checks what the real API checks in the same order: the JSON body, the model and whether
it serves the method, then the request's fields.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gemini_proxy.fake_upstream import catalog, embeddings
from gemini_proxy.fake_upstream.answer import new_response_id, plan_answer
from gemini_proxy.fake_upstream.call import FakeCall, json_response
from gemini_proxy.fake_upstream.google_errors import GoogleError, model_not_found
from gemini_proxy.fake_upstream.request_fields import content_tokens, field, mapping, read_generate_request
from gemini_proxy.fake_upstream.responses import generate_response, stream_chunks
from gemini_proxy.fake_upstream.routing import ApiMethod
from gemini_proxy.fake_upstream.streaming import pacing_for, send_generate_stream
from gemini_proxy.fake_upstream.validation import (
    check_candidate_count,
    check_contents,
    check_thought_signatures,
    requires_thought_signatures,
)


def _model_problem(call: FakeCall) -> GoogleError | None:
    model, method = call.model, call.route.api_method
    if model not in call.state.config.models or not catalog.supports(model, method):
        return model_not_found(call.route.resource, call.route.version, method.value)
    return None


def _generate_problem(call: FakeCall, body: dict[str, Any]) -> GoogleError | None:
    problem = check_contents(body.get("contents"))
    problem = problem or check_candidate_count(mapping(field(body, "generationConfig")))
    if problem is None and requires_thought_signatures(call.model):
        problem = check_thought_signatures(body["contents"])
    return problem


def _checked_body(call: FakeCall) -> dict[str, Any] | GoogleError:
    if isinstance(call.payload, GoogleError):
        return call.payload
    return _model_problem(call) or call.payload


def _generate_body(call: FakeCall) -> dict[str, Any] | GoogleError:
    body = _checked_body(call)
    if isinstance(body, GoogleError):
        return body
    return _generate_problem(call, body) or body


async def generate_content(call: FakeCall) -> web.StreamResponse:
    """``:generateContent``: one GenerateContentResponse."""
    body = _generate_body(call)
    if isinstance(body, GoogleError):
        return call.fail(body)
    answer = plan_answer(read_generate_request(body), call.model, new_response_id())
    return json_response(generate_response(answer))


async def stream_generate_content(call: FakeCall) -> web.StreamResponse:
    """``:streamGenerateContent``: SSE with ``alt=sse``, else the progressive JSON array."""
    body = _generate_body(call)
    if isinstance(body, GoogleError):
        return call.fail(body)
    pacing = pacing_for(call.request.headers, call.state.config)
    if isinstance(pacing, GoogleError):
        return call.fail(pacing)
    answer = plan_answer(read_generate_request(body), call.model, new_response_id())
    sse = not call.is_array_stream
    with call.state.stream_open():
        # The chunks are passed, not kept here: send_generate_stream renders them and lets them go.
        return await send_generate_stream(
            call.request, stream_chunks(answer, pacing.chunks), sse=sse, pacing=pacing, fault=call.fault.kind
        )


async def count_tokens(call: FakeCall) -> web.StreamResponse:
    """``:countTokens`` with ``contents`` or a whole ``generateContentRequest``."""
    body = _checked_body(call)
    if isinstance(body, GoogleError):
        return call.fail(body)
    inner = mapping(field(body, "generateContentRequest"))
    source = inner if inner else body
    problem = check_contents(source.get("contents"))
    if problem is not None:
        return call.fail(problem)
    total = sum(content_tokens(c) for c in source["contents"])
    total += content_tokens(field(source, "systemInstruction"))
    return json_response(
        {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}
    )


async def embed_content(call: FakeCall) -> web.StreamResponse:
    """``:embedContent``: one embedding."""
    body = _checked_body(call)
    result = body if isinstance(body, GoogleError) else embeddings.embed_content(body, call.model)
    return call.fail(result) if isinstance(result, GoogleError) else json_response(result)


async def batch_embed_contents(call: FakeCall) -> web.StreamResponse:
    """``:batchEmbedContents``: one embedding per inner request, in order."""
    body = _checked_body(call)
    result = body if isinstance(body, GoogleError) else embeddings.batch_embed_contents(body, call.model)
    return call.fail(result) if isinstance(result, GoogleError) else json_response(result)


async def list_models(call: FakeCall) -> web.StreamResponse:
    """``GET /{version}/models`` with ``pageSize``/``pageToken`` paging."""
    query = call.request.query
    result = catalog.list_models(call.state.config.models, query.get("pageSize"), query.get("pageToken"))
    return call.fail(result) if isinstance(result, GoogleError) else json_response(result)


async def get_model(call: FakeCall) -> web.StreamResponse:
    """``GET /{version}/models/{model}``."""
    if call.model not in call.state.config.models:
        return call.fail(model_not_found(call.route.resource, call.route.version, "get"))
    return json_response(catalog.model_object(call.model))


NATIVE_HANDLERS: dict[ApiMethod, Callable[[FakeCall], Awaitable[web.StreamResponse]]] = {
    ApiMethod.GENERATE_CONTENT: generate_content,
    ApiMethod.STREAM_GENERATE_CONTENT: stream_generate_content,
    ApiMethod.COUNT_TOKENS: count_tokens,
    ApiMethod.EMBED_CONTENT: embed_content,
    ApiMethod.BATCH_EMBED_CONTENTS: batch_embed_contents,
    ApiMethod.LIST_MODELS: list_models,
    ApiMethod.GET_MODEL: get_model,
}
