"""Gemini ``usageMetadata`` -> OpenAI ``usage`` (protocol.md D.7.2, F#32).

Reasoning tokens count inside ``completion_tokens``, as OpenAI counts them, so
``total = prompt + completion`` holds. Missing counts (blocked or tool-call-only
outputs) are 0. In a stream only the last chunk's numbers are final: callers keep the
latest ``usageMetadata`` and never add chunks up.
"""

from __future__ import annotations

from typing import Any


def usage_to_openai(usage_metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAI ``usage`` object for a (possibly absent) ``usageMetadata``."""
    usage = usage_metadata if isinstance(usage_metadata, dict) else {}
    # (``type(v) is int``: a JSON boolean is not a count)
    prompt, tool_prompt, thoughts, candidates, total, cached = [
        v if type(v) is int and v > 0 else 0 for v in map(usage.get, _COUNTS)
    ]
    prompt += tool_prompt
    completion = candidates + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total or prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": cached,
            "audio_tokens": _audio_tokens(usage.get("promptTokensDetails")),
        },
        "completion_tokens_details": {
            "reasoning_tokens": thoughts,
            "audio_tokens": _audio_tokens(usage.get("candidatesTokensDetails")),
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_COUNTS = (
    "promptTokenCount",
    "toolUsePromptTokenCount",
    "thoughtsTokenCount",
    "candidatesTokenCount",
    "totalTokenCount",
    "cachedContentTokenCount",
)


def _count(value: Any) -> int:
    # ``type(...) is int``: a JSON boolean is not a count
    return value if type(value) is int and value > 0 else 0


def _audio_tokens(details: Any) -> int:
    if not isinstance(details, list):
        return 0
    return sum(
        _count(entry.get("tokenCount"))
        for entry in details
        if isinstance(entry, dict) and entry.get("modality") == "AUDIO"
    )
