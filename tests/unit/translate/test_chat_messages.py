"""OpenAI messages -> Gemini contents: roles, merging, ordering, tool turns, signatures."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.signatures import DUMMY_SIGNATURE, SignatureCache, embed_signature

from .builders import Translate, assistant_calls, tool_result, user


def roles(contents: list[dict[str, Any]]) -> list[str]:
    return [content["role"] for content in contents]


class TestEmptyContent:
    """F#1: empty text is dropped; a conversation without user content is a 400."""

    @pytest.mark.parametrize("content", ["", "   \n", [], [{"type": "text", "text": ""}], None])
    def test_empty_user_message_is_dropped(self, translate: Translate, content: Any) -> None:
        """F#1: an empty or whitespace user message adds no Content."""
        call = translate([user("hello"), {"role": "assistant", "content": "hi"}, user(content)])
        assert call.payload["contents"] == [
            {"role": "user", "parts": [{"text": "hello"}]},
            {"role": "model", "parts": [{"text": "hi"}]},
        ]

    @pytest.mark.parametrize(
        "messages",
        [
            [user("")],
            [user("  ")],
            [user([])],
            [{"role": "assistant", "content": "hello"}],
        ],
    )
    def test_no_user_content_is_400(self, translate: Translate, messages: list[Any]) -> None:
        """F#1: without any non-empty user content the request is refused locally."""
        with pytest.raises(InvalidRequest) as raised:
            translate(messages)
        assert raised.value.param == "messages"

    def test_empty_text_parts_skipped_among_others(self, translate: Translate) -> None:
        """F#1: empty text parts inside a part list are skipped, others kept in order."""
        content = [{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]
        call = translate([user(content)])
        assert call.payload["contents"][0]["parts"] == [{"text": "a"}, {"text": "b"}]

    def test_empty_messages_list_is_400(self, translate: Translate) -> None:
        """An empty ``messages`` array names the field."""
        with pytest.raises(InvalidRequest) as raised:
            translate([])
        assert raised.value.param == "messages"


class TestAssistantToolCalls:
    """F#2, F#3, F#7: assistant tool calls become functionCall parts."""

    def test_content_and_tool_calls_text_first(self, translate: Translate) -> None:
        """F#2: text part first, then the functionCall parts in order."""
        call = translate(
            [
                user("weather?"),
                assistant_calls(
                    ("c1", "get_weather", '{"city":"Paris"}'),
                    ("c2", "get_time", "{}"),
                    content="Let me check.",
                ),
                tool_result("c1", "sunny"),
                tool_result("c2", "noon"),
            ]
        )
        assert call.payload["contents"][1] == {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        }

    def test_null_content_gives_only_function_calls(self, translate: Translate) -> None:
        """F#3: ``content: null`` adds no empty text part."""
        call = translate([user("x"), assistant_calls(("c1", "f", "{}")), tool_result("c1", "ok")])
        assert call.payload["contents"][1]["parts"] == [{"functionCall": {"name": "f", "args": {}}}]

    @pytest.mark.parametrize(
        ("arguments", "args"),
        [
            ("", {}),
            ("   ", {}),
            (None, {}),
            ("null", {}),
            ('{"a": [1, 2]}', {"a": [1, 2]}),
            ("[1, 2]", {"value": [1, 2]}),
            ("42", {"value": 42}),
            ({"already": "object"}, {"already": "object"}),
        ],
    )
    def test_arguments_become_args_object(
        self, translate: Translate, arguments: Any, args: dict[str, Any]
    ) -> None:
        """F#7: empty arguments are {}, non-objects are wrapped in ``value``."""
        message = {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
            ],
        }
        call = translate([user("x"), message, tool_result("c1", "ok")])
        assert call.payload["contents"][1]["parts"][0]["functionCall"]["args"] == args

    @pytest.mark.parametrize("arguments", ["{not json", '{"a": 1', "{'a': 1}"])
    def test_invalid_arguments_json_is_400_naming_the_field(
        self, translate: Translate, arguments: str
    ) -> None:
        """F#7: invalid JSON arguments are a 400 naming the exact field."""
        with pytest.raises(InvalidRequest) as raised:
            translate(
                [
                    user("x"),
                    assistant_calls(("c0", "f", "{}"), ("c1", "f", arguments)),
                    tool_result("c1", "ok"),
                ]
            )
        assert raised.value.param == "messages[1].tool_calls[1].function.arguments"

    def test_wrong_type_of_arguments_is_400(self, translate: Translate) -> None:
        """Arguments that are neither a string nor an object are a type error."""
        message = {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 5}}],
        }
        with pytest.raises(InvalidRequest) as raised:
            translate([user("x"), message])
        assert raised.value.code == "invalid_type"

    def test_legacy_function_call_and_function_role(self, translate: Translate) -> None:
        """Deprecated ``function_call`` and role ``function`` round-trip as a call and its response."""
        call = translate(
            [
                user("x"),
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "f", "arguments": '{"a":1}'},
                },
                {"role": "function", "name": "f", "content": "done"},
            ]
        )
        assert call.payload["contents"][1:] == [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "done"}}}]},
        ]


