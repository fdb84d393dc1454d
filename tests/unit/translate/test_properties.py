"""Property tests: valid requests always translate, invalid ones only ever raise InvalidRequest,
and translating responses back never loses text or tool calls."""

from __future__ import annotations

import base64
import contextlib
import itertools
import random
import struct
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.chat_request import GeminiChatCall, chat_to_gemini
from gemini_proxy.translate.chat_response import gemini_to_chat
from gemini_proxy.translate.chat_stream import ChatStreamTranslator
from gemini_proxy.translate.embeddings import encode_base64_floats
from gemini_proxy.translate.options import TranslateOptions, random_id_source
from gemini_proxy.translate.schema import clean_schema
from gemini_proxy.translate.signatures import SignatureCache
from gemini_proxy.translate.sse import SSEDecoder

from .builders import JPEG_BASE64, PNG_BASE64

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPTIONS = TranslateOptions(aliases={"gpt-4o": "gemini-2.5-pro"})
ALLOWED_SCHEMA_KEYS = frozenset(
    {
        "type", "format", "description", "nullable", "enum", "items", "properties", "required", "minItems",
        "maxItems", "minimum", "maximum", "anyOf", "minLength", "maxLength", "pattern", "minProperties",
        "maxProperties", "propertyOrdering", "example", "title",
    }
)  # fmt: skip

# ---------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
visible_text = st.text(min_size=1, max_size=30).filter(lambda s: not s.isspace())
function_names = st.text(min_size=1, max_size=70)

image_urls = st.sampled_from(
    [
        f"data:image/png;base64,{PNG_BASE64}",
        f"DATA:image/jpg;base64,{JPEG_BASE64}",
        f"data:image/png,{PNG_BASE64}",
        f"data:;base64,{PNG_BASE64[:30]}\n{PNG_BASE64[30:]}",
    ]
)
text_part = st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=20))
image_part = image_urls.flatmap(
    lambda url: st.sampled_from(
        [
            {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
            {"type": "image_url", "image_url": url},
        ]
    )
)
user_content = st.one_of(
    visible_text,
    st.lists(st.one_of(text_part, image_part), min_size=1, max_size=3).map(
        lambda parts: [{"type": "text", "text": "q"}, *parts]
    ),
)

schema_leaf: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": 0},
        {"type": ["string", "null"]},
        {"type": "string", "format": "email"},
        {"enum": ["a", "b"]},
        {"const": 3},
        {"$ref": "#/$defs/Thing"},
        {},
    ]
)
schemas: st.SearchStrategy[dict[str, Any]] = st.recursive(
    schema_leaf,
    lambda children: st.one_of(
        st.dictionaries(st.text(min_size=1, max_size=5), children, min_size=1, max_size=3).map(
            lambda props: {
                "type": "object",
                "properties": props,
                "required": list(props)[:1],
                "additionalProperties": False,
            }
        ),
        children.map(lambda item: {"type": "array", "items": item}),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
        st.lists(children, min_size=1, max_size=3).map(
            lambda branches: {"oneOf": [*branches, {"type": "null"}]}
        ),
    ),
    max_leaves=6,
)
DEFS = {
    "Thing": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Thing"}},
    }
}


