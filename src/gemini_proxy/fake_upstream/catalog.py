"""The models the fake serves, as Gemini ``Model`` objects (protocol.md A.10), and list paging.

Known model names get their published limits; any other configured name gets plausible
defaults (an embedding model when its name says so). Which methods a model supports
decides whether a call is served or answered with 404, as the real API does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from gemini_proxy.fake_upstream.google_errors import GoogleError, invalid_argument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

GENERATION_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
EMBEDDING_METHODS = ("embedContent", "batchEmbedContents", "countTokens")
# streamGenerateContent is served by every generation model but never listed by Google.
_ALSO_SERVED = {"generateContent": ("streamGenerateContent",)}

_KNOWN_MODELS: dict[str, dict[str, Any]] = {
    "gemini-2.5-flash": {"displayName": "Gemini 2.5 Flash", "outputTokenLimit": 65536, "topK": 64},
    "gemini-2.5-pro": {"displayName": "Gemini 2.5 Pro", "outputTokenLimit": 65536, "topK": 64},
    "gemini-2.5-flash-lite": {"displayName": "Gemini 2.5 Flash-Lite", "outputTokenLimit": 65536, "topK": 64},
    "gemini-2.0-flash": {"displayName": "Gemini 2.0 Flash", "outputTokenLimit": 8192, "topK": 40},
    "gemini-3-flash-preview": {
        "displayName": "Gemini 3 Flash Preview",
        "outputTokenLimit": 65536,
        "topK": 64,
    },
    "gemini-3-pro-preview": {"displayName": "Gemini 3 Pro Preview", "outputTokenLimit": 65536, "topK": 64},
    "gemini-embedding-001": {"displayName": "Gemini Embedding 001", "inputTokenLimit": 2048},
    "text-embedding-004": {"displayName": "Text Embedding 004", "inputTokenLimit": 2048},
}


def is_embedding_model(model: str) -> bool:
    """Embedding models embed; they do not generate."""
    return "embedding" in model


def supported_methods(model: str) -> tuple[str, ...]:
    """``supportedGenerationMethods`` as listed for ``model``."""
    return EMBEDDING_METHODS if is_embedding_model(model) else GENERATION_METHODS


def supports(model: str, api_method: str) -> bool:
    """Whether ``model`` serves ``api_method`` (streaming goes with generateContent)."""
    for listed in supported_methods(model):
        if api_method == listed or api_method in _ALSO_SERVED.get(listed, ()):
            return True
    return False


def model_object(model: str) -> dict[str, Any]:
    """The ``Model`` resource for ``model``."""
    known = _KNOWN_MODELS.get(model, {})
    display = known.get("displayName") or model.replace("-", " ").title()
    resource: dict[str, Any] = {
        "name": f"models/{model}",
        "version": "001",
        "displayName": display,
        "description": f"{display} (served by the gemini-proxy fake upstream).",
        "inputTokenLimit": known.get("inputTokenLimit", 1048576),
        "outputTokenLimit": known.get("outputTokenLimit", 1 if is_embedding_model(model) else 65536),
        "supportedGenerationMethods": list(supported_methods(model)),
    }
    if not is_embedding_model(model):
        resource.update(temperature=1.0, maxTemperature=2.0, topP=0.95, topK=known.get("topK", 64))
        if model.startswith(("gemini-2.5", "gemini-3")):
            resource["thinking"] = True
    return resource


def _page_start(page_token: str | None) -> int | GoogleError:
    if not page_token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(page_token.encode()).decode().removeprefix("offset:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return invalid_argument("Invalid page token.", field="page_token")


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def list_models(
    models: Sequence[str], page_size: str | None, page_token: str | None
) -> dict[str, Any] | GoogleError:
    """One page of ``models.list``; ``nextPageToken`` is present while more models remain."""
    size = DEFAULT_PAGE_SIZE
    if page_size:
        try:
            size = int(page_size)
        except ValueError:
            return invalid_argument(f"Invalid value for page_size: {page_size!r}", field="page_size")
        if size < 0:
            return invalid_argument("page_size must not be negative.", field="page_size")
        size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    start = _page_start(page_token)
    if isinstance(start, GoogleError):
        return start
    end = start + size
    body: dict[str, Any] = {"models": [model_object(m) for m in models[start:end]]}
    if end < len(models):
        body["nextPageToken"] = _page_token(end)
    return body
