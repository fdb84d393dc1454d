"""Builders of OpenAI request pieces for the translation tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gemini_proxy.translate.chat_request import GeminiChatCall

PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
JPEG_BASE64 = "/9j/4AAQSkZJRgABAQ=="

Translate = Callable[..., GeminiChatCall]


def user(content: Any) -> dict[str, Any]:
    """A user message."""
    return {"role": "user", "content": content}


def assistant_calls(*calls: tuple[str, str, str], content: Any = None) -> dict[str, Any]:
    """An assistant message with tool calls given as (id, name, arguments)."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ],
    }


def tool_result(call_id: str, content: Any) -> dict[str, Any]:
    """A tool message answering ``call_id``."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def function_tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tool declaration in OpenAI's format."""
    function: dict[str, Any] = {"name": name}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}
