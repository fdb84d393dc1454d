"""Sampling and output parameters -> Gemini ``generationConfig`` (D.1, F#13, F#21).

Values are range-checked here so a client gets a 400 that names its field instead
of an upstream error about ``generationConfig``. Parameters Gemini does not have
(``logit_bias``, ``user``, ``metadata``, ``store``...) are not read at all.
"""

from __future__ import annotations

from typing import Any

from gemini_proxy.translate.fields import (
    invalid_value,
    optional_bool,
    optional_dict,
    optional_int,
    optional_list,
    optional_number,
    required_str,
    wrong_type,
)
from gemini_proxy.translate.schema import clean_schema, schema_has_properties

MAX_STOP_SEQUENCES = 5
# Fields this module never reads: a body with none but these has no generation config.
# (Listing what is not read, rather than what is, keeps any new field on the full path.)
_NOT_GENERATION_FIELDS = frozenset(
    {"model", "messages", "stream", "stream_options", "user", "tools", "tool_choice", "reasoning_effort"}
)


def generation_config(body: dict[str, Any]) -> dict[str, Any]:
    """The ``generationConfig`` for an OpenAI request body, without ``thinkingConfig``."""
    if body.keys() <= _NOT_GENERATION_FIELDS:
        return {}
    config: dict[str, Any] = {}
    temperature = optional_number(body, "temperature", minimum=0, maximum=2)
    if temperature is not None:
        config["temperature"] = temperature
    top_p = optional_number(body, "top_p", minimum=0, maximum=1)
    if top_p is not None:
        config["topP"] = top_p
    top_k = optional_int(body, "top_k", minimum=1)
    if top_k is not None:
        config["topK"] = top_k
    n = optional_int(body, "n", minimum=1, maximum=128)
    if n is not None and n != 1:
        config["candidateCount"] = n
    stop = stop_sequences(body.get("stop"))
    if stop:
        config["stopSequences"] = stop
    max_tokens = _max_output_tokens(body)
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    for openai_name, gemini_name in (
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        penalty = optional_number(body, openai_name, minimum=-2, maximum=2)
        if penalty:  # 0 is the default, and some models reject the field outright
            config[gemini_name] = penalty
    seed = optional_int(body, "seed")
    if seed is not None:
        config["seed"] = seed
    _logprobs(body, config)
    _response_format(body, config)
    _check_modalities(body)
    return config


def stop_sequences(raw: Any) -> list[str]:
    """``stop`` as a list: a string becomes one entry, empty strings go, at most 5 stay."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw else []
    if not isinstance(raw, list):
        raise wrong_type("stop", "a string or an array of strings", raw)
    stops = []
    for index, value in enumerate(raw):
        if not isinstance(value, str):
            raise wrong_type(f"stop[{index}]", "a string", value)
        if value:
            stops.append(value)
    return stops[:MAX_STOP_SEQUENCES]


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    completion = optional_int(body, "max_completion_tokens", minimum=1)
    legacy = optional_int(body, "max_tokens", minimum=1)
    return completion if completion is not None else legacy


def _logprobs(body: dict[str, Any], config: dict[str, Any]) -> None:
    wanted = optional_bool(body, "logprobs")
    top = optional_int(body, "top_logprobs", minimum=0, maximum=20)
    if top is not None and not wanted:
        raise invalid_value("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.")
    if wanted:
        config["responseLogprobs"] = True
        if top:
            config["logprobs"] = top


def _response_format(body: dict[str, Any], config: dict[str, Any]) -> None:
    response_format = optional_dict(body, "response_format")
    if response_format is None:
        return
    kind = required_str(response_format, "type", "response_format")
    if kind == "text":
        return
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
        return
    if kind != "json_schema":
        raise invalid_value(
            "response_format.type",
            f"Invalid value for 'response_format.type': {kind!r}; expected text, json_object or json_schema.",
        )
    json_schema = optional_dict(response_format, "json_schema", "response_format")
    if json_schema is None:
        raise invalid_value(
            "response_format.json_schema", "response_format of type json_schema needs 'json_schema'."
        )
    config["responseMimeType"] = "application/json"
    schema = optional_dict(json_schema, "schema", "response_format.json_schema")
    if schema is not None:
        cleaned = clean_schema(schema, param="response_format.json_schema.schema")
        if schema_has_properties(cleaned):
            config["responseSchema"] = cleaned


def _check_modalities(body: dict[str, Any]) -> None:
    modalities = optional_list(body, "modalities")
    if modalities is None:
        return
    for index, modality in enumerate(modalities):
        if modality != "text":
            raise invalid_value(
                f"modalities[{index}]", f"Output modality {modality!r} is not supported; only 'text' is."
            )
