"""``reasoning_effort`` and ``google.thinking_config`` -> Gemini ``thinkingConfig`` (protocol.md D.9).

Gemini 2.5 takes a token budget, Gemini 3 a level, other models (2.0, Gemma,
embeddings) reject the field, so nothing is sent for them. Models that cannot turn
thinking off (2.5 Pro, every Gemini 3) get their minimum instead of an "off" that
would be answered with a 400 (F#20).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gemini_proxy.translate.fields import (
    invalid_value,
    optional_bool,
    optional_int,
    optional_str,
)
from gemini_proxy.translate.model_names import is_lite_model, is_pro_model, model_family

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def _frozen(mapping: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(mapping)


@dataclass(frozen=True, slots=True)
class ThinkingTable:
    """The effort -> budget/level table of D.9, with per-variant limits. Configurable.

    ``budgets`` gives the Gemini 2.5 budget per effort; ``xhigh``/``max`` (absent from
    it) mean the variant's maximum. ``levels_flash``/``levels_pro`` give the Gemini 3
    ``thinkingLevel`` per effort (Pro has only ``low`` and ``high``).
    """

    budgets: Mapping[str, int] = field(
        default_factory=lambda: _frozen(
            {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
        )
    )
    flash_max_budget: int = 24576
    pro_max_budget: int = 32768
    pro_min_budget: int = 128
    lite_min_budget: int = 512
    levels_flash: Mapping[str, str] = field(
        default_factory=lambda: _frozen(
            {
                "none": "minimal",
                "minimal": "minimal",
                "low": "low",
                "medium": "medium",
                "high": "high",
                "xhigh": "high",
                "max": "high",
            }
        )
    )
    levels_pro: Mapping[str, str] = field(
        default_factory=lambda: _frozen(
            {
                "none": "low",
                "minimal": "low",
                "low": "low",
                "medium": "high",
                "high": "high",
                "xhigh": "high",
                "max": "high",
            }
        )
    )

    def budget_for(self, model: str, effort: str) -> int:
        """The 2.5 ``thinkingBudget`` for an effort, clamped to what the variant accepts."""
        pro = is_pro_model(model)
        maximum = self.pro_max_budget if pro else self.flash_max_budget
        budget = self.budgets.get(effort, maximum)
        if pro:
            return min(max(budget, self.pro_min_budget), maximum)
        if is_lite_model(model) and budget != 0:
            budget = max(budget, self.lite_min_budget)
        return min(budget, maximum)

    def level_for(self, model: str, effort: str) -> str:
        """The 3.x ``thinkingLevel`` for an effort."""
        levels = self.levels_pro if is_pro_model(model) else self.levels_flash
        return levels.get(effort, "high")


@dataclass(frozen=True, slots=True)
class ThinkingChoice:
    """The ``thinkingConfig`` to send (``None``: send none) and whether thoughts come back."""

    config: dict[str, Any] | None
    include_thoughts: bool


def choose_thinking(
    model: str,
    reasoning_effort: str | None,
    google_thinking: dict[str, Any] | None,
    *,
    table: ThinkingTable,
    include_thoughts_default: bool,
) -> ThinkingChoice:
    """Combine ``reasoning_effort``, the ``google.thinking_config`` extension and the default.

    ``google.thinking_config`` is passed through as the client wrote it (camelCased);
    setting an amount there and ``reasoning_effort`` too is a 400, as on Google's own
    OpenAI endpoint. ``include_thoughts`` alone combines with ``reasoning_effort``.
    """
    family = model_family(model)
    config: dict[str, Any] = {}
    include: bool | None = None
    if google_thinking is not None:
        where = "google.thinking_config"
        budget = _first_int(google_thinking, ("thinking_budget", "thinkingBudget"), where)
        level = _first_str(google_thinking, ("thinking_level", "thinkingLevel"), where)
        include = _first_bool(google_thinking, ("include_thoughts", "includeThoughts"), where)
        if budget is not None and level is not None:
            raise invalid_value(
                where, "Set either thinking_budget or thinking_level in google.thinking_config, not both."
            )
        if (budget is not None or level is not None) and reasoning_effort is not None:
            raise invalid_value(
                "reasoning_effort",
                "reasoning_effort and google.thinking_config both set the amount of thinking; send only one.",
            )
        if budget is not None:
            config["thinkingBudget"] = budget
        if level is not None:
            config["thinkingLevel"] = level
    if reasoning_effort is not None:
        if reasoning_effort not in REASONING_EFFORTS:
            raise invalid_value(
                "reasoning_effort",
                f"Invalid value for 'reasoning_effort': {reasoning_effort!r}; expected one of {', '.join(REASONING_EFFORTS)}.",
            )
        if family == "gemini-2.5":
            config["thinkingBudget"] = table.budget_for(model, reasoning_effort)
        elif family == "gemini-3":
            config["thinkingLevel"] = table.level_for(model, reasoning_effort)
    wants_thoughts = include_thoughts_default if include is None else include
    if include is not None:
        config["includeThoughts"] = include
    elif wants_thoughts and family != "other":
        config["includeThoughts"] = True
    return ThinkingChoice(config or None, wants_thoughts)


def _first_int(obj: dict[str, Any], keys: tuple[str, str], where: str) -> int | None:
    for key in keys:
        value = optional_int(obj, key, where, minimum=-1)
        if value is not None:
            return value
    return None


def _first_str(obj: dict[str, Any], keys: tuple[str, str], where: str) -> str | None:
    for key in keys:
        value = optional_str(obj, key, where)
        if value is not None:
            return value
    return None


def _first_bool(obj: dict[str, Any], keys: tuple[str, str], where: str) -> bool | None:
    for key in keys:
        value = optional_bool(obj, key, where)
        if value is not None:
            return value
    return None
