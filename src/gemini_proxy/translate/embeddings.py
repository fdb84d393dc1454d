"""OpenAI ``/v1/embeddings`` <-> Gemini ``batchEmbedContents`` (protocol.md A.9, C.6, F#47).

Inputs are sent in batches of at most 100 (Gemini's limit) and reassembled in
order. ``encoding_format: "base64"`` (the openai SDK's default) returns each vector
as base64 of little-endian float32. Token-id inputs cannot be sent to Gemini (400).
Gemini reports no token usage for embeddings, so ``usage`` is an estimate.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gemini_proxy.errors import InvalidRequest, UpstreamError
from gemini_proxy.translate.fields import invalid_value, optional_int, optional_str, wrong_type
from gemini_proxy.translate.model_names import resolve_model
from gemini_proxy.translate.options import TranslateOptions

MAX_BATCH_SIZE = 100
ENCODING_FORMATS = ("float", "base64")
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    """A translated embeddings request: one ``batchEmbedContents`` body per batch, in order."""

    model: str
    requested_model: str
    encoding_format: str
    batches: list[dict[str, Any]]
    input_count: int
    estimated_tokens: int

    @property
    def upstream_path(self) -> str:
        """The upstream path every batch is posted to."""
        return f"/v1beta/models/{self.model}:batchEmbedContents"


def embeddings_to_gemini(body: Any, options: TranslateOptions) -> EmbeddingCall:
    """Translate an embeddings request; invalid input raises ``InvalidRequest`` naming the field."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    requested = optional_str(body, "model")
    model = resolve_model(requested, default_model=options.default_embedding_model, aliases=options.aliases)
    texts = _inputs(body.get("input"))
    encoding_format = optional_str(body, "encoding_format") or "float"
    if encoding_format not in ENCODING_FORMATS:
        raise invalid_value(
            "encoding_format",
            f"Invalid value for 'encoding_format': {encoding_format!r}; expected float or base64.",
        )
    dimensions = optional_int(body, "dimensions", minimum=1)
    resource = f"models/{model}"
    requests = []
    for text in texts:
        request: dict[str, Any] = {"model": resource, "content": {"parts": [{"text": text}]}}
        if dimensions is not None:
            request["outputDimensionality"] = dimensions
        requests.append(request)
    batches = [
        {"requests": requests[i : i + MAX_BATCH_SIZE]} for i in range(0, len(requests), MAX_BATCH_SIZE)
    ]
    return EmbeddingCall(
        model=model,
        requested_model=requested if requested and requested.strip() else options.default_embedding_model,
        encoding_format=encoding_format,
        batches=batches,
        input_count=len(texts),
        estimated_tokens=sum(max(1, len(text) // _CHARS_PER_TOKEN) for text in texts),
    )


def _inputs(raw: Any) -> list[str]:
    if raw is None:
        raise InvalidRequest(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise wrong_type("input", "a string or an array of strings", raw)
    if not raw:
        raise invalid_value("input", "'input' must not be empty.")
    for index, item in enumerate(raw):
        if isinstance(item, str):
            if not item.strip():
                raise invalid_value(f"input[{index}]", f"'input[{index}]' must not be empty.")
        elif isinstance(item, int | list) and not isinstance(item, bool):
            raise invalid_value(
                "input", "Token-id inputs are not supported: Gemini embeds text, so send 'input' as strings."
            )
        else:
            raise wrong_type(f"input[{index}]", "a string", item)
    return raw


def gemini_to_embeddings(responses: Sequence[dict[str, Any]], call: EmbeddingCall) -> dict[str, Any]:
    """The OpenAI response from the ``batchEmbedContents`` responses, one per batch, in order."""
    vectors: list[list[float]] = []
    for response in responses:
        embeddings = response.get("embeddings") if isinstance(response, dict) else None
        if not isinstance(embeddings, list):
            raise UpstreamError("The upstream embeddings response has no 'embeddings' list.")
        for embedding in embeddings:
            values = embedding.get("values") if isinstance(embedding, dict) else None
            if not isinstance(values, list):
                raise UpstreamError("The upstream embeddings response has an embedding without 'values'.")
            vectors.append(values)
    if len(vectors) != call.input_count:
        raise UpstreamError(f"The upstream returned {len(vectors)} embeddings for {call.input_count} inputs.")
    encode = encode_base64_floats if call.encoding_format == "base64" else None
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(vector) if encode else vector}
            for index, vector in enumerate(vectors)
        ],
        "model": call.requested_model,
        "usage": {"prompt_tokens": call.estimated_tokens, "total_tokens": call.estimated_tokens},
    }


def encode_base64_floats(values: Sequence[float]) -> str:
    """Base64 of the values as little-endian float32, the layout the openai SDK decodes."""
    try:
        packed = struct.pack(f"<{len(values)}f", *values)
    except (struct.error, TypeError):
        raise UpstreamError("The upstream returned an embedding with non-numeric values.") from None
    return base64.b64encode(packed).decode("ascii")
