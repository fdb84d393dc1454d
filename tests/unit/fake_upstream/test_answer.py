"""Planning the fake model's answer from a request, and writing it as Gemini responses."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from gemini_proxy.fake_upstream.answer import Answer, plan_answer
from gemini_proxy.fake_upstream.request_fields import read_generate_request
from gemini_proxy.fake_upstream.responses import generate_response, split_text, stream_chunks
from tests.unit.fake_upstream.conftest import user_text

WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING"},
            "days": {"type": "INTEGER"},
            "metric": {"type": "BOOLEAN"},
            "unit": {"type": "STRING", "enum": ["C", "F"]},
        },
    },
}
TIME = {
    "name": "get_time",
    "parametersJsonSchema": {"type": "object", "properties": {"tz": {"type": ["string", "null"]}}},
}


def plan(body: dict[str, Any], model: str = "gemini-2.5-flash") -> Answer:
    """The answer the fake plans for ``body`` on ``model``."""
    return plan_answer(read_generate_request(body), model, "resp-1")


def respond(body: dict[str, Any], model: str = "gemini-2.5-flash") -> dict[str, Any]:
    """The unary response the fake gives to ``body``."""
    return generate_response(plan(body, model))


def parts_of(response: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """The parts of candidate ``index``."""
    parts: list[dict[str, Any]] = response["candidates"][index]["content"]["parts"]
    return parts


class TestText:
    def test_echoes_the_last_user_text(self) -> None:
        """The answer is 'Echo: ' and the last user turn's text, with STOP and the response ids."""
        body = {
            "contents": [
                {"role": "user", "parts": [{"text": "first"}]},
                {"role": "model", "parts": [{"text": "reply"}]},
                {"role": "user", "parts": [{"text": "second"}, {"text": "turn"}]},
            ]
        }
        response = respond(body)
        assert parts_of(response) == [{"text": "Echo: second turn"}]
        assert response["candidates"][0]["finishReason"] == "STOP"
        assert response["candidates"][0]["index"] == 0
        assert (response["modelVersion"], response["responseId"]) == ("gemini-2.5-flash", "resp-1")

    def test_usage_adds_up(self) -> None:
        """Prompt tokens are words of the request text; total = prompt + candidates + thoughts."""
        body = user_text("one two three", systemInstruction={"parts": [{"text": "be brief"}]})
        usage = respond(body)["usageMetadata"]
        assert usage["promptTokenCount"] == 5
        assert usage["candidatesTokenCount"] == 4
        assert usage["thoughtsTokenCount"] > 0
        assert usage["totalTokenCount"] == 5 + 4 + usage["thoughtsTokenCount"]

    def test_non_thinking_model_has_no_thought_tokens(self) -> None:
        """Gemini 2.0 does not think, so usage has no thoughtsTokenCount."""
        assert "thoughtsTokenCount" not in respond(user_text("hi"), "gemini-2.0-flash")["usageMetadata"]

    def test_zero_budget_turns_thinking_off(self) -> None:
        """thinking_budget 0 (snake_case, as the SDK sends it) turns 2.5 thinking off."""
        body = user_text("hi", generationConfig={"thinkingConfig": {"thinking_budget": 0}})
        assert "thoughtsTokenCount" not in respond(body)["usageMetadata"]

    @pytest.mark.parametrize("config_name", ["generationConfig", "generation_config"])
    def test_thought_summary_when_asked(self, config_name: str) -> None:
        """includeThoughts puts a thought part first (camelCase or snake_case config)."""
        body = user_text("ponder", **{config_name: {"thinking_config": {"include_thoughts": True}}})
        parts = parts_of(respond(body))
        assert parts[0] == {"text": "Thinking about: ponder", "thought": True}
        assert parts[1] == {"text": "Echo: ponder"}

    def test_several_candidates(self) -> None:
        """candidateCount n gives n candidates numbered by index and suffixed ' [i]'."""
        response = respond(user_text("hi", generationConfig={"candidateCount": 2}))
        assert [c["index"] for c in response["candidates"]] == [0, 1]
        assert [parts_of(response, i)[0]["text"] for i in range(2)] == ["Echo: hi [0]", "Echo: hi [1]"]

    def test_tiny_output_limit_gives_max_tokens_and_no_text(self) -> None:
        """maxOutputTokens below 3 ends with MAX_TOKENS and a content without parts."""
        candidate = respond(user_text("hi", generationConfig={"maxOutputTokens": 2}))["candidates"][0]
        assert candidate["finishReason"] == "MAX_TOKENS"
        assert candidate["content"] == {"role": "model"}

    def test_output_limit_truncates(self) -> None:
        """A limit shorter than the answer truncates it to that many words, with MAX_TOKENS."""
        candidate = respond(user_text("a b c d e", generationConfig={"maxOutputTokens": 3}))["candidates"][0]
        assert candidate["finishReason"] == "MAX_TOKENS"
        assert candidate["content"]["parts"] == [{"text": "Echo: a b"}]


