"""Small named factories shared by the translation tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gemini_proxy.translate.chat_request import GeminiChatCall, chat_to_gemini
from gemini_proxy.translate.media import FetchedMedia
from gemini_proxy.translate.options import IdSource, TranslateOptions
from gemini_proxy.translate.signatures import SignatureCache

from .builders import Translate, user


@pytest.fixture
def options_factory() -> Callable[..., TranslateOptions]:
    """``TranslateOptions`` with overrides."""

    def make(**overrides: Any) -> TranslateOptions:
        return TranslateOptions(**overrides)

    return make


@pytest.fixture
def translate() -> Translate:
    """Translate a request: messages (default one user "hi") plus top-level fields."""

    def run(
        messages: list[Any] | None = None,
        *,
        options: TranslateOptions | None = None,
        signatures: SignatureCache | None = None,
        now: float = 0.0,
        fetched_media: Mapping[str, FetchedMedia] | None = None,
        **fields: Any,
    ) -> GeminiChatCall:
        body: dict[str, Any] = {
            "model": "gemini-2.5-flash",
            "messages": messages if messages is not None else [user("hi")],
        }
        body.update(fields)
        return chat_to_gemini(
            body, options or TranslateOptions(), signatures, now, fetched_media=fetched_media
        )

    return run


@pytest.fixture
def ids() -> IdSource:
    """Deterministic ids: ``id1``, ``id2``, ..."""
    counter = itertools.count(1)
    return lambda: f"id{next(counter)}"


@pytest.fixture
def call_factory() -> Callable[..., GeminiChatCall]:
    """A ``GeminiChatCall`` as the response translators see it, with overrides."""

    def make(**overrides: Any) -> GeminiChatCall:
        fields: dict[str, Any] = {
            "model": "gemini-2.5-flash",
            "requested_model": "gemini-2.5-flash",
            "stream": False,
            "include_usage": False,
            "include_thoughts": False,
            "payload": {},
            "tool_name_map": {},
            "parallel_tool_calls": True,
        }
        fields.update(overrides)
        return GeminiChatCall(**fields)

    return make