class TestToolResults:
    """F#4, F#5, F#6: tool messages become functionResponse parts."""

    def test_results_reordered_to_call_order(self, translate: Translate) -> None:
        """F#4: N results form one user turn in the order of the calls, whatever the send order."""
        call = translate(
            [
                user("x"),
                assistant_calls(("a", "fa", "{}"), ("b", "fb", "{}"), ("c", "fc", "{}")),
                tool_result("c", "3"),
                tool_result("a", "1"),
                tool_result("b", "2"),
            ]
        )
        last = call.payload["contents"][-1]
        assert last["role"] == "user"
        assert [p["functionResponse"]["name"] for p in last["parts"]] == ["fa", "fb", "fc"]
        assert [p["functionResponse"]["response"] for p in last["parts"]] == [
            {"result": 1},
            {"result": 2},
            {"result": 3},
        ]

    def test_result_then_user_text_merge_with_responses_first(self, translate: Translate) -> None:
        """D.3: a tool result followed by a user message is one user turn, responses first."""
        call = translate(
            [user("x"), assistant_calls(("a", "f", "{}")), tool_result("a", "ok"), user("thanks")]
        )
        assert call.payload["contents"][-1]["parts"] == [
            {"functionResponse": {"name": "f", "response": {"result": "ok"}}},
            {"text": "thanks"},
        ]

    def test_unknown_id_uses_message_name(self, translate: Translate) -> None:
        """F#5: an unknown ``tool_call_id`` falls back to the message's ``name``."""
        message = {"role": "tool", "tool_call_id": "zzz", "name": "lookup", "content": "{}"}
        call = translate([user("x"), message])
        assert call.payload["contents"][0]["parts"] == [
            {"functionResponse": {"name": "lookup", "response": {}}},
            {"text": "x"},
        ]

    def test_unknown_id_uses_signature_cache_name(self, translate: Translate) -> None:
        """F#5: an id the proxy emitted earlier is resolved through the cache."""
        cache = SignatureCache()
        cache.put("call_old", None, "get_weather", now=100.0)
        call = translate([user("x"), tool_result("call_old", "sunny")], signatures=cache, now=200.0)
        assert call.payload["contents"][0]["parts"][0]["functionResponse"]["name"] == "get_weather"

    def test_unknown_id_without_fallback_is_400(self, translate: Translate) -> None:
        """F#5: with no name anywhere, the 400 names the tool_call_id field."""
        with pytest.raises(InvalidRequest) as raised:
            translate([user("x"), tool_result("nope", "r")], signatures=SignatureCache())
        assert raised.value.param == "messages[1].tool_call_id"
        assert "nope" in raised.value.message

    @pytest.mark.parametrize(
        ("content", "response"),
        [
            ('{"temp": 21}', {"temp": 21}),
            ("sunny", {"result": "sunny"}),
            ("", {"result": ""}),
            (None, {"result": ""}),
            ("[1, 2]", {"result": [1, 2]}),
            ("3.5", {"result": 3.5}),
            ('"quoted"', {"result": "quoted"}),
            ([{"type": "text", "text": '{"a"'}, {"type": "text", "text": ": 1}"}], {"a": 1}),
            ([{"type": "text", "text": "plain"}], {"result": "plain"}),
        ],
    )
    def test_result_content_becomes_response_object(
        self, translate: Translate, content: Any, response: dict[str, Any]
    ) -> None:
        """F#6: objects stay, other JSON and plain text are wrapped as ``result``."""
        call = translate([user("x"), assistant_calls(("a", "f", "{}")), tool_result("a", content)])
        assert call.payload["contents"][-1]["parts"][0]["functionResponse"]["response"] == response

    def test_tool_result_image_goes_after_responses(self, translate: Translate) -> None:
        """D.6: an image in a tool result is an inlineData part after the function responses."""
        from .builders import PNG_BASE64

        content = [
            {"type": "text", "text": "see image"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}},
        ]
        call = translate(
            [
                user("x"),
                assistant_calls(("a", "f", "{}"), ("b", "g", "{}")),
                tool_result("a", content),
                tool_result("b", "ok"),
            ]
        )
        parts = call.payload["contents"][-1]["parts"]
        assert [next(iter(p)) for p in parts] == ["functionResponse", "functionResponse", "inlineData"]


