"""Gemini stream events -> OpenAI ``chat.completion.chunk`` objects (protocol.md D.11, C.3, F#25-F#31).

``ChatStreamTranslator`` is fed one parsed upstream event at a time and returns the
chunks to send for it; ``finish`` is called at upstream EOF. Per choice it tracks
whether the role was sent, how many tool calls went out (each gets the next
``index``, F#26) and whether a finish reason arrived. A stream that ends with a
choice unfinished was cut and ends in an error chunk, never a silent ``stop`` (F#30).
The route writes each chunk with ``encode_sse`` and ends with ``SSE_DONE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gemini_proxy.errors import openai_error_body
from gemini_proxy.translate.candidates import (
    ToolCallMaker,
    candidate_parts,
    openai_finish_reason,
    prompt_block_message,
    rendered_part_text,
)
from gemini_proxy.translate.chat_request import GeminiChatCall
from gemini_proxy.translate.errors import gemini_error_from_stream
from gemini_proxy.translate.logprobs import logprobs_to_openai
from gemini_proxy.translate.signatures import SignatureCache
from gemini_proxy.translate.usage import usage_to_openai

SSE_DONE = b"data: [DONE]\n\n"
CUT_STREAM_MESSAGE = "The upstream stream ended before the response was complete."


def encode_sse(obj: dict[str, Any]) -> bytes:
    """One SSE event: ``data: <compact JSON>`` and a blank line."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(slots=True)
class _ChoiceState:
    sent_role: bool = False
    tool_calls: int = 0
    finished: bool = False


class ChatStreamTranslator:
    """The D.11 state machine for one streamed response."""

    __slots__ = (
        "_call",
        "_choices",
        "_closed",
        "_created",
        "_failed",
        "_id",
        "_last_usage",
        "_maker",
    )

    def __init__(
        self,
        call: GeminiChatCall,
        *,
        created: int,
        new_id: Callable[[], str],
        signatures: SignatureCache | None,
        now: float,
    ) -> None:
        self._call = call
        self._created = created
        self._id = f"chatcmpl-{new_id()}"
        self._maker = ToolCallMaker(call, new_id, signatures, now)
        self._choices: dict[int, _ChoiceState] = {}
        self._last_usage: dict[str, Any] | None = None
        self._failed = False
        self._closed = False

    @property
    def failed(self) -> bool:
        """Whether an error chunk was emitted (upstream error or cut stream)."""
        return self._failed

    @property
    def completed(self) -> bool:
        """Whether every choice seen so far has finished and nothing failed."""
        return bool(self._choices) and not self._failed and all(s.finished for s in self._choices.values())

    @property
    def last_usage(self) -> dict[str, Any] | None:
        """The latest upstream ``usageMetadata`` (final once the stream is complete)."""
        return self._last_usage

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks to send for one upstream event (none once the stream failed or closed)."""
        if self._failed or self._closed:
            return []
        if "error" in event:
            self._failed = True
            return [gemini_error_from_stream(event)]
        usage = event.get("usageMetadata")
        if isinstance(usage, dict):
            self._last_usage = usage
        chunks: list[dict[str, Any]] = []
        candidates = event.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            block_message = prompt_block_message(event)
            if block_message is not None:
                self._blocked(block_message, chunks)
            return chunks
        for position, candidate in enumerate(candidates):
            if isinstance(candidate, dict):
                self._candidate(candidate, position, chunks)
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        """The chunks to send at upstream EOF: an error if a choice never finished, then usage."""
        if self._closed:
            return []
        self._closed = True
        chunks: list[dict[str, Any]] = []
        if not self._failed and not self.completed:
            self._failed = True
            chunks.append(openai_error_body(502, CUT_STREAM_MESSAGE, code="upstream_stream_broken"))
        if self._call.include_usage:
            chunks.append(self._usage_chunk())
        return chunks

    def _blocked(self, message: str, chunks: list[dict[str, Any]]) -> None:
        state = self._state(0)
        if state.finished:
            return
        if not state.sent_role:
            chunks.append(self._chunk(0, {"role": "assistant", "content": ""}))
            state.sent_role = True
        chunks.append(self._chunk(0, {"refusal": message}))
        chunks.append(self._chunk(0, {}, finish_reason="content_filter"))
        state.finished = True

    def _candidate(self, candidate: dict[str, Any], position: int, chunks: list[dict[str, Any]]) -> None:
        index = candidate.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else position
        state = self._state(index)
        if state.finished:
            return
        if not state.sent_role:
            chunks.append(self._chunk(index, {"role": "assistant", "content": ""}))
            state.sent_role = True
        logprobs = logprobs_to_openai(candidate.get("logprobsResult"))
        run_key: str | None = None  # consecutive text of one kind goes out as one delta
        run: list[str] = []
        for part in candidate_parts(candidate):
            if not isinstance(part, dict):
                continue
            if "functionCall" in part:
                logprobs = self._flush(index, run_key, run, logprobs, chunks)
                run_key, run = None, []
                if self._call.parallel_tool_calls or state.tool_calls == 0:
                    tool_call = {"index": state.tool_calls, **self._maker.make(part)}
                    chunks.append(self._chunk(index, {"tool_calls": [tool_call]}))
                    state.tool_calls += 1
                continue
            key, text = self._text_of(part)
            if key is None or not text:  # F#28, F#29: empty text and signature-only parts emit nothing
                continue
            if key != run_key:
                logprobs = self._flush(index, run_key, run, logprobs, chunks)
                run_key, run = key, []
            run.append(text)
        self._flush(index, run_key, run, logprobs, chunks)
        reason = candidate.get("finishReason")
        if reason:
            chunks.append(
                self._chunk(index, {}, finish_reason=openai_finish_reason(reason, state.tool_calls > 0))
            )
            state.finished = True

    def _text_of(self, part: dict[str, Any]) -> tuple[str | None, str | None]:
        """The delta key (``content``/``reasoning_content``) and text a part contributes."""
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought") is True:
                return ("reasoning_content", text) if self._call.include_thoughts else (None, None)
            return "content", text
        rendered = rendered_part_text(part)
        return ("content", rendered) if rendered is not None else (None, None)

    def _state(self, index: int) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
        return state

    def _flush(
        self,
        index: int,
        key: str | None,
        texts: list[str],
        logprobs: dict[str, Any] | None,
        chunks: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Emit a run of text; the event's logprobs ride on its first content delta."""
        if key is None or not texts:
            return logprobs
        if key == "content":
            chunks.append(self._chunk(index, {key: "".join(texts)}, logprobs=logprobs))
            return None
        chunks.append(self._chunk(index, {key: "".join(texts)}))
        return logprobs

    def _chunk(
        self,
        index: int,
        delta: dict[str, Any],
        *,
        finish_reason: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._call.requested_model,
            "system_fingerprint": None,
            "choices": [
                {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
            ],
        }
        if self._call.include_usage:
            chunk["usage"] = None
        return chunk

    def _usage_chunk(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._call.requested_model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage_to_openai(self._last_usage),
        }
