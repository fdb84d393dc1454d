"""Gemini model resources -> OpenAI model objects (protocol.md A.10, C.5).

Ids lose the ``models/`` prefix (what most OpenAI clients expect). Gemini has no
creation time, so ``created`` is 0. Each configured alias is listed as a model of
its own, so clients that validate names against the list accept it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gemini_proxy.translate.model_names import strip_model_prefixes

OWNER = "google"


def gemini_model_to_openai(model: dict[str, Any], *, model_id: str | None = None) -> dict[str, Any]:
    """One OpenAI model object; ``model_id`` overrides the id (an alias answered by its target)."""
    name = model.get("name")
    bare = strip_model_prefixes(name) if isinstance(name, str) else ""
    return {"id": model_id or bare, "object": "model", "created": 0, "owned_by": OWNER}


def gemini_models_to_openai(models: list[dict[str, Any]], aliases: Mapping[str, str]) -> dict[str, Any]:
    """The OpenAI list for Gemini's model list, aliases appended after the real models."""
    data = [gemini_model_to_openai(model) for model in models if isinstance(model, dict)]
    data = [entry for entry in data if entry["id"]]
    listed = {entry["id"] for entry in data}
    for alias in aliases:
        if alias not in listed:
            data.append({"id": alias, "object": "model", "created": 0, "owned_by": OWNER})
            listed.add(alias)
    return {"object": "list", "data": data}