class TestStructuredOutput:
    def test_json_mode_without_schema(self) -> None:
        """responseMimeType application/json gives {"echo": ...} as valid JSON text."""
        body = user_text("hi", generationConfig={"response_mime_type": "application/json"})
        assert orjson.loads(parts_of(respond(body))[0]["text"]) == {"echo": "Echo: hi"}

    def test_json_mode_fills_schema_properties(self) -> None:
        """A responseSchema with properties gives one value of the right type per property."""
        schema = {
            "type": "OBJECT",
            "properties": {
                "name": {"type": "STRING"},
                "age": {"type": "INTEGER"},
                "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            },
        }
        body = user_text(
            "hi", generationConfig={"responseMimeType": "application/json", "responseSchema": schema}
        )
        assert orjson.loads(parts_of(respond(body))[0]["text"]) == {"name": "x", "age": 1, "tags": ["x"]}

    def test_json_schema_dialect(self) -> None:
        """responseJsonSchema (raw JSON Schema) is honoured the same way."""
        schema = {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "score": {"anyOf": [{"type": "number"}]}},
        }
        config = {"responseMimeType": "application/json", "responseJsonSchema": schema, "candidateCount": 2}
        response = respond(user_text("hi", generationConfig=config))
        assert [orjson.loads(parts_of(response, i)[0]["text"]) for i in range(2)] == [
            {"ok": True, "score": 1}
        ] * 2


class TestFunctionCalling:
    def test_calls_the_first_declared_function(self) -> None:
        """Declared functions after a user text give one functionCall with typed placeholder args."""
        body = user_text("weather?", tools=[{"functionDeclarations": [WEATHER, TIME]}])
        parts = parts_of(respond(body))
        assert parts == [
            {
                "functionCall": {
                    "name": "get_weather",
                    "args": {"city": "x", "days": 1, "metric": True, "unit": "C"},
                }
            }
        ]

    def test_parallel_calls_two_functions(self) -> None:
        """The word 'parallel' gives calls to the first two declared functions."""
        body = user_text("do it in parallel", tools=[{"function_declarations": [WEATHER, TIME]}])
        calls = [p["functionCall"] for p in parts_of(respond(body))]
        assert [c["name"] for c in calls] == ["get_weather", "get_time"]
        assert calls[1]["args"] == {"tz": "x"}

    def test_parallel_with_one_function_calls_it_twice(self) -> None:
        """With one declared function, 'parallel' calls it twice."""
        body = user_text("parallel please", tools=[{"functionDeclarations": [TIME]}])
        assert [p["functionCall"]["name"] for p in parts_of(respond(body))] == ["get_time", "get_time"]

    def test_mode_any_uses_allowed_names(self) -> None:
        """Mode ANY with allowedFunctionNames calls the first allowed function."""
        body = user_text(
            "go",
            tools=[{"functionDeclarations": [WEATHER, TIME]}],
            toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}},
        )
        assert parts_of(respond(body))[0]["functionCall"]["name"] == "get_time"

    def test_mode_none_answers_text(self) -> None:
        """Mode NONE gives a text answer despite declared functions."""
        body = user_text(
            "go",
            tools=[{"functionDeclarations": [WEATHER]}],
            tool_config={"function_calling_config": {"mode": "NONE"}},
        )
        assert parts_of(respond(body)) == [{"text": "Echo: go"}]

    def test_function_responses_get_a_summary(self) -> None:
        """A last turn of functionResponse parts is answered 'Got N tool results: names'."""
        body = {
            "contents": [
                {"role": "user", "parts": [{"text": "weather and time"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "get_weather", "response": {"r": 1}}},
                        {"function_response": {"name": "get_time", "response": {"r": 2}}},
                    ],
                },
            ],
            "tools": [{"functionDeclarations": [WEATHER, TIME]}],
        }
        assert parts_of(respond(body)) == [{"text": "Got 2 tool results: get_weather, get_time"}]

    def test_gemini_3_signs_the_first_call_only(self) -> None:
        """On Gemini 3 the first functionCall part carries a base64 thoughtSignature, the second none."""
        body = user_text("parallel", tools=[{"functionDeclarations": [WEATHER, TIME]}])
        parts = parts_of(respond(body, "gemini-3-pro-preview"))
        assert base64.b64decode(parts[0]["thoughtSignature"])
        assert "thoughtSignature" not in parts[1]

    def test_gemini_3_signs_a_text_answer(self) -> None:
        """A unary Gemini 3 text answer carries its signature on the text part."""
        parts = parts_of(respond(user_text("hi"), "gemini-3-flash-preview"))
        assert parts[0]["text"] == "Echo: hi"
        assert base64.b64decode(parts[0]["thoughtSignature"])

    def test_gemini_2_5_calls_are_unsigned(self) -> None:
        """Gemini 2.5 calls carry no signature in the fake."""
        body = user_text("go", tools=[{"functionDeclarations": [WEATHER]}])
        assert "thoughtSignature" not in parts_of(respond(body))[0]


