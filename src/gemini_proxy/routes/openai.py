"""The OpenAI-compatible API: chat completions, embeddings and models (protocol.md C).

Served under ``/v1`` and, for clients whose base URL is the server root, without it.
These routes must be registered before the native catch-all ``/v1/{tail}``, which
would otherwise take them.
"""

from __future__ import annotations

from aiohttp import web

from gemini_proxy.errors import ProxyError
from gemini_proxy.routes.common import TRACE
from gemini_proxy.routes.openai_chat import handle_chat_completions
from gemini_proxy.routes.openai_embeddings import handle_embeddings
from gemini_proxy.routes.openai_models import handle_model_get, handle_models_list

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
EMBEDDINGS_PATHS = ("/v1/embeddings", "/embeddings")
MODELS_PATHS = ("/v1/models", "/models")


async def method_not_allowed(request: web.Request) -> web.StreamResponse:
    """Any other method on an OpenAI POST path: 405 in OpenAI's format."""
    request[TRACE].surface = "openai"
    raise ProxyError(
        f"{request.path} takes POST", status=405, code="method_not_allowed", headers={"Allow": "POST"}
    )


def add_routes(app: web.Application) -> None:
    """Register the OpenAI routes (before the native catch-all)."""
    for path in CHAT_PATHS:
        app.router.add_post(path, handle_chat_completions)
        app.router.add_route("*", path, method_not_allowed)
    for path in EMBEDDINGS_PATHS:
        app.router.add_post(path, handle_embeddings)
        app.router.add_route("*", path, method_not_allowed)
    for path in MODELS_PATHS:
        app.router.add_get(path, handle_models_list, allow_head=False)
        # A model id never holds ':' or '/': `/v1/models/x:generateContent` stays native.
        app.router.add_get(path + "/{model:[^/:]+}", handle_model_get, allow_head=False)
