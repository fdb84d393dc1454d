"""OpenAI ``messages`` -> Gemini ``contents`` + ``systemInstruction`` (D.2, D.3, F#1-F#10).

- ``system``/``developer`` messages, wherever they are, are hoisted in order into one
  ``systemInstruction`` text (joined by a blank line). A conversation with nothing
  else becomes one user turn holding that text (F#8).
- ``user`` -> ``user``; ``assistant`` -> ``model`` (text first, then one
  ``functionCall`` per tool call); ``tool``/``function`` -> a ``functionResponse`` in a
  ``user`` turn, its name looked up from the calls earlier in the request, then the
  message's ``name``, then the signature cache (F#5).
- Adjacent turns of one role are merged; messages that end up empty are dropped.
  In a user turn, function responses come first, in the order of the calls they
  answer, whatever order the client sent them in (F#4).
- A conversation that starts with the model gets a filler user turn first (F#9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.content_parts import (
    assistant_parts,
    content_text,
    text_part,
    tool_content,
    user_parts,
)
from gemini_proxy.translate.fields import (
    invalid_value,
    optional_dict,
    optional_list,
    optional_str,
    require_object,
    required_str,
    wrong_type,
)
from gemini_proxy.translate.function_names import FunctionNames
from gemini_proxy.translate.media import FetchedMedia
from gemini_proxy.translate.tool_turns import (
    SignatureSources,
    function_call_parts,
    function_response_part,
    legacy_function_call_part,
)

_UNANSWERED = 1 << 30  # sort position of responses to calls outside the latest step


@dataclass(frozen=True, slots=True)
class Conversation:
    """The translated conversation."""

    contents: list[dict[str, Any]]
    system_instruction: dict[str, Any] | None


@dataclass(slots=True)
class _Turn:
    role: str
    parts: list[dict[str, Any]]
    # For user turns: a sort key per part; function responses sort first, by call position.
    keys: list[tuple[int, int]]
    has_responses: bool = False


def build_conversation(
    messages: Any,
    *,
    names: FunctionNames,
    sources: SignatureSources,
    fetched: Mapping[str, FetchedMedia],
    filler_user_text: str,
) -> Conversation:
    """Translate ``messages``; ``names`` must already hold the declared tools."""
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array of messages", messages)
    if not messages:
        raise invalid_value("messages", "'messages' must contain at least one message.")
    builder = _ConversationBuilder(names, sources, fetched)
    for index, raw in enumerate(messages):
        where = f"messages[{index}]"
        builder.add(require_object(raw, where), where)
    return builder.finish(filler_user_text)


class _ConversationBuilder:
    __slots__ = (
        "_call_names",
        "_fetched",
        "_names",
        "_seq",
        "_sources",
        "_step_positions",
        "_system",
        "_turns",
    )

    def __init__(
        self, names: FunctionNames, sources: SignatureSources, fetched: Mapping[str, FetchedMedia]
    ) -> None:
        self._names = names
        self._sources = sources
        self._fetched = fetched
        self._turns: list[_Turn] = []
        self._system: list[str] = []
        self._call_names: dict[str, str] = {}  # every earlier tool call id -> original name
        self._step_positions: dict[str, int] = {}  # tool call id -> position in the latest step
        self._seq = 0

    def add(self, message: dict[str, Any], where: str) -> None:
        role = required_str(message, "role", where)
        if role in ("system", "developer"):
            text = content_text(message.get("content"), where, role)
            if text and not text.isspace():
                self._system.append(text)
        elif role == "user":
            self._add_user(user_parts(message.get("content"), where, self._fetched), response_key=None)
        elif role == "assistant":
            self._add_assistant(message, where)
        elif role in ("tool", "function"):
            self._add_tool_result(message, where, role)
        else:
            raise invalid_value(
                f"{where}.role",
                f"Invalid role {role!r} in '{where}'; expected system, developer, user, assistant or tool.",
            )

    def _add_assistant(self, message: dict[str, Any], where: str) -> None:
        parts = assistant_parts(message.get("content"), where)
        refusal = optional_str(message, "refusal", where)
        if refusal and not parts:
            part = text_part(refusal)
            if part is not None:
                parts.append(part)
        tool_calls = optional_list(message, "tool_calls", where)
        if tool_calls:
            call_parts, calls = function_call_parts(tool_calls, where, self._names, self._sources)
            parts.extend(call_parts)
            self._step_positions = {}
            for position, call in enumerate(calls):
                if call.call_id is not None:
                    self._call_names[call.call_id] = call.name
                    self._step_positions.setdefault(call.call_id, position)
        else:
            function_call = optional_dict(message, "function_call", where)
            if function_call is not None:
                parts.append(legacy_function_call_part(function_call, where, self._names, self._sources))
                self._step_positions = {}
        if not parts:
            return
        last = self._turns[-1] if self._turns else None
        if last is not None and last.role == "model":
            last.parts.extend(parts)
        else:
            self._turns.append(_Turn("model", parts, []))

    def _add_tool_result(self, message: dict[str, Any], where: str, role: str) -> None:
        call_id: str | None = None
        if role == "tool":
            call_id = required_str(message, "tool_call_id", where)
            name = self._tool_name(message, call_id, where)
        else:  # legacy "function" role: the name is the only link
            name = required_str(message, "name", where)
        text, media = tool_content(message.get("content"), where, self._fetched)
        position = self._step_positions.get(call_id) if call_id is not None else None
        key = position if position is not None else _UNANSWERED + self._seq
        response = function_response_part(self._names.to_gemini(name), text)
        self._add_user([response], response_key=key)
        if media:
            self._add_user(media, response_key=None)

    def _tool_name(self, message: dict[str, Any], call_id: str, where: str) -> str:
        name = self._call_names.get(call_id) or optional_str(message, "name", where)
        if name:
            return name
        if self._sources.cache is not None:
            cached = self._sources.cache.get(call_id, self._sources.now)
            if cached is not None:
                return cached.name
        raise InvalidRequest(
            f"tool_call_id {call_id!r} in '{where}' does not match any previous tool call.",
            param=f"{where}.tool_call_id",
            code="invalid_value",
        )

    def _add_user(self, parts: list[dict[str, Any]], *, response_key: int | None) -> None:
        if not parts:
            return
        last = self._turns[-1] if self._turns else None
        if last is None or last.role != "user":
            last = _Turn("user", [], [])
            self._turns.append(last)
        for part in parts:
            self._seq += 1
            last.keys.append((0, response_key) if response_key is not None else (1, self._seq))
            last.parts.append(part)
        if response_key is not None:
            last.has_responses = True

    def finish(self, filler_user_text: str) -> Conversation:
        system_text = "\n\n".join(self._system)
        contents: list[dict[str, Any]] = []
        if not any(turn.role == "user" for turn in self._turns):
            if not system_text:
                raise invalid_value(
                    "messages", "The conversation has no user message with content; at least one is required."
                )
            contents.append({"role": "user", "parts": [{"text": system_text}]})
            system_text = ""
        elif self._turns[0].role == "model":
            contents.append({"role": "user", "parts": [{"text": filler_user_text}]})
        for turn in self._turns:
            parts = turn.parts
            if turn.has_responses and len(parts) > 1:
                parts = [
                    part for _, part in sorted(zip(turn.keys, parts, strict=True), key=lambda pair: pair[0])
                ]
            contents.append({"role": turn.role, "parts": parts})
        system_instruction = {"parts": [{"text": system_text}]} if system_text else None
        return Conversation(contents, system_instruction)
