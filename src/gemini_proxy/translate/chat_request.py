"""An OpenAI Chat Completions request -> one Gemini ``generateContent`` call (protocol.md D.1-D.6, D.9).

``chat_to_gemini`` is the only entry point the route needs, plus ``remote_media_urls``
when the route fetches remote images: it asks for the URLs first, fetches them with
its own limits, and passes the results in as ``fetched_media``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.fields import (
    optional_bool,
    optional_dict,
    optional_list,
    optional_str,
    require_object,
)
from gemini_proxy.translate.function_names import FunctionNames
from gemini_proxy.translate.generation_config import generation_config
from gemini_proxy.translate.media import FetchedMedia, is_remote_url
from gemini_proxy.translate.messages import build_conversation
from gemini_proxy.translate.model_names import model_family, resolve_model
from gemini_proxy.translate.options import TranslateOptions
from gemini_proxy.translate.signatures import SignatureCache
from gemini_proxy.translate.thinking import choose_thinking
from gemini_proxy.translate.tool_turns import SignatureSources
from gemini_proxy.translate.tools import declare_tools

_NO_MEDIA: Mapping[str, FetchedMedia] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GeminiChatCall:
    """Everything the route and the response translators need about one translated request.

    ``model`` is the bare Gemini id for the upstream URL; ``requested_model`` is what
    the client wrote, echoed in responses; ``payload`` is the ``generateContent`` body;
    ``tool_name_map`` maps rewritten function names back to the client's.
    """

    model: str
    requested_model: str
    stream: bool
    include_usage: bool
    include_thoughts: bool
    payload: dict[str, Any]
    tool_name_map: Mapping[str, str]
    parallel_tool_calls: bool
    embed_signatures_in_ids: bool = False

    @property
    def upstream_method(self) -> str:
        """``streamGenerateContent`` or ``generateContent``."""
        return "streamGenerateContent" if self.stream else "generateContent"

    @property
    def upstream_path(self) -> str:
        """The upstream path and query for this call (``?alt=sse`` when streaming)."""
        suffix = "?alt=sse" if self.stream else ""
        return f"/v1beta/models/{self.model}:{self.upstream_method}{suffix}"


def chat_to_gemini(
    body: Any,
    options: TranslateOptions,
    signatures: SignatureCache | None,
    now: float,
    *,
    fetched_media: Mapping[str, FetchedMedia] | None = None,
) -> GeminiChatCall:
    """Translate a parsed request body; anything invalid raises ``InvalidRequest`` naming the field.

    ``fetched_media`` maps remote URLs to ``(media type, bytes)``; a remote URL missing
    from it raises ``RemoteMediaRequired`` (a 400 saying remote URLs are disabled).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    requested = optional_str(body, "model")
    model = resolve_model(requested, default_model=options.default_model, aliases=options.aliases)
    stream = optional_bool(body, "stream") or False
    stream_options = optional_dict(body, "stream_options")
    include_usage = bool(stream_options and optional_bool(stream_options, "include_usage", "stream_options"))
    parallel_tool_calls = optional_bool(body, "parallel_tool_calls")
    google = optional_dict(body, "google") or {}

    names = FunctionNames()
    tool_setup = declare_tools(body.get("tools"), body.get("tool_choice"), names)
    sources = SignatureSources(signatures, now, dummy_for_first_call=model_family(model) == "gemini-3")
    conversation = build_conversation(
        body.get("messages"),
        names=names,
        sources=sources,
        fetched=fetched_media if fetched_media is not None else _NO_MEDIA,
        filler_user_text=options.filler_user_text,
    )
    config = generation_config(body)
    thinking = choose_thinking(
        model,
        optional_str(body, "reasoning_effort"),
        optional_dict(google, "thinking_config", "google"),
        table=options.thinking_budgets,
        include_thoughts_default=options.include_thoughts_default,
    )
    if thinking.config is not None:
        config["thinkingConfig"] = thinking.config

    payload: dict[str, Any] = {"contents": conversation.contents}
    if conversation.system_instruction is not None:
        payload["systemInstruction"] = conversation.system_instruction
    if tool_setup.tools is not None:
        payload["tools"] = tool_setup.tools
    if tool_setup.tool_config is not None:
        payload["toolConfig"] = tool_setup.tool_config
    safety = _safety_settings(google, options)
    if safety:
        payload["safetySettings"] = safety
    if config:
        payload["generationConfig"] = config
    cached_content = optional_str(google, "cached_content", "google")
    if cached_content:
        payload["cachedContent"] = cached_content

    return GeminiChatCall(
        model=model,
        requested_model=requested if requested and requested.strip() else options.default_model,
        stream=stream,
        include_usage=stream and include_usage,
        include_thoughts=thinking.include_thoughts,
        payload=payload,
        tool_name_map=MappingProxyType(names.reverse_map()),
        parallel_tool_calls=parallel_tool_calls is not False,
        embed_signatures_in_ids=options.tool_id_signatures,
    )


def _safety_settings(google: dict[str, Any], options: TranslateOptions) -> list[dict[str, Any]]:
    requested = optional_list(google, "safety_settings", "google")
    if requested is None:
        return list(options.safety_settings)
    return [
        require_object(entry, f"google.safety_settings[{index}]") for index, entry in enumerate(requested)
    ]


def remote_media_urls(body: Any) -> list[str]:
    """The remote http(s) media URLs a request refers to, in order, without duplicates.

    Never raises: a malformed body yields what can be found, and ``chat_to_gemini``
    reports the problem afterwards.
    """
    urls: dict[str, None] = {}
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and is_remote_url(url.strip()):
                urls[url.strip()] = None
    return list(urls)