@st.composite
def tool_step(draw: st.DrawFn, step: int) -> list[dict[str, Any]]:
    """An assistant message with tool calls and the tool results answering them, in any order."""
    count = draw(st.integers(min_value=1, max_value=3))
    calls = []
    for index in range(count):
        call: dict[str, Any] = {
            "id": f"call_{step}_{index}",
            "type": "function",
            "function": {
                "name": draw(function_names),
                "arguments": orjson.dumps(
                    draw(st.dictionaries(st.text(max_size=5), json_scalars, max_size=3))
                ).decode(),
            },
        }
        if draw(st.booleans()):
            call["extra_content"] = {"google": {"thought_signature": "c2ln"}}
        calls.append(call)
    assistant = {
        "role": "assistant",
        "content": draw(st.one_of(st.none(), st.text(max_size=10))),
        "tool_calls": calls,
    }
    results = [
        {
            "role": "tool",
            "tool_call_id": c["id"],
            "content": draw(st.one_of(st.text(max_size=10), st.just('{"ok": true}'))),
        }
        for c in calls
    ]
    return [assistant, *draw(st.permutations(results))]


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(st.text(max_size=20))}
        )
    messages.append({"role": "user", "content": draw(user_content)})
    for step in range(draw(st.integers(min_value=0, max_value=4))):
        kind = draw(st.sampled_from(["user", "assistant", "tools", "system"]))
        if kind == "user":
            messages.append({"role": "user", "content": draw(user_content)})
        elif kind == "assistant":
            messages.append({"role": "assistant", "content": draw(st.text(max_size=20))})
        elif kind == "system":
            messages.append({"role": "system", "content": draw(st.text(max_size=20))})
        else:
            messages.extend(draw(tool_step(step)))
    return messages


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": draw(
            st.sampled_from(
                [
                    "gemini-2.5-flash",
                    "models/gemini-2.5-pro",
                    "gemini-3-pro-preview",
                    "gpt-4o",
                    "gemini-2.0-flash",
                ]
            )
        ),
        "messages": draw(conversations()),
    }
    names = draw(st.lists(function_names, max_size=3, unique=True))
    if names:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": "d",
                    "parameters": {**draw(schemas), "$defs": DEFS},
                },
            }
            for name in names
        ]
        body["tool_choice"] = draw(
            st.sampled_from(
                ["auto", "none", "required", {"type": "function", "function": {"name": names[0]}}]
            )
        )
    optional = {
        "temperature": st.floats(min_value=0, max_value=2),
        "top_p": st.floats(min_value=0, max_value=1),
        "n": st.integers(min_value=1, max_value=4),
        "stop": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=7)),
        "max_tokens": st.integers(min_value=1, max_value=10_000),
        "max_completion_tokens": st.integers(min_value=1, max_value=10_000),
        "presence_penalty": st.floats(min_value=-2, max_value=2),
        "seed": st.integers(min_value=-(2**31), max_value=2**31),
        "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh", "max"]),
        "response_format": st.sampled_from(
            [
                {"type": "text"},
                {"type": "json_object"},
                {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                },
            ]
        ),
        "stream": st.booleans(),
        "stream_options": st.just({"include_usage": True}),
        "parallel_tool_calls": st.booleans(),
        "user": st.text(max_size=5),
        "vendor_extension": json_values,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    return body


