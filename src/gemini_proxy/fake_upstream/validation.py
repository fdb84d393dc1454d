"""The request checks the real API makes before generating, with its 400 messages.

A proxy that translates requests is tested against these: empty ``contents``, a Content
without parts, an empty part, a bad role, a functionResponse that is not an object, too
many candidates, and Gemini 3's demand that a model turn's first functionCall come back
with its ``thoughtSignature`` (protocol.md D.10).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gemini_proxy.fake_upstream.google_errors import GoogleError, invalid_argument, missing_thought_signature
from gemini_proxy.fake_upstream.request_fields import field, mapping, sequence

MAX_CANDIDATES = 8
_DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
_VALID_ROLES = ("user", "model", "")


def _field_error(path: str, problem: str) -> GoogleError:
    return invalid_argument(f"* GenerateContentRequest.{path}: {problem}\n", field=path)


def _has_data(part: Mapping[str, Any]) -> bool:
    for name in _DATA_FIELDS:
        value = field(part, name)
        if name == "text":
            # proto3: an empty string is an unset field, unless the part only carries a signature.
            if isinstance(value, str) and (value or field(part, "thoughtSignature")):
                return True
        elif value is not None:
            return True
    return False


def _check_part(part: Any, where: str) -> GoogleError | None:
    if not isinstance(part, Mapping) or not _has_data(part):
        return _field_error(f"{where}.data", "required oneof field 'data' must have one initialized field")
    for name, proto_name, value_name in (
        ("functionResponse", "function_response", "response"),
        ("functionCall", "function_call", "args"),
    ):
        value = mapping(field(part, name)).get(value_name)
        if value is not None and not isinstance(value, Mapping):
            shown = orjson.dumps(value).decode()
            message = (
                f"Invalid value at '{where}.{proto_name}.{value_name}' "
                f"(type.googleapis.com/google.protobuf.Struct), {shown}"
            )
            return invalid_argument(message, field=f"{where}.{proto_name}.{value_name}")
    return None


def check_contents(contents: Any) -> GoogleError | None:
    """The 400 the real API gives for missing, empty or malformed ``contents``, else None."""
    if not isinstance(contents, list) or not contents:
        return _field_error("contents", "contents is not specified")
    for index, content in enumerate(contents):
        where = f"contents[{index}]"
        if not isinstance(content, Mapping):
            return _field_error(where, "must be a Content object")
        if content.get("role", "") not in _VALID_ROLES:
            return invalid_argument("Please use a valid role: user, model.", field=f"{where}.role")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            return _field_error(f"{where}.parts", "contents.parts must not be empty.")
        for part_index, part in enumerate(parts):
            problem = _check_part(part, f"{where}.parts[{part_index}]")
            if problem is not None:
                return problem
    return None


def check_candidate_count(generation_config: Mapping[str, Any]) -> GoogleError | None:
    """400 when more candidates are asked for than the API allows."""
    count = field(generation_config, "candidateCount")
    if isinstance(count, int | float) and not isinstance(count, bool) and count > MAX_CANDIDATES:
        return invalid_argument(
            f"* GenerateContentRequest.generation_config.candidate_count: must be at most {MAX_CANDIDATES}\n",
            field="generation_config.candidate_count",
        )
    return None


def requires_thought_signatures(model: str) -> bool:
    """Gemini 3 models reject function-call history that lost its thought signatures."""
    return model.startswith("gemini-3")


def check_thought_signatures(contents: list[Any]) -> GoogleError | None:
    """The Gemini 3 400 for a model turn whose first functionCall part has no ``thoughtSignature``.

    Google's documented dummy value ``skip_thought_signature_validator`` counts as a signature.
    """
    for index, content in enumerate(contents):
        if mapping(content).get("role") != "model":
            continue
        for part in sequence(mapping(content).get("parts")):
            call = field(mapping(part), "functionCall")
            if call is None:
                continue
            if not field(mapping(part), "thoughtSignature"):
                return missing_thought_signature(str(mapping(call).get("name", "")), index)
            break
    return None
