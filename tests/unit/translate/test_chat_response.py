"""Gemini generateContent responses -> OpenAI chat.completion (D.7, F#19-F#35)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gemini_proxy.translate.chat_request import GeminiChatCall
from gemini_proxy.translate.chat_response import gemini_to_chat
from gemini_proxy.translate.options import IdSource
from gemini_proxy.translate.signatures import SignatureCache, signature_from_id
from gemini_proxy.translate.usage import usage_to_openai

CallFactory = Callable[..., GeminiChatCall]


def candidate(*parts: dict[str, Any], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, **extra}
    if finish is not None:
        result["finishReason"] = finish
    return result


def translate_response(
    call: GeminiChatCall,
    ids: IdSource,
    *candidates: dict[str, Any],
    signatures: SignatureCache | None = None,
    **top: Any,
) -> dict[str, Any]:
    return gemini_to_chat(
        {"candidates": list(candidates), **top},
        call,
        created=1700,
        new_id=ids,
        signatures=signatures,
        now=5.0,
    )


class TestEnvelope:
    """D.7: the response envelope."""

    def test_envelope_fields(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: id, object, created, the requested model echoed, usage present."""
        call = call_factory(requested_model="models/gemini-2.5-flash")
        result = translate_response(
            call,
            ids,
            candidate({"text": "Hi"}),
            usageMetadata={"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
        )
        assert result["object"] == "chat.completion"
        assert result["id"].startswith("chatcmpl-")
        assert result["created"] == 1700
        assert result["model"] == "models/gemini-2.5-flash"
        assert result["choices"] == [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ]
        assert result["usage"]["total_tokens"] == 4

    def test_text_parts_concatenated_without_separator(
        self, call_factory: CallFactory, ids: IdSource
    ) -> None:
        """D.7: non-thought text parts join into content as they are."""
        result = translate_response(
            call_factory(), ids, candidate({"text": "Hel"}, {"text": ""}, {"text": "lo"})
        )
        assert result["choices"][0]["message"]["content"] == "Hello"

    def test_candidates_become_choices_by_index(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#14: several candidates become choices ordered by their index."""
        result = translate_response(
            call_factory(),
            ids,
            candidate({"text": "third"}, index=2),
            candidate({"text": "second"}, index=1),
            candidate({"text": "first"}, index=0),
        )
        assert [(c["index"], c["message"]["content"]) for c in result["choices"]] == [
            (0, "first"),
            (1, "second"),
            (2, "third"),
        ]

    def test_missing_index_is_position(self, call_factory: CallFactory, ids: IdSource) -> None:
        """A.4: proto3 omits index 0; a candidate without index takes its position."""
        result = translate_response(
            call_factory(), ids, candidate({"text": "first"}), candidate({"text": "second"}, index=1)
        )
        assert [(c["index"], c["message"]["content"]) for c in result["choices"]] == [
            (0, "first"),
            (1, "second"),
        ]


class TestFinishReasons:
    """D.7.1: finish reason mapping."""

    @pytest.mark.parametrize(
        ("gemini", "with_call", "openai"),
        [
            ("STOP", False, "stop"),
            ("STOP", True, "tool_calls"),
            ("MAX_TOKENS", False, "length"),
            ("MAX_TOKENS", True, "length"),
            ("CONTINUATION", False, "length"),
            ("SAFETY", False, "content_filter"),
            ("RECITATION", False, "content_filter"),
            ("PROHIBITED_CONTENT", False, "content_filter"),
            ("SPII", False, "content_filter"),
            ("BLOCKLIST", False, "content_filter"),
            ("IMAGE_SAFETY", False, "content_filter"),
            ("MALFORMED_FUNCTION_CALL", False, "stop"),
            ("UNEXPECTED_TOOL_CALL", False, "stop"),
            ("LANGUAGE", False, "stop"),
            ("OTHER", False, "stop"),
            ("SOMETHING_NEW_2027", False, "stop"),
            (None, False, "stop"),
        ],
    )
    def test_mapping(
        self, call_factory: CallFactory, ids: IdSource, gemini: str | None, with_call: bool, openai: str
    ) -> None:
        """D.7.1, F#33, F#34: every Gemini reason maps to one of OpenAI's literals; unknown ones are stop."""
        parts = [{"functionCall": {"name": "f", "args": {}}}] if with_call else [{"text": "x"}]
        result = translate_response(call_factory(), ids, candidate(*parts, finish=gemini))
        assert result["choices"][0]["finish_reason"] == openai

    def test_max_tokens_without_text(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#19: thinking ate the budget: length with empty content, not an error."""
        resp = {
            "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 10, "totalTokenCount": 15},
        }
        result = gemini_to_chat(resp, call_factory(), created=1, new_id=ids, signatures=None, now=0.0)
        assert result["choices"][0]["message"]["content"] == ""
        assert result["choices"][0]["finish_reason"] == "length"
        assert result["usage"]["completion_tokens"] == 10

    def test_malformed_function_call_is_empty_stop(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#33: MALFORMED_FUNCTION_CALL without content is stop with empty content."""
        result = translate_response(
            call_factory(), ids, {"finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}
        )
        assert result["choices"][0]["message"]["content"] == ""
        assert result["choices"][0]["finish_reason"] == "stop"


class TestBlocked:
    """F#23, F#24: safety blocks."""

    @pytest.mark.parametrize(
        "blocked_candidate",
        [
            {
                "finishReason": "SAFETY",
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "blocked": True}],
            },
            {"finishReason": "SAFETY", "content": {}},
            {"finishReason": "SAFETY", "content": {"role": "model"}},
            {"finishReason": "SAFETY", "content": {"parts": None}},
        ],
    )
    def test_candidate_without_content(
        self, call_factory: CallFactory, ids: IdSource, blocked_candidate: dict[str, Any]
    ) -> None:
        """F#23: no content or no parts must not crash: empty content, content_filter."""
        result = translate_response(call_factory(), ids, blocked_candidate)
        assert result["choices"][0]["message"]["content"] == ""
        assert result["choices"][0]["finish_reason"] == "content_filter"

    def test_prompt_blocked(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#24: no candidates + blockReason: 200 with one content_filter choice explaining why, prompt usage only."""
        resp = {
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "nope"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        }
        result = gemini_to_chat(resp, call_factory(), created=1, new_id=ids, signatures=None, now=0.0)
        (choice,) = result["choices"]
        assert choice["finish_reason"] == "content_filter"
        assert choice["message"]["content"] == ""
        assert "PROHIBITED_CONTENT" in choice["message"]["refusal"]
        assert "nope" in choice["message"]["refusal"]
        assert result["usage"]["prompt_tokens"] == 9
        assert result["usage"]["completion_tokens"] == 0

    def test_no_candidates_without_block_reason(self, call_factory: CallFactory, ids: IdSource) -> None:
        """An empty response that was not blocked is an empty stop choice."""
        result = gemini_to_chat({}, call_factory(), created=1, new_id=ids, signatures=None, now=0.0)
        assert result["choices"][0]["finish_reason"] == "stop"
        assert result["choices"][0]["message"]["refusal"] is None


class TestToolCalls:
    """D.7, D.10, F#27: functionCall parts become tool calls."""

    def test_tool_calls_with_null_content(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: only tool calls -> content null, arguments compact JSON, synthesized ids."""
        result = translate_response(
            call_factory(),
            ids,
            candidate(
                {"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}}},
                {"functionCall": {"name": "now"}},
            ),
        )
        message = result["choices"][0]["message"]
        assert message["content"] is None
        assert message["tool_calls"] == [
            {
                "id": "call_id1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'},
            },
            {"id": "call_id2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
        ]
        assert result["choices"][0]["finish_reason"] == "tool_calls"

    def test_no_args_gives_empty_object(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#27: a functionCall without args has arguments "{}"."""
        result = translate_response(call_factory(), ids, candidate({"functionCall": {"name": "f"}}))
        assert result["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"

    def test_text_and_tool_call(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: text is kept next to tool calls."""
        result = translate_response(
            call_factory(), ids, candidate({"text": "Checking."}, {"functionCall": {"name": "f", "args": {}}})
        )
        message = result["choices"][0]["message"]
        assert message["content"] == "Checking."
        assert len(message["tool_calls"]) == 1

    def test_upstream_id_kept(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.10: an id the upstream gave is used as the tool call id."""
        result = translate_response(
            call_factory(), ids, candidate({"functionCall": {"id": "up-1", "name": "f", "args": {}}})
        )
        assert result["choices"][0]["message"]["tool_calls"][0]["id"] == "up-1"

    def test_sanitised_name_restored(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#17: the client's original function name comes back."""
        call = call_factory(tool_name_map={"get_weather": "get weather"})
        result = translate_response(
            call, ids, candidate({"functionCall": {"name": "get_weather", "args": {}}})
        )
        assert result["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get weather"

    def test_signature_exposed_and_cached(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.10: a signature is exposed in extra_content and cached with the name under the call id."""
        cache = SignatureCache()
        result = translate_response(
            call_factory(),
            ids,
            candidate(
                {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "g", "args": {}}},
            ),
            signatures=cache,
        )
        first, second = result["choices"][0]["message"]["tool_calls"]
        assert first["extra_content"] == {"google": {"thought_signature": "c2ln"}}
        assert "extra_content" not in second
        cached = cache.get(first["id"], now=6.0)
        assert cached is not None
        assert (cached.signature, cached.name) == ("c2ln", "f")
        second_cached = cache.get(second["id"], now=6.0)
        assert second_cached is not None
        assert (second_cached.signature, second_cached.name) == (None, "g")

    def test_signature_embedded_in_id_when_enabled(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.10 layer 3: with id signatures on, the id carries the signature."""
        result = translate_response(
            call_factory(embed_signatures_in_ids=True),
            ids,
            candidate({"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}),
        )
        assert signature_from_id(result["choices"][0]["message"]["tool_calls"][0]["id"]) == "c2ln"

    def test_parallel_tool_calls_false_keeps_first(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.1: with parallel_tool_calls false only the first call is returned."""
        result = translate_response(
            call_factory(parallel_tool_calls=False),
            ids,
            candidate(
                {"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b", "args": {}}}
            ),
        )
        assert [t["function"]["name"] for t in result["choices"][0]["message"]["tool_calls"]] == ["a"]


class TestThoughtsAndExtras:
    """F#29, F#35: thoughts and non-text parts."""

    @pytest.mark.parametrize(("include", "reasoning"), [(False, None), (True, "Let me think.")])
    def test_thoughts_never_in_content(
        self, call_factory: CallFactory, ids: IdSource, include: bool, reasoning: str | None
    ) -> None:
        """F#29: thought text goes to reasoning_content only when asked, never into content."""
        result = translate_response(
            call_factory(include_thoughts=include),
            ids,
            candidate(
                {"text": "Let me think.", "thought": True}, {"text": "Answer.", "thoughtSignature": "x"}
            ),
        )
        message = result["choices"][0]["message"]
        assert message["content"] == "Answer."
        assert message.get("reasoning_content") == reasoning

    def test_code_execution_and_inline_data_rendered(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#35: executableCode, codeExecutionResult and inlineData are rendered into content."""
        result = translate_response(
            call_factory(),
            ids,
            candidate(
                {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                {"videoMetadata": {}},
                "not a part",  # type: ignore[arg-type]
            ),
        )
        content = result["choices"][0]["message"]["content"]
        assert "```python\nprint(1)\n```" in content
        assert "```output\n1\n\n```" in content
        assert "![image](data:image/png;base64,AAAA)" in content


class TestLogprobs:
    """D.7: logprobsResult -> choices[k].logprobs."""

    def test_logprobs_shape(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: chosen tokens with their top alternatives, bytes included."""
        logprobs_result = {
            "chosenCandidates": [
                {"token": "Hi", "logProbability": -0.1},
                {"token": "!", "logProbability": -0.5},
            ],
            "topCandidates": [
                {
                    "candidates": [
                        {"token": "Hi", "logProbability": -0.1},
                        {"token": "Hey", "logProbability": -2.0},
                    ]
                }
            ],
        }
        result = translate_response(
            call_factory(), ids, candidate({"text": "Hi!"}, logprobsResult=logprobs_result)
        )
        assert result["choices"][0]["logprobs"] == {
            "content": [
                {
                    "token": "Hi",
                    "logprob": -0.1,
                    "bytes": [72, 105],
                    "top_logprobs": [
                        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                        {"token": "Hey", "logprob": -2.0, "bytes": [72, 101, 121]},
                    ],
                },
                {"token": "!", "logprob": -0.5, "bytes": [33], "top_logprobs": []},
            ],
            "refusal": None,
        }


class TestUsage:
    """D.7.2, F#32: usage mapping."""

    @pytest.mark.parametrize(
        ("metadata", "prompt", "completion", "total", "reasoning", "cached"),
        [
            (
                {
                    "promptTokenCount": 10,
                    "candidatesTokenCount": 5,
                    "thoughtsTokenCount": 25,
                    "totalTokenCount": 40,
                },
                10,
                30,
                40,
                25,
                0,
            ),
            ({"promptTokenCount": 8, "totalTokenCount": 8}, 8, 0, 8, 0, 0),
            (
                {"promptTokenCount": 8, "toolUsePromptTokenCount": 2, "candidatesTokenCount": 1},
                10,
                1,
                11,
                0,
                0,
            ),
            (
                {
                    "promptTokenCount": 100,
                    "cachedContentTokenCount": 60,
                    "candidatesTokenCount": 1,
                    "totalTokenCount": 101,
                },
                100,
                1,
                101,
                0,
                60,
            ),
            ({}, 0, 0, 0, 0, 0),
            (None, 0, 0, 0, 0, 0),
            ({"promptTokenCount": "x", "candidatesTokenCount": True}, 0, 0, 0, 0, 0),
        ],
    )
    def test_usage(
        self,
        metadata: dict[str, Any] | None,
        prompt: int,
        completion: int,
        total: int,
        reasoning: int,
        cached: int,
    ) -> None:
        """D.7.2/F#32: thoughts count as completion; missing counts are 0; total computed when absent."""
        usage = usage_to_openai(metadata)
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
            prompt,
            completion,
            total,
        )
        assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning
        assert usage["prompt_tokens_details"]["cached_tokens"] == cached

    def test_audio_tokens_from_details(self) -> None:
        """Audio prompt tokens are read from the modality details."""
        usage = usage_to_openai(
            {
                "promptTokenCount": 30,
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 10},
                    {"modality": "AUDIO", "tokenCount": 20},
                ],
            }
        )
        assert usage["prompt_tokens_details"]["audio_tokens"] == 20

    def test_response_is_json_serialisable(self, call_factory: CallFactory, ids: IdSource) -> None:
        """The whole translated response serialises with orjson."""
        result = translate_response(
            call_factory(), ids, candidate({"text": "é"}, {"functionCall": {"name": "f", "args": {"n": 1.5}}})
        )
        assert orjson.loads(orjson.dumps(result)) == result