def all_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(all_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(all_paths(child, (*prefix, index)))
    return paths


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = replaced(value[head], tuple(rest), new)
    return copy


def check_schema_keys(schema: Any) -> None:
    assert isinstance(schema, dict)
    assert set(schema) <= ALLOWED_SCHEMA_KEYS, set(schema) - ALLOWED_SCHEMA_KEYS
    for sub in (schema.get("properties") or {}).values():
        check_schema_keys(sub)
    if "items" in schema:
        check_schema_keys(schema["items"])
    for branch in schema.get("anyOf", []):
        check_schema_keys(branch)


# ---------------------------------------------------------------- request properties


class TestRequestProperties:
    """Any valid request translates; anything else is an InvalidRequest at worst."""

    @FAST
    @given(chat_requests())
    def test_valid_requests_always_translate(self, body: dict[str, Any]) -> None:
        """Valid requests never raise and yield a well-formed, serialisable generateContent body."""
        call = chat_to_gemini(body, OPTIONS, SignatureCache(), 0.0)
        contents = call.payload["contents"]
        assert contents[0]["role"] == "user"
        for previous, current in itertools.pairwise(contents):
            assert previous["role"] != current["role"]
        for content in contents:
            assert content["parts"]
            for part in content["parts"]:
                if "text" in part:
                    assert part["text"].strip()
        sent_calls = sum(1 for c in contents for p in c["parts"] if "functionCall" in p)
        assert sent_calls == sum(len(m.get("tool_calls") or []) for m in body["messages"])
        for tool in call.payload.get("tools", []):
            for declaration in tool["functionDeclarations"]:
                if "parameters" in declaration:
                    check_schema_keys(declaration["parameters"])
        orjson.dumps(call.payload)

    @FAST
    @given(chat_requests(), st.data())
    def test_mutated_requests_raise_only_invalid_request(
        self, body: dict[str, Any], data: st.DataObject
    ) -> None:
        """Replacing any field with any JSON value gives a translation or an InvalidRequest, nothing else."""
        path = data.draw(st.sampled_from(all_paths(body)))
        mutated = replaced(body, path, data.draw(json_values))
        error: InvalidRequest | None = None
        try:
            call = chat_to_gemini(mutated, OPTIONS, SignatureCache(), 0.0)
        except InvalidRequest as raised:
            error = raised
        else:
            orjson.dumps(call.payload)
        if error is not None:
            assert error.status == 400
            assert error.message

    @FAST
    @given(json_values)
    def test_arbitrary_json_bodies_raise_only_invalid_request(self, body: Any) -> None:
        """Any JSON body at all is a translation or an InvalidRequest."""
        with contextlib.suppress(InvalidRequest):
            chat_to_gemini(body, OPTIONS, None, 0.0)

    @FAST
    @given(schemas, json_values)
    def test_schema_cleaner_output_is_gemini_subset(self, schema: dict[str, Any], noise: Any) -> None:
        """Cleaned schemas hold only Gemini's keywords, whatever the input keywords were."""
        dirty = {**schema, "$defs": DEFS, "additionalProperties": noise, "examples": [noise]}
        check_schema_keys(clean_schema(dirty))


# ---------------------------------------------------------------- response properties

response_parts = st.one_of(
    st.builds(lambda t: {"text": t}, st.text(max_size=15)),
    st.builds(lambda t: {"text": t, "thought": True}, st.text(max_size=15)),
    st.builds(lambda t: {"text": "", "thoughtSignature": t}, st.text(min_size=1, max_size=5)),
    st.builds(
        lambda name, args, sig: {
            "functionCall": {"name": name, "args": args},
            **({"thoughtSignature": sig} if sig else {}),
        },
        st.text(min_size=1, max_size=10),
        st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    ),
)


def expected_output(parts: list[dict[str, Any]]) -> tuple[str, list[tuple[str, Any]]]:
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    calls = [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts if "functionCall" in p]
    return text, calls


def response_call(**overrides: Any) -> GeminiChatCall:
    fields: dict[str, Any] = {
        "model": "gemini-2.5-flash",
        "requested_model": "gemini-2.5-flash",
        "stream": True,
        "include_usage": True,
        "include_thoughts": False,
        "payload": {},
        "tool_name_map": {},
        "parallel_tool_calls": True,
    }
    fields.update(overrides)
    return GeminiChatCall(**fields)


class TestResponseProperties:
    """Translating Gemini output back never loses text or tool calls."""

    @FAST
    @given(st.lists(response_parts, max_size=8), st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "OTHER"]))
    def test_whole_response_keeps_text_and_calls(self, parts: list[dict[str, Any]], finish: str) -> None:
        """Every non-thought text is in content, every functionCall is a tool call with equal name and args."""
        resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}]}
        result = gemini_to_chat(
            resp,
            response_call(),
            created=1,
            new_id=random_id_source(random.Random(1)),
            signatures=SignatureCache(),
            now=0.0,
        )
        message = result["choices"][0]["message"]
        text, calls = expected_output(parts)
        assert (message["content"] or "") == text
        got = [
            (t["function"]["name"], orjson.loads(t["function"]["arguments"]))
            for t in message.get("tool_calls", [])
        ]
        assert got == calls
        assert len({t["id"] for t in message.get("tool_calls", [])}) == len(calls)
        assert result["choices"][0]["finish_reason"] in {"stop", "length", "tool_calls", "content_filter"}

    @FAST
    @given(st.lists(response_parts, max_size=8), st.data())
    def test_stream_keeps_text_and_calls_however_split(
        self, parts: list[dict[str, Any]], data: st.DataObject
    ) -> None:
        """Split into any events, the stream's deltas add up to the same text and calls, indexes 0..n-1."""
        cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(parts)), max_size=4)))
        bounds = [0, *cuts, len(parts)]
        events: list[dict[str, Any]] = [
            {"candidates": [{"content": {"role": "model", "parts": parts[a:b]}}]}
            for a, b in itertools.pairwise(bounds)
        ]
        events.append({"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 1}})
        translator = ChatStreamTranslator(
            response_call(), created=1, new_id=random_id_source(random.Random(2)), signatures=None, now=0.0
        )
        chunks = [chunk for event in events for chunk in translator.feed(event)] + translator.finish()
        text, calls = expected_output(parts)
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        assert "".join(d.get("content") or "" for d in deltas) == text
        tool_deltas = [t for d in deltas for t in d.get("tool_calls", [])]
        assert [
            (t["function"]["name"], orjson.loads(t["function"]["arguments"])) for t in tool_deltas
        ] == calls
        assert [t["index"] for t in tool_deltas] == list(range(len(calls)))
        assert chunks[-1]["usage"]["prompt_tokens"] == 1
        assert not translator.failed


# ---------------------------------------------------------------- wire-level properties


class TestWireProperties:
    """SSE decoding and base64 embeddings."""

    @FAST
    @given(
        st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=3), max_size=5),
        st.sampled_from([b"\n", b"\r\n"]),
        st.data(),
    )
    def test_sse_decoder_split_anywhere(
        self, events: list[dict[str, Any]], newline: bytes, data: st.DataObject
    ) -> None:
        """However the byte stream is cut, the decoder returns exactly the events encoded."""
        stream = b"".join(b"data: " + orjson.dumps(e) + newline + newline for e in events)
        cuts = sorted(set(data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=10))))
        decoder = SSEDecoder()
        decoded: list[dict[str, Any]] = []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=False):
            decoded.extend(decoder.feed(stream[start:end]))
        decoded.extend(decoder.finish())
        assert decoded == events

    @FAST
    @given(st.lists(st.floats(width=32, allow_nan=False), max_size=64))
    def test_base64_embedding_round_trip(self, values: list[float]) -> None:
        """Base64 embeddings decode back to the same float32 values."""
        raw = base64.b64decode(encode_base64_floats(values))
        assert list(struct.unpack(f"<{len(values)}f", raw)) == values
