"""Reading Gemini request bodies the way the real server does: camelCase or snake_case.

Proto3 JSON accepts both spellings of every field (protocol.md A.3) and the official
SDK mixes them (``thinkingConfig: {"include_thoughts": ...}``), so every lookup here
tries the camelCase name, then its snake_case twin. ``GenerateRequest`` is the handful
of fields the fake's answers depend on, read once per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

# Tokens billed for one image/file part (Gemini's flat rate for a small image).
MEDIA_PART_TOKENS = 258
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


@lru_cache(maxsize=256)
def snake_case(camel: str) -> str:
    """``generationConfig`` → ``generation_config``."""
    return _UPPER.sub("_", camel).lower()


def field(obj: Mapping[str, Any], camel: str, default: Any = None) -> Any:
    """``obj[camel]``, else ``obj[snake_case(camel)]``, else ``default``."""
    if camel in obj:
        return obj[camel]
    return obj.get(snake_case(camel), default)


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (absent or malformed optional fields)."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def words(text: str) -> int:
    """The fake's token count: whitespace-separated words."""
    return len(text.split())


def part_tokens(part: Mapping[str, Any]) -> int:
    """Tokens one request part costs: its words, a flat rate for media, the words of call JSON."""
    text = part.get("text")
    if isinstance(text, str):
        return words(text)
    if field(part, "inlineData") is not None or field(part, "fileData") is not None:
        return MEDIA_PART_TOKENS
    for name in ("functionCall", "functionResponse"):
        value = field(part, name)
        if value is not None:
            return words(orjson.dumps(value).decode().replace(",", " "))
    return 0


def content_tokens(content: Any) -> int:
    """Tokens of all parts of one Content."""
    return sum(part_tokens(mapping(p)) for p in sequence(mapping(content).get("parts")))


def text_of(content: Any) -> str:
    """The non-thought text parts of a Content, joined by spaces."""
    texts = []
    for part in sequence(mapping(content).get("parts")):
        text = mapping(part).get("text")
        if isinstance(text, str) and text and not mapping(part).get("thought"):
            texts.append(text)
    return " ".join(texts)


def is_model_turn(content: Any) -> bool:
    """True for a ``model`` Content (anything else counts as the user's side)."""
    return mapping(content).get("role") == "model"


def function_response_names(content: Any) -> list[str]:
    """Names of the functionResponse parts of a Content, in order."""
    names = []
    for part in sequence(mapping(content).get("parts")):
        response = field(mapping(part), "functionResponse")
        if isinstance(response, Mapping):
            names.append(str(response.get("name", "")))
    return names


@dataclass(frozen=True)
class GenerateRequest:
    """The fields of a generateContent body that shape the fake's answer."""

    contents: list[Any]
    prompt_tokens: int
    last_user_text: str
    ends_with_user_text: bool
    tool_result_names: list[str]
    function_declarations: list[Mapping[str, Any]]
    calling_mode: str
    allowed_function_names: list[str]
    candidate_count: int
    max_output_tokens: int | None
    response_mime_type: str
    response_schema: Mapping[str, Any] | None
    include_thoughts: bool
    thinking_budget: int | None


def _declarations(tools: list[Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for tool in tools:
        found.extend(mapping(d) for d in sequence(field(mapping(tool), "functionDeclarations")))
    return [d for d in found if isinstance(d.get("name"), str)]


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def read_generate_request(body: Mapping[str, Any]) -> GenerateRequest:
    """Pick the answer-shaping fields out of a (validated) generateContent body."""
    contents = sequence(body.get("contents"))
    system = field(body, "systemInstruction")
    config = mapping(field(body, "generationConfig"))
    thinking = mapping(field(config, "thinkingConfig"))
    calling = mapping(field(mapping(field(body, "toolConfig")), "functionCallingConfig"))
    last_user = next((c for c in reversed(contents) if not is_model_turn(c) and text_of(c)), None)
    schema = field(config, "responseJsonSchema") or field(config, "responseSchema")
    return GenerateRequest(
        contents=contents,
        prompt_tokens=sum(content_tokens(c) for c in contents) + content_tokens(system),
        last_user_text=text_of(last_user) if last_user is not None else "",
        ends_with_user_text=bool(contents)
        and not is_model_turn(contents[-1])
        and bool(text_of(contents[-1])),
        tool_result_names=function_response_names(contents[-1]) if contents else [],
        function_declarations=_declarations(sequence(body.get("tools"))),
        calling_mode=str(calling.get("mode", "AUTO")).upper(),
        allowed_function_names=[str(n) for n in sequence(field(calling, "allowedFunctionNames"))],
        candidate_count=max(1, _optional_int(field(config, "candidateCount")) or 1),
        max_output_tokens=_optional_int(field(config, "maxOutputTokens")),
        response_mime_type=str(field(config, "responseMimeType", "text/plain")),
        response_schema=schema if isinstance(schema, Mapping) else None,
        include_thoughts=field(thinking, "includeThoughts") is True,
        thinking_budget=_optional_int(field(thinking, "thinkingBudget")),
    )