class TestSafety:
    def test_blocked_prompt(self) -> None:
        """BLOCKME gives no candidates, promptFeedback SAFETY and prompt-only usage."""
        response = respond(user_text("please BLOCKME now"))
        assert "candidates" not in response
        assert response["promptFeedback"]["blockReason"] == "SAFETY"
        assert (
            response["usageMetadata"]["totalTokenCount"] == response["usageMetadata"]["promptTokenCount"] == 3
        )

    def test_blocked_output(self) -> None:
        """UNSAFE_OUTPUT gives a SAFETY candidate without content and a blocked rating."""
        candidate = respond(user_text("say UNSAFE_OUTPUT"))["candidates"][0]
        assert candidate["finishReason"] == "SAFETY"
        assert "content" not in candidate
        assert any(r.get("blocked") for r in candidate["safetyRatings"])


class TestStreamChunks:
    def test_text_splits_into_the_requested_chunks(self) -> None:
        """Deltas join to the answer; finishReason only last; usage grows to the unary numbers."""
        answer = plan(user_text("stream this answer please"))
        chunks = stream_chunks(answer, 4)
        assert len(chunks) == 4
        assert (
            "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
            == "Echo: stream this answer please"
        )
        assert ["finishReason" in c["candidates"][0] for c in chunks] == [False, False, False, True]
        counts = [c["usageMetadata"].get("candidatesTokenCount", 0) for c in chunks]
        assert counts == sorted(counts)
        assert chunks[-1]["usageMetadata"] == generate_response(answer)["usageMetadata"]
        assert {c["responseId"] for c in chunks} == {"resp-1"}

    def test_more_chunks_than_characters(self) -> None:
        """A short answer still streams the requested number of chunks."""
        chunks = stream_chunks(plan(user_text("hi")), 100)
        assert len(chunks) == 100

    def test_thought_comes_first(self) -> None:
        """The thought summary is in the first chunk, before its text."""
        answer = plan(user_text("hi", generationConfig={"thinkingConfig": {"includeThoughts": True}}))
        first = stream_chunks(answer, 3)[0]["candidates"][0]["content"]["parts"]
        assert first[0]["thought"] is True

    def test_function_calls_arrive_whole_in_one_chunk(self) -> None:
        """A call-only answer streams as one chunk holding complete calls and the finish reason."""
        answer = plan(
            user_text("parallel", tools=[{"functionDeclarations": [WEATHER, TIME]}]), "gemini-3-flash-preview"
        )
        chunks = stream_chunks(answer, 5)
        assert len(chunks) == 1
        parts = chunks[0]["candidates"][0]["content"]["parts"]
        assert [p["functionCall"]["name"] for p in parts] == ["get_weather", "get_time"]
        assert "thoughtSignature" in parts[0]
        assert chunks[0]["candidates"][0]["finishReason"] == "STOP"

    def test_gemini_3_text_ends_with_a_signature_part(self) -> None:
        """On Gemini 3 the last chunk of a text answer has an empty text part carrying a signature."""
        chunks = stream_chunks(plan(user_text("hi"), "gemini-3-flash-preview"), 2)
        last_part = chunks[-1]["candidates"][0]["content"]["parts"][-1]
        assert last_part["text"] == ""
        assert base64.b64decode(last_part["thoughtSignature"])
        assert all("thoughtSignature" not in p for p in chunks[0]["candidates"][0]["content"]["parts"])

    def test_blocked_prompt_is_one_chunk(self) -> None:
        """A blocked prompt streams as a single promptFeedback chunk."""
        chunks = stream_chunks(plan(user_text("BLOCKME")), 3)
        assert len(chunks) == 1 and "promptFeedback" in chunks[0]

    @pytest.mark.parametrize(("text", "pieces"), [("abcdef", 3), ("ab", 5), ("", 2)])
    def test_split_text_keeps_every_character(self, text: str, pieces: int) -> None:
        """split_text gives exactly ``pieces`` slices that join back to the text."""
        sliced = split_text(text, pieces)
        assert len(sliced) == pieces and "".join(sliced) == text
