"""What the fake model "says": a deterministic answer planned from the request.

The plan is independent of the wire: ``responses`` turns it into one
GenerateContentResponse or into stream chunks. Rules, in order:
``BLOCKME`` in the user's text blocks the prompt; ``UNSAFE_OUTPUT`` blocks the output;
functionResponse parts in the last turn get ``"Got N tool results: ..."``; declared
functions (mode not NONE) after a user text get functionCall parts (two when the text
says ``parallel``); anything else gets ``"Echo: <text>"`` (or JSON in JSON mode).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gemini_proxy.fake_upstream.request_fields import GenerateRequest, field, words
from gemini_proxy.fake_upstream.schema_values import placeholder_object, placeholder_value

PROMPT_BLOCK_TRIGGER = "BLOCKME"
OUTPUT_BLOCK_TRIGGER = "UNSAFE_OUTPUT"
PARALLEL_TRIGGER = "parallel"
# Below this many output tokens a thinking model has no room left for visible text.
MIN_VISIBLE_OUTPUT_TOKENS = 3
_STRUCTURED_MIME_TYPES = ("application/json", "text/x.enum")


@dataclass(frozen=True)
class CandidateAnswer:
    """One candidate: optional thought summary, visible text, complete function calls, finish reason."""

    index: int
    thought: str | None
    text: str
    function_calls: tuple[dict[str, Any], ...]
    finish_reason: str
    output_blocked: bool = False


@dataclass(frozen=True)
class Answer:
    """The whole planned response, with the token counts that go in ``usageMetadata``."""

    model: str
    response_id: str
    candidates: tuple[CandidateAnswer, ...]
    prompt_tokens: int
    candidates_tokens: int
    thoughts_tokens: int
    prompt_blocked: bool = False
    signature: str | None = None


def new_response_id() -> str:
    """A fresh response id shaped like Google's (23 URL-safe characters)."""
    return base64.urlsafe_b64encode(os.urandom(17)).decode().rstrip("=")


def is_thinking_model(model: str) -> bool:
    """Gemini 2.5 and 3 think; 2.0 and the embedding models do not."""
    return model.startswith(("gemini-2.5", "gemini-3"))


def _thinking_on(request: GenerateRequest, model: str) -> bool:
    if not is_thinking_model(model):
        return False
    # Gemini 3 cannot turn thinking off; 2.5 turns it off with a zero budget.
    return request.thinking_budget != 0 or model.startswith("gemini-3")


def thought_signature(model: str, response_id: str) -> str:
    """An opaque base64 signature, unique per response, as Gemini 3 attaches to a model step."""
    return base64.b64encode(hashlib.sha256(f"{model}/{response_id}".encode()).digest()).decode()


def _function_calls(request: GenerateRequest) -> tuple[dict[str, Any], ...]:
    declared = {str(d["name"]): d for d in request.function_declarations}
    names = list(declared)
    if request.calling_mode in ("ANY", "VALIDATED") and request.allowed_function_names:
        names = [n for n in request.allowed_function_names if n in declared] or names
    if PARALLEL_TRIGGER in request.last_user_text.lower().split():
        chosen = names[:2] if len(names) > 1 else names * 2
    else:
        chosen = names[:1]
    calls = []
    for name in chosen:
        declaration: Mapping[str, Any] = declared[name]
        parameters = field(declaration, "parameters") or field(declaration, "parametersJsonSchema")
        calls.append({"name": name, "args": placeholder_object(parameters)})
    return tuple(calls)


def _structured_text(request: GenerateRequest, echo: str) -> str:
    schema = request.response_schema
    if schema is not None and isinstance(schema.get("properties"), Mapping) and schema["properties"]:
        return orjson.dumps(placeholder_object(schema)).decode()
    if schema is not None and str(schema.get("type", "object")).lower() != "object":
        return orjson.dumps(placeholder_value(schema)).decode()
    return orjson.dumps({"echo": echo}).decode()


def _answer_text(request: GenerateRequest) -> str:
    echo = f"Echo: {request.last_user_text}"
    mime = request.response_mime_type.lower()
    if mime == "application/json":
        return _structured_text(request, echo)
    if mime == "text/x.enum" and request.response_schema is not None:
        options = request.response_schema.get("enum")
        if isinstance(options, list) and options:
            return str(options[0])
    return echo


def _call_tokens(calls: tuple[dict[str, Any], ...]) -> int:
    return sum(words(orjson.dumps(call).decode().replace(",", " ")) for call in calls)


def _candidate(
    index: int,
    thought: str | None,
    text: str,
    calls: tuple[dict[str, Any], ...],
    max_output_tokens: int | None,
    numbered: bool,
) -> CandidateAnswer:
    """One candidate, numbered `` [i]`` among several and cut to ``maxOutputTokens`` words."""
    if text and numbered:
        text = f"{text} [{index}]"
    if max_output_tokens is not None and max_output_tokens < MIN_VISIBLE_OUTPUT_TOKENS:
        return CandidateAnswer(index, thought, "", (), "MAX_TOKENS")
    if max_output_tokens is not None and words(text) > max_output_tokens:
        return CandidateAnswer(
            index, thought, " ".join(text.split()[:max_output_tokens]), calls, "MAX_TOKENS"
        )
    return CandidateAnswer(index, thought, text, calls, "STOP")


def plan_answer(request: GenerateRequest, model: str, response_id: str) -> Answer:
    """The deterministic answer to a validated generateContent request."""
    signature = thought_signature(model, response_id) if model.startswith("gemini-3") else None
    text = request.last_user_text
    if PROMPT_BLOCK_TRIGGER in text:
        return Answer(model, response_id, (), request.prompt_tokens, 0, 0, prompt_blocked=True)
    thinking = _thinking_on(request, model)
    thought = f"Thinking about: {text or 'the request'}"
    thoughts_tokens = words(thought) if thinking else 0
    shown_thought = thought if thinking and request.include_thoughts else None
    count = request.candidate_count
    if OUTPUT_BLOCK_TRIGGER in text:
        blocked = tuple(CandidateAnswer(i, None, "", (), "SAFETY", output_blocked=True) for i in range(count))
        return Answer(model, response_id, blocked, request.prompt_tokens, 0, thoughts_tokens)

    calls: tuple[dict[str, Any], ...] = ()
    if request.tool_result_names:
        names = request.tool_result_names
        answer = f"Got {len(names)} tool results: {', '.join(names)}"
    elif request.function_declarations and request.calling_mode != "NONE" and request.ends_with_user_text:
        answer, calls = "", _function_calls(request)
    else:
        answer = _answer_text(request)

    structured = request.response_mime_type.lower() in _STRUCTURED_MIME_TYPES and not calls
    candidates = [
        _candidate(
            index, shown_thought, answer, calls, request.max_output_tokens, count > 1 and not structured
        )
        for index in range(count)
    ]
    output_tokens = sum(words(c.text) + _call_tokens(c.function_calls) for c in candidates)
    return Answer(
        model,
        response_id,
        tuple(candidates),
        request.prompt_tokens,
        output_tokens,
        thoughts_tokens,
        signature=signature,
    )
