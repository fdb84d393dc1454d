"""Tool calling over several turns through the openai SDK, as clients echo history back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessage

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.translate.signatures import DUMMY_SIGNATURE
from tests.conftest import ProxyFactory, RunningProxy
from tests.integration.openai_sdk import async_client, sync_client, upstream_bodies

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"zone": {"type": "string"}},
                "required": ["zone"],
            },
        },
    },
]

Echo = Callable[[ChatCompletionMessage], dict[str, Any]]


def echo_model_dump(message: ChatCompletionMessage) -> dict[str, Any]:
    """The SDK's message object as it is (extra_content with the signature included)."""
    return message.model_dump()


def echo_plain_dict(message: ChatCompletionMessage) -> dict[str, Any]:
    """What many frameworks send back: only the standard fields, extra_content dropped."""
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls or []
            if call.type == "function"
        ],
    }


def _signature(message: ChatCompletionMessage, position: int) -> str | None:
    calls = message.tool_calls or []
    extra = (calls[position].model_extra or {}).get("extra_content") or {}
    signature = extra.get("google", {}).get("thought_signature")
    return signature if isinstance(signature, str) else None


def _results(message: ChatCompletionMessage) -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": call.id, "content": orjson.dumps({"ok": True}).decode()}
        for call in message.tool_calls or []
    ]


def _model_turn_parts(fake: RunningFake) -> list[list[dict[str, Any]]]:
    """The parts of every model turn in the last request the fake received."""
    contents = upstream_bodies(fake, "generateContent")[-1]["contents"]
    return [c["parts"] for c in contents if c.get("role") == "model"]


async def _create(proxy: RunningProxy, model: str, messages: list[Any]) -> ChatCompletion:
    async with async_client(proxy) as client:
        return await client.chat.completions.create(model=model, messages=messages, tools=TOOLS)


@pytest.mark.parametrize("echo", [echo_model_dump, echo_plain_dict], ids=["model_dump", "plain_dict"])
class TestToolTurns:
    async def test_three_turns_with_parallel_calls(self, proxy: RunningProxy, echo: Echo) -> None:
        """A call, its result, then two parallel calls and their results: every turn is accepted."""
        messages: list[Any] = [{"role": "user", "content": "weather in Paris please"}]
        first = await _create(proxy, "gemini-2.5-flash", messages)
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        calls = choice.message.tool_calls or []
        assert len(calls) == 1 and calls[0].type == "function"
        assert calls[0].function.name == "get_weather"
        assert orjson.loads(calls[0].function.arguments).keys() == {"city"}
        messages += [echo(choice.message), *_results(choice.message)]

        second = await _create(proxy, "gemini-2.5-flash", messages)
        assert second.choices[0].message.content == "Got 1 tool results: get_weather"
        messages += [echo(second.choices[0].message), {"role": "user", "content": "now both in parallel"}]

        third = await _create(proxy, "gemini-2.5-flash", messages)
        parallel = third.choices[0].message.tool_calls or []
        assert [c.function.name for c in parallel if c.type == "function"] == ["get_weather", "get_time"]
        assert len({c.id for c in parallel}) == 2
        messages += [echo(third.choices[0].message), *_results(third.choices[0].message)]

        fourth = await _create(proxy, "gemini-2.5-flash", messages)
        assert fourth.choices[0].message.content == "Got 2 tool results: get_weather, get_time"

    async def test_gemini_3_signatures_round_trip(
        self, proxy: RunningProxy, fake: RunningFake, echo: Echo
    ) -> None:
        """Gemini 3 gets each call's own signature back, from the echo or the proxy's cache: no 400."""
        model = "gemini-3-flash-preview"
        messages: list[Any] = [{"role": "user", "content": "weather in Paris"}]
        first = await _create(proxy, model, messages)
        signature = _signature(first.choices[0].message, 0)
        assert signature
        messages += [echo(first.choices[0].message), *_results(first.choices[0].message)]
        second = await _create(proxy, model, messages)
        assert second.choices[0].message.content == "Got 1 tool results: get_weather"
        assert _model_turn_parts(fake)[0][0]["thoughtSignature"] == signature

        messages += [echo(second.choices[0].message), {"role": "user", "content": "both in parallel"}]
        third = await _create(proxy, model, messages)
        parallel = third.choices[0].message
        assert len(parallel.tool_calls or []) == 2
        assert _signature(parallel, 0) and _signature(parallel, 1) is None
        messages += [echo(parallel), *_results(parallel)]
        fourth = await _create(proxy, model, messages)
        assert fourth.choices[0].message.content == "Got 2 tool results: get_weather, get_time"
        last_step = _model_turn_parts(fake)[-1]
        assert last_step[0]["thoughtSignature"] == _signature(parallel, 0)
        assert "thoughtSignature" not in last_step[1]


class TestToolsWithoutTheProxysMemory:
    async def test_gemini_3_history_from_elsewhere_gets_the_dummy_signature(
        self, proxy: RunningProxy, proxy_factory: ProxyFactory, fake: RunningFake
    ) -> None:
        """A follow-up the proxy never saw (no echo, no cache) is sent with the documented dummy."""
        model = "gemini-3-flash-preview"
        messages: list[Any] = [{"role": "user", "content": "weather in Paris"}]
        first = await _create(proxy, model, messages)
        other = await proxy_factory(upstream={"base_url": fake.url})
        messages += [echo_plain_dict(first.choices[0].message), *_results(first.choices[0].message)]
        second = await _create(other, model, messages)
        assert second.choices[0].message.content == "Got 1 tool results: get_weather"
        assert _model_turn_parts(fake)[0][0]["thoughtSignature"] == DUMMY_SIGNATURE


class TestStreamedToolCalls:
    async def test_parallel_calls_streamed(self, proxy: RunningProxy) -> None:
        """Streamed tool calls carry an index each; accumulated, they are two complete calls."""
        async with async_client(proxy) as client:
            stream = await client.chat.completions.create(
                model="gemini-2.5-flash",
                messages=[{"role": "user", "content": "both in parallel"}],
                tools=TOOLS,
                stream=True,
            )
            calls: dict[int, dict[str, str]] = {}
            finish: str | None = None
            async for chunk in stream:
                for choice in chunk.choices:
                    for delta in choice.delta.tool_calls or []:
                        entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                        entry["id"] += delta.id or ""
                        if delta.function is not None:
                            entry["name"] += delta.function.name or ""
                            entry["arguments"] += delta.function.arguments or ""
                    finish = choice.finish_reason or finish
        assert sorted(calls) == [0, 1]
        assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
        assert all(calls[i]["id"].startswith("call_") for i in (0, 1))
        assert orjson.loads(calls[0]["arguments"]).keys() == {"city"}
        assert finish == "tool_calls"

    async def test_sync_tool_call_with_forced_choice(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """tool_choice naming a function goes upstream as mode ANY with that name only."""

        def create() -> ChatCompletion:
            with sync_client(proxy) as client:
                return client.chat.completions.create(
                    model="gemini-2.5-flash",
                    messages=[{"role": "user", "content": "what time is it"}],
                    tools=TOOLS,
                    tool_choice={"type": "function", "function": {"name": "get_time"}},
                )

        completion = await asyncio.to_thread(create)
        calls = completion.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls if c.type == "function"] == ["get_time"]
        sent = upstream_bodies(fake, "generateContent")[-1]
        assert sent["toolConfig"]["functionCallingConfig"] == {
            "mode": "ANY",
            "allowedFunctionNames": ["get_time"],
        }
        declarations = sent["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in declarations] == ["get_weather", "get_time"]
