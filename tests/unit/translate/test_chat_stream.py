"""The D.11 stream state machine over scripted upstream event sequences (F#25-F#31)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gemini_proxy.translate.chat_request import GeminiChatCall
from gemini_proxy.translate.chat_stream import SSE_DONE, ChatStreamTranslator, encode_sse
from gemini_proxy.translate.options import IdSource
from gemini_proxy.translate.signatures import SignatureCache

CallFactory = Callable[..., GeminiChatCall]
USAGE_1 = {"promptTokenCount": 8, "totalTokenCount": 8}
USAGE_2 = {"promptTokenCount": 8, "candidatesTokenCount": 6, "thoughtsTokenCount": 26, "totalTokenCount": 40}


def event(
    *parts: dict[str, Any],
    finish: str | None = None,
    index: int | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish is not None:
        cand["finishReason"] = finish
    if index is not None:
        cand["index"] = index
    result: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    if usage is not None:
        result["usageMetadata"] = usage
    return result


def run(
    call: GeminiChatCall,
    ids: IdSource,
    events: list[dict[str, Any]],
    signatures: SignatureCache | None = None,
) -> tuple[list[dict[str, Any]], ChatStreamTranslator]:
    translator = ChatStreamTranslator(call, created=1700, new_id=ids, signatures=signatures, now=0.0)
    chunks = [chunk for e in events for chunk in translator.feed(e)]
    return [*chunks, *translator.finish()], translator


def deltas(chunks: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any], str | None]]:
    return [
        (c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"])
        for c in chunks
        if c.get("choices")
    ]


def call_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tc for _, delta, _ in deltas(chunks) for tc in delta.get("tool_calls", [])]


class TestText:
    """D.11: plain text streams."""

    def test_canonical_text_sequence(self, call_factory: CallFactory, ids: IdSource) -> None:
        """C.3: role chunk, content deltas, finish chunk with empty delta; same id/created/model throughout."""
        chunks, translator = run(
            call_factory(stream=True), ids, [event({"text": "Hel"}), event({"text": "lo"}, finish="STOP")]
        )
        assert deltas(chunks) == [
            (0, {"role": "assistant", "content": ""}, None),
            (0, {"content": "Hel"}, None),
            (0, {"content": "lo"}, None),
            (0, {}, "stop"),
        ]
        assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
            ("chatcmpl-id1", 1700, "gemini-2.5-flash", "chat.completion.chunk")
        }
        assert all("usage" not in c for c in chunks)
        assert translator.completed and not translator.failed

    def test_requested_model_echoed(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: chunks carry the model name the client asked for."""
        chunks, _ = run(
            call_factory(stream=True, requested_model="gpt-4o"), ids, [event({"text": "x"}, finish="STOP")]
        )
        assert {c["model"] for c in chunks} == {"gpt-4o"}

    def test_several_text_parts_in_one_event_are_one_delta(
        self, call_factory: CallFactory, ids: IdSource
    ) -> None:
        """Adjacent text parts of one event go out as one content delta."""
        chunks, _ = run(call_factory(), ids, [event({"text": "a"}, {"text": "b"}, finish="STOP")])
        assert deltas(chunks)[1] == (0, {"content": "ab"}, None)

    def test_empty_text_and_usage_only_chunks_emit_nothing(
        self, call_factory: CallFactory, ids: IdSource
    ) -> None:
        """F#28: empty text parts and a final usage-only chunk produce no empty deltas."""
        events = [event({"text": "x"}), event({"text": ""}), event(finish="STOP"), {"usageMetadata": USAGE_2}]
        chunks, translator = run(call_factory(), ids, events)
        assert deltas(chunks) == [
            (0, {"role": "assistant", "content": ""}, None),
            (0, {"content": "x"}, None),
            (0, {}, "stop"),
        ]
        assert translator.last_usage == USAGE_2

    def test_signature_only_part_emits_nothing(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#29: a thoughtSignature on an empty text part does not produce an empty delta."""
        chunks, _ = run(
            call_factory(),
            ids,
            [event({"text": "hi"}), event({"text": "", "thoughtSignature": "c2ln"}, finish="STOP")],
        )
        assert [d for _, d, _ in deltas(chunks)] == [
            {"role": "assistant", "content": ""},
            {"content": "hi"},
            {},
        ]

    def test_events_after_finish_are_ignored(self, call_factory: CallFactory, ids: IdSource) -> None:
        """A finished choice emits nothing more."""
        chunks, _ = run(call_factory(), ids, [event({"text": "a"}, finish="STOP"), event({"text": "late"})])
        assert {"content": "late"} not in [d for _, d, _ in deltas(chunks)]

    def test_logprobs_ride_on_content_delta(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.7: an event's logprobs are attached to its content chunk."""
        evt = event({"text": "Hi"}, finish="STOP")
        evt["candidates"][0]["logprobsResult"] = {
            "chosenCandidates": [{"token": "Hi", "logProbability": -0.2}]
        }
        chunks, _ = run(call_factory(), ids, [evt])
        content_chunk = next(c for c in chunks if c["choices"][0]["delta"].get("content") == "Hi")
        assert content_chunk["choices"][0]["logprobs"]["content"][0]["token"] == "Hi"


class TestThoughts:
    """F#29: thought parts."""

    @pytest.mark.parametrize(
        ("include", "expected"),
        [
            (False, [{"role": "assistant", "content": ""}, {"content": "Answer"}, {}]),
            (
                True,
                [
                    {"role": "assistant", "content": ""},
                    {"reasoning_content": "Thinking..."},
                    {"content": "Answer"},
                    {},
                ],
            ),
        ],
    )
    def test_thoughts_only_as_reasoning_content(
        self, call_factory: CallFactory, ids: IdSource, include: bool, expected: list[dict[str, Any]]
    ) -> None:
        """F#29: thoughts never leak into content; they are reasoning_content when asked for."""
        events = [event({"text": "Thinking...", "thought": True}), event({"text": "Answer"}, finish="STOP")]
        chunks, _ = run(call_factory(include_thoughts=include), ids, events)
        assert [d for _, d, _ in deltas(chunks)] == expected

    def test_thought_then_text_in_one_event_are_two_deltas(
        self, call_factory: CallFactory, ids: IdSource
    ) -> None:
        """Reasoning and content in one event stay separate and in order."""
        chunks, _ = run(
            call_factory(include_thoughts=True),
            ids,
            [event({"text": "t", "thought": True}, {"text": "a"}, finish="STOP")],
        )
        assert [d for _, d, _ in deltas(chunks)][1:3] == [{"reasoning_content": "t"}, {"content": "a"}]


class TestToolCalls:
    """F#25, F#26: tool calls in streams."""

    def test_text_and_call_in_one_chunk(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#25: content delta then tool_calls delta, order preserved; finish is tool_calls."""
        chunks, _ = run(
            call_factory(),
            ids,
            [
                event(
                    {"text": "Let me check."},
                    {"functionCall": {"name": "f", "args": {"a": 1}}},
                    finish="STOP",
                )
            ],
        )
        assert deltas(chunks) == [
            (0, {"role": "assistant", "content": ""}, None),
            (0, {"content": "Let me check."}, None),
            (
                0,
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_id2",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a":1}'},
                        }
                    ]
                },
                None,
            ),
            (0, {}, "tool_calls"),
        ]

    def test_parallel_calls_in_one_chunk(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#26: several calls in one chunk each get their own index and id, complete in one delta."""
        chunks, _ = run(
            call_factory(),
            ids,
            [
                event(
                    {"functionCall": {"name": "a", "args": {}}},
                    {"functionCall": {"name": "b", "args": {"x": "y"}}},
                    finish="STOP",
                )
            ],
        )
        calls = call_deltas(chunks)
        assert [(c["index"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
            (0, "a", "{}"),
            (1, "b", '{"x":"y"}'),
        ]
        assert len({c["id"] for c in calls}) == 2

    def test_calls_across_chunks_never_reuse_index(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#26: calls spread over chunks get indexes 0, 1, 2."""
        events = [
            event({"functionCall": {"name": "a", "args": {}}}),
            event({"text": "and"}),
            event({"functionCall": {"name": "b", "args": {}}}, {"functionCall": {"name": "c", "args": {}}}),
            event(finish="STOP"),
        ]
        chunks, _ = run(call_factory(), ids, events)
        assert [c["index"] for c in call_deltas(chunks)] == [0, 1, 2]
        assert deltas(chunks)[-1] == (0, {}, "tool_calls")

    def test_signature_on_call_delta_and_cached(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.10: the signature is exposed on the delta and cached under its id."""
        cache = SignatureCache()
        chunks, _ = run(
            call_factory(),
            ids,
            [event({"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}, finish="STOP")],
            cache,
        )
        (call,) = call_deltas(chunks)
        assert call["extra_content"] == {"google": {"thought_signature": "c2ln"}}
        cached = cache.get(call["id"], now=1.0)
        assert cached is not None
        assert cached.signature == "c2ln"

    def test_parallel_false_keeps_first_call(self, call_factory: CallFactory, ids: IdSource) -> None:
        """D.1: parallel_tool_calls false streams only the first call of the choice."""
        events = [
            event({"functionCall": {"name": "a", "args": {}}}),
            event({"functionCall": {"name": "b", "args": {}}}, finish="STOP"),
        ]
        chunks, _ = run(call_factory(parallel_tool_calls=False), ids, events)
        assert [c["function"]["name"] for c in call_deltas(chunks)] == ["a"]

    def test_name_mapped_back(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#17: sanitised names are restored in stream deltas."""
        chunks, _ = run(
            call_factory(tool_name_map={"a_b": "a b"}),
            ids,
            [event({"functionCall": {"name": "a_b", "args": {}}}, finish="STOP")],
        )
        assert call_deltas(chunks)[0]["function"]["name"] == "a b"


class TestUsage:
    """C.3, F#32: usage in streams."""

    def test_include_usage_adds_null_usage_and_final_chunk(
        self, call_factory: CallFactory, ids: IdSource
    ) -> None:
        """C.3: usage null on every chunk, then one choices-less chunk with the LAST usage (never summed)."""
        events = [event({"text": "a"}, usage=USAGE_1), event({"text": "b"}, finish="STOP", usage=USAGE_2)]
        chunks, _ = run(call_factory(include_usage=True), ids, events)
        *normal, last = chunks
        assert all(c["usage"] is None for c in normal)
        assert last["choices"] == []
        assert (
            last["usage"]["prompt_tokens"],
            last["usage"]["completion_tokens"],
            last["usage"]["total_tokens"],
        ) == (8, 32, 40)
        assert last["id"] == normal[0]["id"]

    def test_usage_only_in_last_chunk(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#28: usage arriving only with the final (candidate-less) chunk is used."""
        events = [event({"text": "a"}), event(finish="STOP"), {"usageMetadata": USAGE_2}]
        chunks, _ = run(call_factory(include_usage=True), ids, events)
        assert chunks[-1]["usage"]["total_tokens"] == 40

    def test_no_usage_without_include_usage(self, call_factory: CallFactory, ids: IdSource) -> None:
        """C.3: without include_usage no chunk carries usage."""
        chunks, _ = run(
            call_factory(include_usage=False), ids, [event({"text": "a"}, finish="STOP", usage=USAGE_2)]
        )
        assert all("usage" not in c for c in chunks)


class TestFailures:
    """F#24, F#30, F#31: blocks, cut streams and errors."""

    def test_prompt_blocked(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#24: a blocked prompt streams role, refusal and a content_filter finish; no error."""
        chunks, translator = run(
            call_factory(), ids, [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE_1}]
        )
        assert deltas(chunks)[0] == (0, {"role": "assistant", "content": ""}, None)
        assert "SAFETY" in deltas(chunks)[1][1]["refusal"]
        assert deltas(chunks)[-1] == (0, {}, "content_filter")
        assert translator.completed

    def test_output_safety_block(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#23: a final chunk with SAFETY and no content ends with content_filter."""
        chunks, _ = run(
            call_factory(),
            ids,
            [event({"text": "par"}), {"candidates": [{"finishReason": "SAFETY", "index": 0}]}],
        )
        assert deltas(chunks)[-1] == (0, {}, "content_filter")

    @pytest.mark.parametrize(
        "events", [[], [event({"text": "partial"})], [event({"functionCall": {"name": "f", "args": {}}})]]
    )
    def test_cut_stream_is_error_not_stop(
        self, call_factory: CallFactory, ids: IdSource, events: list[dict[str, Any]]
    ) -> None:
        """F#30: EOF without finishReason ends in an error chunk, then usage when asked."""
        chunks, translator = run(call_factory(include_usage=True), ids, events)
        error, usage = chunks[-2:]
        assert error["error"]["code"] == "upstream_stream_broken"
        assert error["error"]["type"] == "server_error"
        assert usage["choices"] == []
        assert all(f != "stop" for _, _, f in deltas(chunks))
        assert translator.failed

    def test_error_mid_stream(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#31: an error object in the stream becomes an OpenAI error chunk; nothing follows but finish's usage."""
        translator = ChatStreamTranslator(call_factory(), created=1, new_id=ids, signatures=None, now=0.0)
        assert len(translator.feed(event({"text": "a"}))) == 2
        (error,) = translator.feed(
            {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
        )
        assert error == {
            "error": {
                "message": "The model is overloaded.",
                "type": "server_error",
                "param": None,
                "code": "unavailable",
            }
        }
        assert translator.failed
        assert translator.feed(event({"text": "more"}, finish="STOP")) == []
        assert translator.finish() == []
        assert translator.finish() == []

    def test_interleaved_candidates(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#14: with n>1 choices interleave by index, each with its own role and finish."""
        events = [
            event({"text": "a0"}, index=0),
            event({"text": "b1"}, index=1),
            event(finish="STOP", index=0),
            event({"functionCall": {"name": "f", "args": {}}}, finish="STOP", index=1),
        ]
        chunks, translator = run(call_factory(), ids, events)
        by_index: dict[int, list[Any]] = {0: [], 1: []}
        for index, delta, finish in deltas(chunks):
            by_index[index].append(finish or delta)
        assert by_index[0] == [{"role": "assistant", "content": ""}, {"content": "a0"}, "stop"]
        assert by_index[1][-1] == "tool_calls"
        assert translator.completed

    def test_one_unfinished_choice_of_two_is_cut(self, call_factory: CallFactory, ids: IdSource) -> None:
        """F#30: every choice seen must finish, else the stream was cut."""
        chunks, _ = run(
            call_factory(), ids, [event({"text": "a"}, index=0, finish="STOP"), event({"text": "b"}, index=1)]
        )
        assert chunks[-1]["error"]["code"] == "upstream_stream_broken"


class TestSseEncoding:
    """C.3: SSE framing of chunks."""

    def test_encode_sse_and_done(self) -> None:
        """Each chunk is ``data: <json>`` plus a blank line; the end marker is ``data: [DONE]``."""
        encoded = encode_sse({"a": "é"})
        assert encoded.startswith(b"data: ") and encoded.endswith(b"\n\n")
        assert orjson.loads(encoded[6:]) == {"a": "é"}
        assert SSE_DONE == b"data: [DONE]\n\n"
