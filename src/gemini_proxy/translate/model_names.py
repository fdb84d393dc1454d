"""Model names: from what a client wrote to the Gemini model id, and its family.

Clients write ``gemini-2.5-flash``, ``models/gemini-2.5-flash``, ``gemini/gemini-2.5-flash``
(LiteLLM style) or ``google/gemini-2.5-flash`` (OpenRouter style), or an alias the
operator configured (``gpt-4o`` -> ``gemini-2.5-flash``). All resolve to the bare
Gemini id that goes into the upstream URL, so the URL, the response and the cooldown
keys agree (protocol.md F#48). Names Gemini serves itself (``gemini-flash-latest``)
pass through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from gemini_proxy.translate.fields import invalid_value

# Prefixes stripped before alias lookup, in the order they can be stacked
# (``google/models/gemini-2.5-flash``).
_PROVIDER_PREFIXES = ("gemini/", "google/", "googleai/", "google_genai/", "vertex_ai/")
_RESOURCE_PREFIX = "models/"

# What may go into the upstream URL path segment: no slash, no colon, no dot-dot tricks.
_SAFE_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}")

ModelFamily = Literal["gemini-3", "gemini-2.5", "other"]


def strip_model_prefixes(name: str) -> str:
    """``name`` without ``models/`` and provider prefixes (``gemini/``, ``google/``...)."""
    name = name.strip()
    if "/" not in name:  # every prefix ends with a slash
        return name
    changed = True
    while changed:
        changed = False
        lowered = name.lower()
        for prefix in (_RESOURCE_PREFIX, *_PROVIDER_PREFIXES):
            if lowered.startswith(prefix):
                name = name[len(prefix) :]
                changed = True
                break
    return name


def resolve_model(
    requested: str | None, *, default_model: str, aliases: Mapping[str, str], param: str = "model"
) -> str:
    """The bare Gemini model id for a client's ``model`` field.

    Aliases are looked up with the name as written and with its prefixes stripped;
    ``None`` or an empty name means the default model.
    """
    if requested is None or not requested.strip():
        target = default_model
    else:
        target = aliases.get(requested) or aliases.get(strip_model_prefixes(requested)) or requested
    model = strip_model_prefixes(target)
    if not _SAFE_MODEL_ID.fullmatch(model) or ".." in model:
        raise invalid_value(
            param, f"Invalid model name {requested!r}: expected a Gemini model id such as 'gemini-2.5-flash'."
        )
    return model


def model_family(model: str) -> ModelFamily:
    """Which thinking controls a model takes: ``thinkingLevel`` (3.x), ``thinkingBudget`` (2.5), or none."""
    lowered = model.lower()
    if lowered.startswith("gemini-3"):
        return "gemini-3"
    if lowered.startswith("gemini-2.5"):
        return "gemini-2.5"
    return "other"


def is_pro_model(model: str) -> bool:
    """Whether the model is a Pro variant (cannot turn thinking off, larger budget)."""
    return "-pro" in model.lower()


def is_lite_model(model: str) -> bool:
    """Whether the model is a Flash-Lite variant (budget 0 or 512..24576)."""
    return "flash-lite" in model.lower()
