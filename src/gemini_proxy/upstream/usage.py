"""Token usage read from Gemini responses (``usageMetadata``), for limits, metrics and logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class TokenUsage:
    """Token counts of one call; streams report running values, only the last is final.

    A value: never changed once made (not frozen only because that costs more to build,
    once per request).
    """

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


_USAGE_KEY = b'"usageMetadata":'
_COUNT = re.compile(
    rb'"(promptTokenCount|toolUsePromptTokenCount|candidatesTokenCount|thoughtsTokenCount|totalTokenCount)":\s*(\d+)'
)
_USAGE_SPAN = 2048


def usage_from_body(body: bytes) -> TokenUsage | None:
    """Usage of a non-streamed generateContent body, read without parsing the whole body.

    Only the last ``"usageMetadata":`` key counts (inside a JSON string its quotes would be
    escaped, so answer text cannot fake it); the counts are the flat integer fields of
    that object (nothing after it in a response carries token counts).
    """
    start = body.rfind(_USAGE_KEY)
    if start < 0:
        return None
    prompt = candidates = thoughts = total = 0
    for name, value in _COUNT.findall(body, start, start + _USAGE_SPAN):
        if name == b"promptTokenCount" or name == b"toolUsePromptTokenCount":
            prompt += int(value)
        elif name == b"candidatesTokenCount":
            candidates = int(value)
        elif name == b"thoughtsTokenCount":
            thoughts = int(value)
        else:
            total = int(value)
    return TokenUsage(prompt, candidates, thoughts, total or prompt + candidates + thoughts)


def usage_from_stream_tail(tail: bytes) -> TokenUsage | None:
    """Usage from the end of a stream (SSE or JSON array): the last event's counts, which
    are the final ones (each event carries running values)."""
    return usage_from_body(tail)