class TestSystemMessages:
    """F#8: system and developer messages are hoisted."""

    def test_all_system_and_developer_hoisted_in_order(self, translate: Translate) -> None:
        """F#8: every system/developer message, even mid-conversation, joins systemInstruction in order."""
        call = translate(
            [
                {"role": "system", "content": "one"},
                user("q"),
                {"role": "developer", "content": [{"type": "text", "text": "two"}]},
                {"role": "assistant", "content": "a"},
                {"role": "system", "content": "three"},
                user("q2"),
            ]
        )
        assert call.payload["systemInstruction"] == {"parts": [{"text": "one\n\ntwo\n\nthree"}]}
        assert roles(call.payload["contents"]) == ["user", "model", "user"]

    def test_system_only_becomes_user_turn(self, translate: Translate) -> None:
        """F#8: a system-only request is sent as one user turn without systemInstruction."""
        call = translate([{"role": "system", "content": "Say hi"}])
        assert call.payload["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]
        assert "systemInstruction" not in call.payload

    def test_system_with_image_part_is_400(self, translate: Translate) -> None:
        """System messages may only hold text; anything else names the part."""
        content = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
        with pytest.raises(InvalidRequest) as raised:
            translate([{"role": "system", "content": content}, user("x")])
        assert raised.value.param == "messages[0].content[0].type"


class TestOrdering:
    """F#9, F#10: conversation shape."""

    def test_model_first_gets_filler_user_turn(self, translate: Translate) -> None:
        """F#9: a conversation starting with the assistant gets the filler user turn first."""
        call = translate([{"role": "assistant", "content": "Hello! How can I help?"}, user("hi")])
        assert call.payload["contents"][0] == {"role": "user", "parts": [{"text": "."}]}
        assert roles(call.payload["contents"]) == ["user", "model", "user"]

    def test_filler_is_configurable(self, translate: Translate, options_factory: Any) -> None:
        """F#9: the filler text comes from the options."""
        call = translate(
            [{"role": "assistant", "content": "Hi"}, user("x")],
            options=options_factory(filler_user_text="(start)"),
        )
        assert call.payload["contents"][0]["parts"] == [{"text": "(start)"}]

    def test_consecutive_user_messages_merge(self, translate: Translate) -> None:
        """F#10: consecutive user messages become one Content with all parts in order."""
        call = translate([user("a"), user([{"type": "text", "text": "b"}]), user("c")])
        assert call.payload["contents"] == [
            {"role": "user", "parts": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}
        ]

    def test_consecutive_assistant_messages_merge(self, translate: Translate) -> None:
        """D.3: consecutive assistant messages become one model Content."""
        call = translate(
            [user("q"), {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]
        )
        assert call.payload["contents"][1] == {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]}

    def test_dropped_empty_assistant_remerges_neighbours(self, translate: Translate) -> None:
        """D.3: an assistant message that ends up empty disappears and its neighbours merge."""
        call = translate([user("a"), {"role": "assistant", "content": ""}, user("b")])
        assert call.payload["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]

    @pytest.mark.parametrize(
        ("message", "param"),
        [
            ("not an object", "messages[0]"),
            ({"content": "x"}, "messages[0].role"),
            ({"role": "robot", "content": "x"}, "messages[0].role"),
            ({"role": "user", "content": 5}, "messages[0].content"),
            ({"role": "user", "content": [{"type": "video", "video": {}}]}, "messages[0].content[0].type"),
            ({"role": "user", "content": [{"text": "no type"}]}, "messages[0].content[0].type"),
            ({"role": "user", "content": [{"type": "text", "text": 3}]}, "messages[0].content[0].text"),
            ({"role": "assistant", "content": "x", "tool_calls": "no"}, "messages[0].tool_calls"),
            (
                {"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]},
                "messages[0].tool_calls[0].function.name",
            ),
            ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
        ],
    )
    def test_malformed_messages_name_the_field(self, translate: Translate, message: Any, param: str) -> None:
        """Every malformed message is a 400 whose ``param`` points at the field."""
        with pytest.raises(InvalidRequest) as raised:
            translate([message, user("x")])
        assert raised.value.param == param

    def test_refusal_part_and_field_become_text(self, translate: Translate) -> None:
        """D.4: an assistant refusal (part or field) is kept as text in the history."""
        call = translate(
            [
                user("a"),
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
                user("b"),
                {"role": "assistant", "content": None, "refusal": "Still no."},
                user("c"),
            ]
        )
        assert call.payload["contents"][1]["parts"] == [{"text": "I can't."}]
        assert call.payload["contents"][3]["parts"] == [{"text": "Still no."}]


def model_parts(translate: Translate, messages: list[Any], **kwargs: Any) -> list[dict[str, Any]]:
    call = translate(messages, **kwargs)
    return next(c["parts"] for c in call.payload["contents"] if c["role"] == "model")


class TestThoughtSignatures:
    """F#36, F#37, D.10: signatures restored on functionCall parts."""

    def test_echoed_extra_content_restores_signature(self, translate: Translate) -> None:
        """D.10 layer 1: ``extra_content.google.thought_signature`` goes back on its part."""
        message = assistant_calls(("c1", "f", "{}"))
        message["tool_calls"][0]["extra_content"] = {"google": {"thought_signature": "c2ln"}}
        parts = model_parts(translate, [user("x"), message, tool_result("c1", "ok")])
        assert parts[0]["thoughtSignature"] == "c2ln"

    def test_cache_restores_signature(self, translate: Translate) -> None:
        """F#36: a client that dropped extra_content is served from the cache."""
        cache = SignatureCache()
        cache.put("c1", "Y2FjaGVk", "f", now=0.0)
        parts = model_parts(
            translate,
            [user("x"), assistant_calls(("c1", "f", "{}")), tool_result("c1", "ok")],
            signatures=cache,
            now=10.0,
        )
        assert parts[0]["thoughtSignature"] == "Y2FjaGVk"

    def test_id_embedded_signature_restored(self, translate: Translate) -> None:
        """D.10 layer 3: a signature embedded in the id is split off and restored."""
        call_id = embed_signature("call_abc", "ZW1iZWQ=")
        parts = model_parts(
            translate, [user("x"), assistant_calls((call_id, "f", "{}")), tool_result(call_id, "ok")]
        )
        assert parts[0]["thoughtSignature"] == "ZW1iZWQ="

    def test_gemini3_dummy_only_on_first_call_of_each_step(self, translate: Translate) -> None:
        """F#36, F#37: Gemini 3 without signatures gets the dummy on each step's first call only."""
        call = translate(
            [
                user("x"),
                assistant_calls(("a", "f", "{}"), ("b", "g", "{}")),
                tool_result("a", "1"),
                tool_result("b", "2"),
                assistant_calls(("c", "f", "{}")),
                tool_result("c", "3"),
            ],
            model="gemini-3-pro-preview",
        )
        model_turns = [c["parts"] for c in call.payload["contents"] if c["role"] == "model"]
        assert [p.get("thoughtSignature") for p in model_turns[0]] == [DUMMY_SIGNATURE, None]
        assert [p.get("thoughtSignature") for p in model_turns[1]] == [DUMMY_SIGNATURE]

    def test_gemini25_gets_no_dummy(self, translate: Translate) -> None:
        """D.10: the dummy is only needed (and sent) for Gemini 3."""
        parts = model_parts(translate, [user("x"), assistant_calls(("a", "f", "{}")), tool_result("a", "1")])
        assert "thoughtSignature" not in parts[0]

    def test_parallel_calls_signature_not_copied(self, translate: Translate) -> None:
        """F#37: only the first call carries the signature; the others get none."""
        message = assistant_calls(("a", "f", "{}"), ("b", "g", "{}"))
        message["tool_calls"][0]["extra_content"] = {"google": {"thought_signature": "Zmlyc3Q="}}
        parts = model_parts(
            translate,
            [user("x"), message, tool_result("a", "1"), tool_result("b", "2")],
            model="gemini-3-flash",
        )
        assert [p.get("thoughtSignature") for p in parts] == ["Zmlyc3Q=", None]

    def test_expired_cache_entry_falls_back_to_dummy(self, translate: Translate) -> None:
        """F#36: an expired cache entry is not used; Gemini 3 then gets the dummy."""
        cache = SignatureCache(ttl_s=60)
        cache.put("a", "b2xk", "f", now=0.0)
        parts = model_parts(
            translate,
            [user("x"), assistant_calls(("a", "f", "{}")), tool_result("a", "1")],
            signatures=cache,
            now=61.0,
            model="gemini-3-flash",
        )
        assert parts[0]["thoughtSignature"] == DUMMY_SIGNATURE
