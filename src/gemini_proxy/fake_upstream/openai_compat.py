"""Google's OpenAI-compatible layer (``/v1beta/openai/...``), in a deliberately simple form.

Chat completions echo the last user message (``"Echo: <text>"``), streamed as OpenAI
chunks ending with ``data: [DONE]``; models list ids as ``models/<name>`` as Google's
layer does; embeddings reuse the native deterministic vectors. Errors keep Google's
``{"error": {...}}`` body, as the real layer mostly does (protocol.md D.12).
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.fake_upstream import catalog
from gemini_proxy.fake_upstream.answer import new_response_id
from gemini_proxy.fake_upstream.call import FakeCall, json_response
from gemini_proxy.fake_upstream.embeddings import default_dimensions, embedding_vector
from gemini_proxy.fake_upstream.google_errors import GoogleError, invalid_argument, model_not_found
from gemini_proxy.fake_upstream.request_fields import words
from gemini_proxy.fake_upstream.responses import split_text
from gemini_proxy.fake_upstream.routing import ApiMethod
from gemini_proxy.fake_upstream.streaming import pacing_for, send_sse_events

_DONE = b"data: [DONE]\n\n"


def model_from_body(payload: dict[str, Any] | GoogleError) -> str:
    """The bare model id of an OpenAI body (``models/`` prefix removed), or ``""``."""
    if isinstance(payload, GoogleError):
        return ""
    model = payload.get("model")
    return model.removeprefix("models/") if isinstance(model, str) else ""


def _message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _served(call: FakeCall, api_method: str) -> GoogleError | None:
    if call.model not in call.state.config.models or not catalog.supports(call.model, api_method):
        return model_not_found(f"models/{call.model}", "v1beta", api_method)
    return None


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def chat_completions(call: FakeCall) -> web.StreamResponse:
    """``POST /v1beta/openai/chat/completions``, streamed or not."""
    body = call.payload
    if isinstance(body, GoogleError):
        return call.fail(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return call.fail(invalid_argument("messages must be a non-empty list.", field="messages"))
    problem = _served(call, "generateContent")
    if problem is not None:
        return call.fail(problem)
    user_texts = [_message_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = f"Echo: {user_texts[-1] if user_texts else ''}"
    prompt_tokens = sum(words(_message_text(m)) for m in messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": words(text),
        "total_tokens": prompt_tokens + words(text),
    }
    head = {"id": f"chatcmpl-{new_response_id()}", "created": int(time.time()), "model": call.model}
    if body.get("stream") is not True:
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return json_response({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
    pacing = pacing_for(call.request.headers, call.state.config)
    if isinstance(pacing, GoogleError):
        return call.fail(pacing)
    chunk_head = {**head, "object": "chat.completion.chunk"}
    events = []
    for position, piece in enumerate(split_text(text, pacing.chunks)):
        delta = {"role": "assistant", "content": piece} if position == 0 else {"content": piece}
        events.append(_sse({**chunk_head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
    events.append(_sse({**chunk_head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        events.append(_sse({**chunk_head, "choices": [], "usage": usage}))
    events.append(_DONE)
    with call.state.stream_open():
        return await send_sse_events(call.request, events, pacing.chunk_delay_s)


def _openai_model(model: str) -> dict[str, Any]:
    return {"id": f"models/{model}", "object": "model", "created": 0, "owned_by": "google"}


async def list_models(call: FakeCall) -> web.StreamResponse:
    """``GET /v1beta/openai/models``."""
    return json_response({"object": "list", "data": [_openai_model(m) for m in call.state.config.models]})


async def get_model(call: FakeCall) -> web.StreamResponse:
    """``GET /v1beta/openai/models/{id}`` (with or without the ``models/`` prefix)."""
    if call.model not in call.state.config.models:
        return call.fail(model_not_found(f"models/{call.model}", "v1beta", "get"))
    return json_response(_openai_model(call.model))


def _inputs(raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return raw
    return None


async def embeddings(call: FakeCall) -> web.StreamResponse:
    """``POST /v1beta/openai/embeddings``: floats, or base64 float32 when ``encoding_format`` asks."""
    body = call.payload
    if isinstance(body, GoogleError):
        return call.fail(body)
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return call.fail(invalid_argument("input must be a string or a non-empty list of strings.", "input"))
    problem = _served(call, "embedContent")
    if problem is not None:
        return call.fail(problem)
    dimensions = body.get("dimensions") or default_dimensions(call.model)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= default_dimensions(call.model):
        return call.fail(invalid_argument(f"dimensions out of range: {dimensions!r}", "dimensions"))
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        vector = embedding_vector(text, dimensions)
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(words(text) for text in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return json_response({"object": "list", "data": data, "model": call.model, "usage": usage})


OPENAI_HANDLERS: dict[ApiMethod, Callable[[FakeCall], Awaitable[web.StreamResponse]]] = {
    ApiMethod.OPENAI_CHAT_COMPLETIONS: chat_completions,
    ApiMethod.OPENAI_LIST_MODELS: list_models,
    ApiMethod.OPENAI_GET_MODEL: get_model,
    ApiMethod.OPENAI_EMBEDDINGS: embeddings,
}
