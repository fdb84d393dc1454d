"""A Gemini ``generateContent`` response -> an OpenAI ``chat.completion`` (protocol.md D.7, F#19-F#35).

Each candidate becomes a choice: non-thought text joined into ``content``, thought
summaries into ``reasoning_content`` when the request asked for them (never into
``content``), each ``functionCall`` into a tool call, ``content: null`` when there
are only tool calls. A blocked prompt is a 200 with one ``content_filter`` choice whose
``refusal`` says why (F#24).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gemini_proxy.translate.candidates import (
    ToolCallMaker,
    candidate_parts,
    openai_finish_reason,
    prompt_block_message,
    rendered_part_text,
)
from gemini_proxy.translate.chat_request import GeminiChatCall
from gemini_proxy.translate.logprobs import logprobs_to_openai
from gemini_proxy.translate.signatures import SignatureCache
from gemini_proxy.translate.usage import usage_to_openai

__all__ = ["gemini_to_chat", "usage_to_openai"]


def gemini_to_chat(
    resp: dict[str, Any],
    call: GeminiChatCall,
    *,
    created: int,
    new_id: Callable[[], str],
    signatures: SignatureCache | None,
    now: float,
) -> dict[str, Any]:
    """The OpenAI response body for a successful upstream response."""
    raw_candidates = resp.get("candidates")
    candidates = (
        [c for c in raw_candidates if isinstance(c, dict)] if isinstance(raw_candidates, list) else []
    )
    if candidates:
        maker = ToolCallMaker(call, new_id, signatures, now)
        choices = [_choice(candidate, position, call, maker) for position, candidate in _ordered(candidates)]
    else:
        choices = [_empty_choice(prompt_block_message(resp))]
    return {
        "id": f"chatcmpl-{new_id()}",
        "object": "chat.completion",
        "created": created,
        "model": call.requested_model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage_to_openai(resp.get("usageMetadata")),
    }


def _ordered(candidates: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    indexed = [(_index(c, position), c) for position, c in enumerate(candidates)]
    indexed.sort(key=lambda pair: pair[0])
    return indexed


def _index(candidate: dict[str, Any], position: int) -> int:
    index = candidate.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _choice(
    candidate: dict[str, Any], index: int, call: GeminiChatCall, maker: ToolCallMaker
) -> dict[str, Any]:
    texts: list[str] = []
    thoughts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for part in candidate_parts(candidate):
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            if call.parallel_tool_calls or not tool_calls:
                tool_calls.append(maker.make(part))
            continue
        text = part.get("text")
        if isinstance(text, str):
            (thoughts if part.get("thought") is True else texts).append(text)
            continue
        rendered = rendered_part_text(part)
        if rendered is not None:
            texts.append(rendered)
    content = "".join(texts)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if content or not tool_calls else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if call.include_thoughts and thoughts:
        message["reasoning_content"] = "".join(thoughts)
    return {
        "index": index,
        "message": message,
        "logprobs": logprobs_to_openai(candidate.get("logprobsResult")),
        "finish_reason": openai_finish_reason(candidate.get("finishReason"), bool(tool_calls)),
    }


def _empty_choice(block_message: str | None) -> dict[str, Any]:
    """The single choice of a response without candidates: a blocked prompt, or nothing at all."""
    return {
        "index": 0,
        "message": {"role": "assistant", "content": "", "refusal": block_message},
        "logprobs": None,
        "finish_reason": "content_filter" if block_message is not None else "stop",
    }
