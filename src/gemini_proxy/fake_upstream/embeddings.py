"""Deterministic embeddings for ``embedContent``, ``batchEmbedContents`` and the OpenAI layer.

A text's vector is seeded by a hash of the text, so equal texts embed equally and
different texts differently. Vectors are unit length; a shorter ``outputDimensionality``
gives the renormalised prefix of the longer vector, as Matryoshka (MRL) embeddings do.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from gemini_proxy.fake_upstream.google_errors import GoogleError, invalid_argument
from gemini_proxy.fake_upstream.request_fields import field, mapping, sequence, text_of

MAX_BATCH_REQUESTS = 100
_FULL_DIMENSIONS = 3072
_SMALL_MODEL_DIMENSIONS = 768


def default_dimensions(model: str) -> int:
    """3072 for the gemini-embedding family, 768 for text-embedding-004 and older models."""
    return _FULL_DIMENSIONS if model.startswith("gemini-embedding") else _SMALL_MODEL_DIMENSIONS


@lru_cache(maxsize=1024)
def embedding_vector(text: str, dimensions: int) -> tuple[float, ...]:
    """A unit vector of ``dimensions`` values derived from ``text`` alone."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.random() - 0.5 for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return tuple(v / norm for v in raw)


def _dimensions(request: Mapping[str, Any], model: str, where: str) -> int | GoogleError:
    requested = field(request, "outputDimensionality")
    maximum = default_dimensions(model)
    if requested is None:
        return maximum
    if isinstance(requested, bool) or not isinstance(requested, int) or not 1 <= requested <= maximum:
        return invalid_argument(
            f"* {where}.output_dimensionality: must be between 1 and {maximum}, got {requested!r}\n",
            field=f"{where}.output_dimensionality",
        )
    return requested


def _embed_one(request: Mapping[str, Any], model: str, where: str) -> dict[str, Any] | GoogleError:
    content = request.get("content")
    if not isinstance(content, Mapping) or not sequence(content.get("parts")):
        return invalid_argument(f"* {where}.content: content is not specified\n", field=f"{where}.content")
    dimensions = _dimensions(request, model, where)
    if isinstance(dimensions, GoogleError):
        return dimensions
    return {"values": list(embedding_vector(text_of(content), dimensions))}


def embed_content(body: Mapping[str, Any], model: str) -> dict[str, Any] | GoogleError:
    """The ``embedContent`` response body, or the 400 for a bad request."""
    embedding = _embed_one(body, model, "EmbedContentRequest")
    if isinstance(embedding, GoogleError):
        return embedding
    return {"embedding": embedding}


def batch_embed_contents(body: Mapping[str, Any], model: str) -> dict[str, Any] | GoogleError:
    """The ``batchEmbedContents`` response: one embedding per request, in order (at most 100)."""
    requests = body.get("requests")
    where = "BatchEmbedContentsRequest.requests"
    if not isinstance(requests, list) or not requests:
        return invalid_argument(f"* {where}: requests is not specified\n", field="requests")
    if len(requests) > MAX_BATCH_REQUESTS:
        message = f"* {where}: at most {MAX_BATCH_REQUESTS} requests can be in one batch\n"
        return invalid_argument(message, field="requests")
    embeddings = []
    for index, request in enumerate(requests):
        inner = mapping(request)
        inner_model = inner.get("model")
        if inner_model != f"models/{model}":
            message = (
                f"* {where}[{index}].model: model '{inner_model}' does not match the batch request "
                f"model 'models/{model}'\n"
            )
            return invalid_argument(message, field=f"requests[{index}].model")
        embedding = _embed_one(inner, model, f"{where}[{index}]")
        if isinstance(embedding, GoogleError):
            return embedding
        embeddings.append(embedding)
    return {"embeddings": embeddings}
