"""Gemini model lists -> OpenAI model objects (A.10, C.5)."""

from __future__ import annotations

from gemini_proxy.translate.models import gemini_model_to_openai, gemini_models_to_openai


class TestModels:
    """C.5: the OpenAI model list."""

    def test_list_strips_prefix_and_appends_aliases(self) -> None:
        """C.5: ids lose ``models/``; aliases are extra entries; duplicates are not repeated."""
        models = [
            {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"},
            {"name": "models/gemini-embedding-001"},
        ]
        result = gemini_models_to_openai(
            models, {"gpt-4o": "gemini-2.5-pro", "gemini-2.5-flash": "gemini-2.5-flash"}
        )
        assert result == {
            "object": "list",
            "data": [
                {"id": "gemini-2.5-flash", "object": "model", "created": 0, "owned_by": "google"},
                {"id": "gemini-embedding-001", "object": "model", "created": 0, "owned_by": "google"},
                {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "google"},
            ],
        }

    def test_single_model_and_alias_id(self) -> None:
        """C.5: one model; an alias answered by its target keeps the alias id."""
        model = {"name": "models/gemini-2.5-pro"}
        assert gemini_model_to_openai(model)["id"] == "gemini-2.5-pro"
        assert gemini_model_to_openai(model, model_id="gpt-4o")["id"] == "gpt-4o"

    def test_entries_without_name_are_skipped(self) -> None:
        """Malformed upstream entries do not produce empty ids."""
        assert gemini_models_to_openai([{}, "x", {"name": "models/a"}], {})["data"] == [  # type: ignore[list-item]
            {"id": "a", "object": "model", "created": 0, "owned_by": "google"}
        ]
