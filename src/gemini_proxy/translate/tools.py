"""``tools``/``tool_choice`` -> Gemini ``tools``/``toolConfig`` (D.1, F#15-F#17).

All declarations go into one Tool object; ``strict`` is dropped; a declaration whose
parameters describe nothing (an object without properties) carries no
``parameters`` at all, which every Gemini version accepts. ``tool_choice: "none"``
keeps the declarations, since the history may call them (F#16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gemini_proxy.translate.fields import (
    invalid_value,
    optional_dict,
    optional_str,
    require_object,
    required_str,
    wrong_type,
)
from gemini_proxy.translate.function_names import FunctionNames
from gemini_proxy.translate.schema import clean_schema, schema_has_properties

_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


@dataclass(frozen=True, slots=True)
class ToolSetup:
    """The Gemini ``tools`` list and ``toolConfig`` (each ``None`` when not sent)."""

    tools: list[dict[str, Any]] | None
    tool_config: dict[str, Any] | None


def declare_tools(raw_tools: Any, raw_choice: Any, names: FunctionNames) -> ToolSetup:
    """Translate the declarations and the choice; registers declared names in ``names``."""
    declarations = _declarations(raw_tools, names) if raw_tools is not None else []
    declared = {decl["name"] for decl in declarations}
    tool_config = _tool_config(raw_choice, names, declared)
    tools = [{"functionDeclarations": declarations}] if declarations else None
    return ToolSetup(tools, tool_config)


def _declarations(raw_tools: Any, names: FunctionNames) -> list[dict[str, Any]]:
    if not isinstance(raw_tools, list):
        raise wrong_type("tools", "an array of tools", raw_tools)
    declarations: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_tools):
        where = f"tools[{index}]"
        tool = require_object(raw, where)
        kind = required_str(tool, "type", where)
        if kind != "function":
            raise invalid_value(
                f"{where}.type", f"Unsupported tool type {kind!r}; only 'function' tools are supported."
            )
        function_where = f"{where}.function"
        function = require_object(tool.get("function"), function_where)
        name = required_str(function, "name", function_where)
        if not name:
            raise invalid_value(f"{function_where}.name", f"'{function_where}.name' must not be empty.")
        if name in seen:
            raise invalid_value(
                f"{function_where}.name", f"Function {name!r} is declared more than once in 'tools'."
            )
        seen.add(name)
        declaration: dict[str, Any] = {"name": names.to_gemini(name)}
        description = optional_str(function, "description", function_where)
        if description:
            declaration["description"] = description
        parameters = optional_dict(function, "parameters", function_where)
        if parameters is not None:
            cleaned = clean_schema(parameters, param=f"{function_where}.parameters")
            if schema_has_properties(cleaned):
                declaration["parameters"] = cleaned
        declarations.append(declaration)
    return declarations


def _tool_config(raw_choice: Any, names: FunctionNames, declared: set[str]) -> dict[str, Any] | None:
    if raw_choice is None:  # AUTO is Gemini's default too
        return None
    if isinstance(raw_choice, str):
        mode = _CHOICE_MODES.get(raw_choice)
        if mode is None:
            raise invalid_value(
                "tool_choice",
                f"Invalid value for 'tool_choice': {raw_choice!r}; expected none, auto, required or an object.",
            )
        if mode == "ANY" and not declared:
            raise invalid_value(
                "tool_choice", "tool_choice 'required' needs at least one function in 'tools'."
            )
        return {"functionCallingConfig": {"mode": mode}} if declared else None
    choice = require_object(raw_choice, "tool_choice")
    kind = optional_str(choice, "type", "tool_choice")
    if kind not in (None, "function"):
        raise invalid_value(
            "tool_choice.type", f"Unsupported tool_choice type {kind!r}; only 'function' is supported."
        )
    function = optional_dict(choice, "function", "tool_choice")
    if function is not None:
        name, param = required_str(function, "name", "tool_choice.function"), "tool_choice.function.name"
    else:  # the flat form {"type": "function", "name": "..."}
        name, param = required_str(choice, "name", "tool_choice"), "tool_choice.name"
    if name not in names or names.to_gemini(name) not in declared:
        raise invalid_value(param, f"tool_choice names function {name!r}, which is not declared in 'tools'.")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [names.to_gemini(name)]}}
