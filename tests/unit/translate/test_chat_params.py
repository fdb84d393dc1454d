"""Request parameters: generationConfig, tools, tool_choice, thinking, extensions, model names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.chat_request import chat_to_gemini
from gemini_proxy.translate.options import TranslateOptions
from gemini_proxy.translate.thinking import ThinkingTable

from .builders import Translate, assistant_calls, function_tool, tool_result, user

WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class TestGenerationConfig:
    """D.1: sampling parameters map to generationConfig."""

    @pytest.mark.parametrize(
        ("fields", "config"),
        [
            ({"temperature": 0.5}, {"temperature": 0.5}),
            ({"top_p": 0.9, "top_k": 40.0}, {"topP": 0.9, "topK": 40}),
            ({"n": 2}, {"candidateCount": 2}),
            ({"n": 1}, {}),
            ({"max_tokens": 100}, {"maxOutputTokens": 100}),
            (
                {"presence_penalty": 0.5, "frequency_penalty": -0.5},
                {"presencePenalty": 0.5, "frequencyPenalty": -0.5},
            ),
            ({"presence_penalty": 0, "frequency_penalty": 0.0}, {}),
            ({"seed": 7}, {"seed": 7}),
            ({"logprobs": True, "top_logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
            ({"logprobs": False}, {}),
            ({"response_format": {"type": "text"}}, {}),
            ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
            ({"temperature": None, "user": "u-1", "logit_bias": {"1": 2}, "store": True, "metadata": {}}, {}),
        ],
    )
    def test_parameters_map(
        self, translate: Translate, fields: dict[str, Any], config: dict[str, Any]
    ) -> None:
        """D.1, F#14, F#22: each parameter lands in its generationConfig field (n -> candidateCount); defaults and dropped ones add nothing."""
        assert translate(**fields).payload.get("generationConfig", {}) == config

    @pytest.mark.parametrize(
        ("stop", "expected"),
        [
            ("END", ["END"]),
            ("", None),
            (["a", "", "b"], ["a", "b"]),
            (["1", "2", "3", "4", "5", "6", "7"], ["1", "2", "3", "4", "5"]),
            ([], None),
        ],
    )
    def test_stop_sequences(self, translate: Translate, stop: Any, expected: list[str] | None) -> None:
        """F#13: a string becomes a list, empty strings are ignored, at most 5 are kept."""
        assert translate(stop=stop).payload.get("generationConfig", {}).get("stopSequences") == expected

    def test_max_completion_tokens_wins(self, translate: Translate) -> None:
        """F#21: with both, max_completion_tokens is used."""
        call = translate(max_tokens=10, max_completion_tokens=500)
        assert call.payload["generationConfig"]["maxOutputTokens"] == 500

    def test_json_schema_response_format_is_cleaned(self, translate: Translate) -> None:
        """D.1: json_schema sets the JSON mime type and a cleaned responseSchema; name/strict dropped."""
        schema = {
            "type": "object",
            "properties": {"a": {"type": "string", "format": "uuid"}},
            "additionalProperties": False,
        }
        call = translate(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "strict": True, "schema": schema},
            }
        )
        assert call.payload["generationConfig"] == {
            "responseMimeType": "application/json",
            "responseSchema": {
                "type": "object",
                "properties": {"a": {"type": "string", "description": "Format: uuid."}},
            },
        }

    def test_json_schema_without_properties_sends_mime_only(self, translate: Translate) -> None:
        """D.8 #8: an empty object schema constrains nothing, so only the JSON mime type is sent."""
        call = translate(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "object"}},
            }
        )
        assert call.payload["generationConfig"] == {"responseMimeType": "application/json"}

    @pytest.mark.parametrize(
        ("fields", "param"),
        [
            ({"temperature": 3}, "temperature"),
            ({"temperature": "hot"}, "temperature"),
            ({"temperature": True}, "temperature"),
            ({"top_p": 1.5}, "top_p"),
            ({"top_k": 0}, "top_k"),
            ({"n": 0}, "n"),
            ({"n": 1.5}, "n"),
            ({"max_tokens": 0}, "max_tokens"),
            ({"max_completion_tokens": "many"}, "max_completion_tokens"),
            ({"max_completion_tokens": 1e300}, "max_completion_tokens"),
            ({"seed": 2**64}, "seed"),
            ({"presence_penalty": 3}, "presence_penalty"),
            ({"seed": "x"}, "seed"),
            ({"stop": 5}, "stop"),
            ({"stop": ["a", 5]}, "stop[1]"),
            ({"logprobs": "yes"}, "logprobs"),
            ({"top_logprobs": 2}, "top_logprobs"),
            ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
            ({"response_format": "json"}, "response_format"),
            ({"response_format": {"type": "xml"}}, "response_format.type"),
            ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
            ({"modalities": ["text", "audio"]}, "modalities[1]"),
            ({"stream": "yes"}, "stream"),
            ({"stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
            ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
            ({"model": 5}, "model"),
            ({"model": "../admin"}, "model"),
            ({"google": []}, "google"),
            ({"google": {"cached_content": 1}}, "google.cached_content"),
            ({"google": {"safety_settings": [1]}}, "google.safety_settings[0]"),
        ],
    )
    def test_invalid_values_name_the_field(
        self, translate: Translate, fields: dict[str, Any], param: str
    ) -> None:
        """Out-of-range or wrongly typed parameters are a 400 naming the field."""
        with pytest.raises(InvalidRequest) as raised:
            translate(**fields)
        assert raised.value.param == param

    def test_body_must_be_object(self) -> None:
        """A JSON body that is not an object is a 400."""
        with pytest.raises(InvalidRequest):
            chat_to_gemini([1, 2], TranslateOptions(), None, 0.0)

    def test_unknown_fields_are_ignored(self, translate: Translate) -> None:
        """F#22: unknown and vendor fields never cause a 400."""
        call = translate(
            frobnicate={"a": 1},
            extra_body={"x": 1},
            service_tier="auto",
            prediction={"type": "content"},
            verbosity="low",
            web_search_options={},
            top_k=5,
        )
        assert call.payload["generationConfig"] == {"topK": 5}


class TestStreamFlags:
    """Stream, usage and parallel tool calls flags of the call."""

    @pytest.mark.parametrize(
        ("fields", "stream", "include_usage", "path"),
        [
            ({}, False, False, "/v1beta/models/gemini-2.5-flash:generateContent"),
            ({"stream": True}, True, False, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
            ({"stream": True, "stream_options": {"include_usage": True}}, True, True, None),
            ({"stream": False, "stream_options": {"include_usage": True}}, False, False, None),
        ],
    )
    def test_stream_flags(
        self,
        translate: Translate,
        fields: dict[str, Any],
        stream: bool,
        include_usage: bool,
        path: str | None,
    ) -> None:
        """``stream`` picks the endpoint; include_usage only matters when streaming."""
        call = translate(**fields)
        assert (call.stream, call.include_usage) == (stream, include_usage)
        if path is not None:
            assert call.upstream_path == path

    @pytest.mark.parametrize(("value", "expected"), [(None, True), (True, True), (False, False)])
    def test_parallel_tool_calls(self, translate: Translate, value: bool | None, expected: bool) -> None:
        """``parallel_tool_calls`` defaults to true and is carried to the response side."""
        assert translate(parallel_tool_calls=value).parallel_tool_calls is expected


class TestTools:
    """D.1, F#15-F#17: tools and tool_choice."""

    def test_declarations_in_one_tool_object(self, translate: Translate) -> None:
        """D.1: all functions are declared in ONE Tool; strict dropped; empty parameters omitted."""
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "w",
                    "parameters": WEATHER_PARAMS,
                    "strict": True,
                },
            },
            function_tool("now", {"type": "object", "properties": {}}),
            function_tool("ping"),
        ]
        call = translate(tools=tools)
        assert call.payload["tools"] == [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "w", "parameters": WEATHER_PARAMS},
                    {"name": "now"},
                    {"name": "ping"},
                ]
            }
        ]
        assert "toolConfig" not in call.payload

    @pytest.mark.parametrize(
        ("choice", "config"),
        [
            ("auto", {"mode": "AUTO"}),
            ("none", {"mode": "NONE"}),
            ("required", {"mode": "ANY"}),
            (
                {"type": "function", "function": {"name": "get_weather"}},
                {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
            ),
            (
                {"type": "function", "name": "get_weather"},
                {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
            ),
        ],
    )
    def test_tool_choice_modes(self, translate: Translate, choice: Any, config: dict[str, Any]) -> None:
        """D.1: auto/none/required/named map to AUTO/NONE/ANY/ANY+allowed."""
        call = translate(tools=[function_tool("get_weather", WEATHER_PARAMS)], tool_choice=choice)
        assert call.payload["toolConfig"] == {"functionCallingConfig": config}

    @pytest.mark.parametrize(
        ("tools", "choice", "param"),
        [
            (
                [function_tool("a")],
                {"type": "function", "function": {"name": "b"}},
                "tool_choice.function.name",
            ),
            (None, {"type": "function", "function": {"name": "b"}}, "tool_choice.function.name"),
            (None, "required", "tool_choice"),
            ([function_tool("a")], "sometimes", "tool_choice"),
            ([function_tool("a")], 5, "tool_choice"),
        ],
    )
    def test_bad_tool_choice_is_400(self, translate: Translate, tools: Any, choice: Any, param: str) -> None:
        """F#15: naming a function that is not declared (or requiring one without tools) is a 400."""
        with pytest.raises(InvalidRequest) as raised:
            translate(tools=tools, tool_choice=choice)
        assert raised.value.param == param

    def test_none_with_tool_history_keeps_declarations(self, translate: Translate) -> None:
        """F#16: tool_choice none keeps declarations and history, with mode NONE."""
        call = translate(
            [
                user("x"),
                assistant_calls(("c", "get_weather", '{"city":"Oslo"}')),
                tool_result("c", "cold"),
                user("and now?"),
            ],
            tools=[function_tool("get_weather", WEATHER_PARAMS)],
            tool_choice="none",
        )
        assert call.payload["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
        assert call.payload["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        assert call.payload["contents"][1]["parts"][0]["functionCall"]["name"] == "get_weather"

    @pytest.mark.parametrize(
        ("original", "sanitised"),
        [
            ("get weather", "get_weather"),
            ("1st_tool", "_1st_tool"),
            ("x" * 80, "x" * 64),
            ("ünïcode", "_n_code"),
            ("ok-name.v2:x", "ok-name.v2:x"),
        ],
    )
    def test_names_sanitised_and_mapped_back(
        self, translate: Translate, original: str, sanitised: str
    ) -> None:
        """F#17: rejected names are sanitised consistently in tools, choice and history, with a reverse map."""
        call = translate(
            [user("x"), assistant_calls(("c", original, "{}")), tool_result("c", "ok")],
            tools=[function_tool(original)],
            tool_choice={"type": "function", "function": {"name": original}},
        )
        assert call.payload["tools"][0]["functionDeclarations"][0]["name"] == sanitised
        assert call.payload["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == [sanitised]
        assert call.payload["contents"][1]["parts"][0]["functionCall"]["name"] == sanitised
        assert call.payload["contents"][2]["parts"][0]["functionResponse"]["name"] == sanitised
        assert call.tool_name_map.get(sanitised, sanitised) == original

    def test_colliding_sanitised_names_stay_distinct(self, translate: Translate) -> None:
        """F#17: two names that sanitise alike get distinct Gemini names, each mapped back."""
        call = translate(tools=[function_tool("a b"), function_tool("a_b"), function_tool("a-b")])
        names = [d["name"] for d in call.payload["tools"][0]["functionDeclarations"]]
        assert len(set(names)) == 3
        assert [call.tool_name_map.get(n, n) for n in names] == ["a b", "a_b", "a-b"]

    @pytest.mark.parametrize(
        ("tools", "param"),
        [
            ("x", "tools"),
            ([{"type": "code_interpreter"}], "tools[0].type"),
            ([{"type": "function"}], "tools[0].function"),
            ([{"type": "function", "function": {"name": ""}}], "tools[0].function.name"),
            ([function_tool("a"), function_tool("a")], "tools[1].function.name"),
            ([function_tool("a", "not a schema")], "tools[0].function.parameters"),  # type: ignore[arg-type]
        ],
    )
    def test_invalid_tools_are_400(self, translate: Translate, tools: Any, param: str) -> None:
        """Malformed tool declarations name the offending field."""
        with pytest.raises(InvalidRequest) as raised:
            translate(tools=tools)
        assert raised.value.param == param


class TestThinking:
    """D.9, F#20: reasoning_effort per model family."""

    @pytest.mark.parametrize(
        ("model", "effort", "config"),
        [
            ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
            ("gemini-2.5-flash", "minimal", {"thinkingBudget": 1024}),
            ("gemini-2.5-flash", "low", {"thinkingBudget": 1024}),
            ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192}),
            ("gemini-2.5-flash", "high", {"thinkingBudget": 24576}),
            ("gemini-2.5-flash", "xhigh", {"thinkingBudget": 24576}),
            ("gemini-2.5-pro", "none", {"thinkingBudget": 128}),
            ("gemini-2.5-pro", "max", {"thinkingBudget": 32768}),
            ("gemini-2.5-flash-lite", "none", {"thinkingBudget": 0}),
            ("gemini-3-flash-preview", "none", {"thinkingLevel": "minimal"}),
            ("gemini-3-flash-preview", "medium", {"thinkingLevel": "medium"}),
            ("gemini-3-pro-preview", "none", {"thinkingLevel": "low"}),
            ("gemini-3-pro-preview", "medium", {"thinkingLevel": "high"}),
            ("gemini-3-pro-preview", "xhigh", {"thinkingLevel": "high"}),
            ("gemini-2.0-flash", "high", None),
            ("gemma-3-27b-it", "low", None),
        ],
    )
    def test_reasoning_effort_table(
        self, translate: Translate, model: str, effort: str, config: dict[str, Any] | None
    ) -> None:
        """D.9/F#20: budgets for 2.5, levels for 3.x, minimum instead of off where it cannot be off, nothing for others."""
        call = translate(model=model, reasoning_effort=effort)
        assert call.payload.get("generationConfig", {}).get("thinkingConfig") == config

    def test_absent_effort_sends_nothing(self, translate: Translate) -> None:
        """D.9: without reasoning_effort the model default applies."""
        assert "generationConfig" not in translate(model="gemini-2.5-pro").payload

    def test_table_is_configurable(self, translate: Translate) -> None:
        """D.9: an operator table replaces Google's numbers."""
        options = TranslateOptions(
            thinking_budgets=ThinkingTable(
                budgets={"low": 256, "medium": 2048, "high": 4096, "none": 0, "minimal": 128}
            )
        )
        call = translate(reasoning_effort="medium", options=options)
        assert call.payload["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048}

    def test_unknown_effort_is_400(self, translate: Translate) -> None:
        """An unknown reasoning_effort names the field."""
        with pytest.raises(InvalidRequest) as raised:
            translate(reasoning_effort="extreme")
        assert raised.value.param == "reasoning_effort"

    def test_google_thinking_config_passes_through(self, translate: Translate) -> None:
        """D.1: ``google.thinking_config`` is sent camelCased and asks for thoughts back."""
        call = translate(google={"thinking_config": {"thinking_budget": 2000, "include_thoughts": True}})
        assert call.payload["generationConfig"]["thinkingConfig"] == {
            "thinkingBudget": 2000,
            "includeThoughts": True,
        }
        assert call.include_thoughts is True

    def test_include_thoughts_combines_with_effort(self, translate: Translate) -> None:
        """include_thoughts alone combines with reasoning_effort."""
        call = translate(reasoning_effort="low", google={"thinking_config": {"include_thoughts": True}})
        assert call.payload["generationConfig"]["thinkingConfig"] == {
            "thinkingBudget": 1024,
            "includeThoughts": True,
        }

    @pytest.mark.parametrize(
        ("fields", "param"),
        [
            (
                {"reasoning_effort": "low", "google": {"thinking_config": {"thinking_budget": 10}}},
                "reasoning_effort",
            ),
            (
                {"google": {"thinking_config": {"thinking_budget": 10, "thinking_level": "low"}}},
                "google.thinking_config",
            ),
            (
                {"google": {"thinking_config": {"thinking_budget": "lots"}}},
                "google.thinking_config.thinking_budget",
            ),
            ({"google": {"thinking_config": "on"}}, "google.thinking_config"),
        ],
    )
    def test_conflicting_thinking_settings_are_400(
        self, translate: Translate, fields: dict[str, Any], param: str
    ) -> None:
        """D.12: two amounts of thinking at once, or malformed config, are refused."""
        with pytest.raises(InvalidRequest) as raised:
            translate(**fields)
        assert raised.value.param == param

    @pytest.mark.parametrize(("model", "sent"), [("gemini-2.5-flash", True), ("gemini-2.0-flash", False)])
    def test_include_thoughts_default_only_for_thinking_models(
        self, translate: Translate, options_factory: Callable[..., TranslateOptions], model: str, sent: bool
    ) -> None:
        """The operator default asks thinking models for thoughts and leaves other models alone."""
        call = translate(model=model, options=options_factory(include_thoughts_default=True))
        config = call.payload.get("generationConfig", {}).get("thinkingConfig")
        assert (config == {"includeThoughts": True}) is sent
        assert call.include_thoughts is True


class TestExtensionsAndSafety:
    """D.1: the google extension key and default safety settings."""

    def test_default_safety_settings_sent(self, translate: Translate) -> None:
        """Configured safety settings go with every request."""
        settings = ({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},)
        call = translate(options=TranslateOptions(safety_settings=settings))
        assert call.payload["safetySettings"] == list(settings)

    def test_request_safety_settings_replace_default(self, translate: Translate) -> None:
        """``google.safety_settings`` replaces the configured list."""
        mine = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}]
        options = TranslateOptions(safety_settings=({"category": "X", "threshold": "Y"},))
        call = translate(options=options, google={"safety_settings": mine})
        assert call.payload["safetySettings"] == mine

    def test_no_safety_settings_by_default(self, translate: Translate) -> None:
        """Without configuration no safetySettings field is sent."""
        assert "safetySettings" not in translate().payload

    def test_cached_content(self, translate: Translate) -> None:
        """``google.cached_content`` becomes cachedContent."""
        assert (
            translate(google={"cached_content": "cachedContents/abc"}).payload["cachedContent"]
            == "cachedContents/abc"
        )


class TestModelNames:
    """F#48: model names normalise consistently."""

    @pytest.mark.parametrize(
        ("requested", "model", "echoed"),
        [
            ("gemini-2.5-flash", "gemini-2.5-flash", "gemini-2.5-flash"),
            ("models/gemini-2.5-pro", "gemini-2.5-pro", "models/gemini-2.5-pro"),
            ("gemini/gemini-2.5-pro", "gemini-2.5-pro", "gemini/gemini-2.5-pro"),
            ("google/models/gemini-2.0-flash", "gemini-2.0-flash", "google/models/gemini-2.0-flash"),
            ("gemini-flash-latest", "gemini-flash-latest", "gemini-flash-latest"),
            ("gpt-4o", "gemini-2.5-pro", "gpt-4o"),
            ("openai-fast", "gemini-2.5-flash-lite", "openai-fast"),
            ("models/gpt-4o", "gemini-2.5-pro", "models/gpt-4o"),
            (None, "gemini-2.5-flash", "gemini-2.5-flash"),
            ("", "gemini-2.5-flash", "gemini-2.5-flash"),
        ],
    )
    def test_model_resolution(self, requested: str | None, model: str, echoed: str) -> None:
        """F#48: prefixes stripped, aliases applied, default used; the requested name is echoed."""
        options = TranslateOptions(
            aliases={"gpt-4o": "gemini-2.5-pro", "openai-fast": "models/gemini-2.5-flash-lite"}
        )
        body: dict[str, Any] = {"messages": [user("hi")]}
        if requested is not None:
            body["model"] = requested
        call = chat_to_gemini(body, options, None, 0.0)
        assert (call.model, call.requested_model) == (model, echoed)
        assert call.upstream_path.startswith(f"/v1beta/models/{model}:")
