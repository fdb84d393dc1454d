"""What both response translators share: finish reasons, tool calls, extra parts (D.7, D.7.1, D.10).

A Gemini candidate's parts are read the same way for a whole response and for one
stream chunk; only the packaging differs (``chat_response`` vs ``chat_stream``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from gemini_proxy.translate.chat_request import GeminiChatCall
from gemini_proxy.translate.signatures import SignatureCache, embed_signature

_CONTENT_FILTER = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)
_LENGTH = frozenset({"MAX_TOKENS", "CONTINUATION"})


def openai_finish_reason(gemini_reason: Any, has_tool_calls: bool) -> str:
    """D.7.1: ``stop``/``tool_calls``/``length``/``content_filter``; unknown values are ``stop`` (F#34)."""
    if gemini_reason in _LENGTH:
        return "length"
    if gemini_reason in _CONTENT_FILTER:
        return "content_filter"
    if gemini_reason == "STOP" and has_tool_calls:
        return "tool_calls"
    return "stop"


def candidate_parts(candidate: dict[str, Any]) -> list[Any]:
    """A candidate's parts; ``[]`` when ``content`` or ``parts`` is missing (F#23)."""
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts if isinstance(parts, list) else []


def rendered_part_text(part: dict[str, Any]) -> str | None:
    """Content text for non-text output parts (F#35): code, its result, inline media."""
    code = part.get("executableCode")
    if isinstance(code, dict):
        language = str(code.get("language") or "").lower()
        language = "" if language == "language_unspecified" else language
        return f"\n```{language}\n{code.get('code') or ''}\n```\n"
    result = part.get("codeExecutionResult")
    if isinstance(result, dict):
        return f"\n```output\n{result.get('output') or ''}\n```\n"
    inline = part.get("inlineData")
    if isinstance(inline, dict) and isinstance(inline.get("data"), str):
        mime = inline.get("mimeType") or inline.get("mime_type") or "application/octet-stream"
        return f"![image](data:{mime};base64,{inline['data']})"
    return None


def _arguments_json(args: Any) -> str:
    """``args`` as compact JSON (``{}`` when absent), as OpenAI's ``arguments`` string."""
    if args is None:
        return "{}"
    try:
        return orjson.dumps(args).decode()
    except TypeError:  # integers beyond 64 bits when the body was parsed by another JSON library
        return json.dumps(args, ensure_ascii=False, separators=(",", ":"))


def prompt_block_message(response: dict[str, Any]) -> str | None:
    """The explanation for a prompt Gemini refused to answer (F#24), or ``None`` if it was not blocked."""
    feedback = response.get("promptFeedback")
    if not isinstance(feedback, dict) or not feedback.get("blockReason"):
        return None
    message = f"The prompt was blocked by Gemini's safety filters (reason: {feedback['blockReason']})"
    detail = feedback.get("blockReasonMessage")
    return f"{message}: {detail}" if isinstance(detail, str) and detail else f"{message}."


class ToolCallMaker:
    """Builds OpenAI tool calls from ``functionCall`` parts and remembers their signatures.

    Ids: the upstream's ``functionCall.id`` when it sent one, else ``call_<random>``;
    with ``embed_signatures_in_ids`` the signature rides in the id. Every call is put
    into the signature cache (with its name, even without a signature) so a later
    tool message can be matched to it.
    """

    __slots__ = ("_call", "_new_id", "_now", "_signatures")

    def __init__(
        self, call: GeminiChatCall, new_id: Callable[[], str], signatures: SignatureCache | None, now: float
    ) -> None:
        self._call = call
        self._new_id = new_id
        self._signatures = signatures
        self._now = now

    def make(self, part: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI tool call for a part holding ``functionCall`` (without a stream ``index``)."""
        function_call = part["functionCall"]
        if not isinstance(function_call, dict):
            function_call = {}
        gemini_name = function_call.get("name")
        gemini_name = gemini_name if isinstance(gemini_name, str) else ""
        name = self._call.tool_name_map.get(gemini_name, gemini_name)
        args = function_call.get("args")
        upstream_id = function_call.get("id")
        call_id = upstream_id if isinstance(upstream_id, str) and upstream_id else f"call_{self._new_id()}"
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        if signature is not None and self._call.embed_signatures_in_ids:
            call_id = embed_signature(call_id, signature)
        tool_call: dict[str, Any] = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": _arguments_json(args)},
        }
        if signature is not None:
            tool_call["extra_content"] = {"google": {"thought_signature": signature}}
        if self._signatures is not None:
            self._signatures.put(call_id, signature, name, self._now)
        return tool_call
