"""Operator settings that shape translation, and the id source the translators draw from."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gemini_proxy.translate.thinking import ThinkingTable

# Returns a fresh random token for a completion or tool call id; injected so tests are deterministic.
IdSource = Callable[[], str]

ID_LENGTH = 24
# Base64 of 18 random bytes is 24 characters; its two non-alphanumeric ones become letters.
_ID_BYTES = ID_LENGTH * 3 // 4
_ALPHANUMERIC = str.maketrans("+/", "xz")


def random_id_source(rng: random.Random) -> IdSource:
    """An ``IdSource`` of 24 random letters and digits drawn from ``rng`` (OpenAI's id style)."""

    def new_id() -> str:
        return base64.b64encode(rng.randbytes(_ID_BYTES)).decode().translate(_ALPHANUMERIC)

    return new_id


@dataclass(frozen=True, slots=True)
class TranslateOptions:
    """How OpenAI requests become Gemini requests.

    ``aliases`` maps OpenAI-side model names to Gemini models; ``safety_settings`` is
    sent with every chat request when non-empty (a request's ``google.safety_settings``
    replaces it); ``thinking_budgets`` is the D.9 table; ``include_thoughts_default``
    asks for thought summaries (returned as ``reasoning_content``) unless the request
    says otherwise; ``filler_user_text`` opens conversations that start with the model;
    ``tool_id_signatures`` embeds thought signatures in tool call ids (D.10 layer 3).
    """

    default_model: str = "gemini-2.5-flash"
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    safety_settings: tuple[dict[str, Any], ...] = ()
    thinking_budgets: ThinkingTable = field(default_factory=ThinkingTable)
    include_thoughts_default: bool = False
    filler_user_text: str = "."
    tool_id_signatures: bool = False
    default_embedding_model: str = "gemini-embedding-001"

    def __post_init__(self) -> None:
        if not self.default_model.strip() or not self.default_embedding_model.strip():
            raise ValueError("TranslateOptions needs a non-empty default_model and default_embedding_model")
        if not self.filler_user_text.strip():
            raise ValueError(
                "TranslateOptions.filler_user_text must contain visible text (Gemini rejects empty text)"
            )
