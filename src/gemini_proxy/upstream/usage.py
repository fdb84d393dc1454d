"""Token usage read from Gemini responses (``usageMetadata``), for limits, metrics and logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

_SSE_DATA = b"data:"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one call; streams report running values, only the last is final."""

    prompt: int = 0
    candidates: int = 0
    thoughts: int = 0
    total: int = 0

    @classmethod
    def from_metadata(cls, metadata: Any) -> TokenUsage | None:
        if not isinstance(metadata, dict):
            return None

        def count(name: str) -> int:
            value = metadata.get(name)
            return value if isinstance(value, int) else 0

        prompt = count("promptTokenCount") + count("toolUsePromptTokenCount")
        candidates = count("candidatesTokenCount")
        thoughts = count("thoughtsTokenCount")
        total = count("totalTokenCount") or prompt + candidates + thoughts
        return cls(prompt, candidates, thoughts, total)


def usage_from_body(body: bytes) -> TokenUsage | None:
    """Usage of a non-streamed generateContent body (or the last element of a JSON array)."""
    if b"usageMetadata" not in body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list):
        data = data[-1] if data else None
    return TokenUsage.from_metadata(data.get("usageMetadata")) if isinstance(data, dict) else None


def usage_from_stream_tail(tail: bytes) -> TokenUsage | None:
    """Usage from the end of a stream: the last complete ``data:`` event (or array element)."""
    index = tail.rfind(b"usageMetadata")
    if index < 0:
        return None
    start = tail.rfind(_SSE_DATA, 0, index)
    if start >= 0:
        line = tail[start + len(_SSE_DATA) :].split(b"\n", 1)[0].strip()
        try:
            return TokenUsage.from_metadata(orjson.loads(line).get("usageMetadata"))
        except (orjson.JSONDecodeError, AttributeError):
            return None
    # JSON-array stream form: find the object holding the last usageMetadata.
    brace = tail.rfind(b"{", 0, index)
    while brace >= 0:
        candidate = tail[brace:].rstrip().rstrip(b"]").rstrip()
        try:
            data = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            brace = tail.rfind(b"{", 0, brace)
            continue
        return TokenUsage.from_metadata(data.get("usageMetadata")) if isinstance(data, dict) else None
    return None
