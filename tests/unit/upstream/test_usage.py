"""Token usage read from response bodies and stream tails without a full parse."""

from __future__ import annotations

import orjson
import pytest

from gemini_proxy.upstream.usage import TokenUsage, usage_from_body, usage_from_stream_tail


class TestUsageFromBody:
    def test_reads_all_counts(self) -> None:
        """Prompt (with tool-use prompt), candidates, thoughts and total are read."""
        body = orjson.dumps(
            {
                "candidates": [{"content": {"parts": [{"text": "hi"}]}}],
                "usageMetadata": {
                    "promptTokenCount": 3,
                    "toolUsePromptTokenCount": 2,
                    "candidatesTokenCount": 5,
                    "thoughtsTokenCount": 7,
                    "totalTokenCount": 17,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
                },
            }
        )
        assert usage_from_body(body) == TokenUsage(prompt=5, candidates=5, thoughts=7, total=17)

    def test_answer_text_cannot_fake_usage(self) -> None:
        """A model answer quoting usage JSON is escaped inside its string and ignored."""
        fake = '"usageMetadata": {"promptTokenCount": 999}'
        body = orjson.dumps(
            {
                "candidates": [{"content": {"parts": [{"text": fake}]}}],
                "usageMetadata": {"promptTokenCount": 4},
            }
        )
        assert usage_from_body(body) == TokenUsage(prompt=4, total=4)

    def test_details_before_counts_and_pretty_printing(self) -> None:
        """Key order and whitespace do not matter."""
        body = b'{"usageMetadata": {\n  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],\n  "promptTokenCount": 8,\n  "candidatesTokenCount": 2\n}}'
        assert usage_from_body(body) == TokenUsage(prompt=8, candidates=2, total=10)

    @pytest.mark.parametrize("text_size", [10, 20_000])
    def test_small_and_large_bodies_agree(self, text_size: int) -> None:
        """Small bodies are parsed, large ones scanned: the same counts either way, and
        usage quoted in the answer text is ignored by both."""
        quoted = '"usageMetadata": {"promptTokenCount": 999, "totalTokenCount": 999}'
        body = orjson.dumps(
            {
                "candidates": [{"content": {"parts": [{"text": quoted + "x" * text_size}]}}],
                "usageMetadata": {
                    "promptTokenCount": 6,
                    "candidatesTokenCount": 3,
                    "totalTokenCount": 9,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}],
                },
                "modelVersion": "gemini-2.5-flash",
            }
        )
        assert usage_from_body(body) == TokenUsage(prompt=6, candidates=3, total=9)

    def test_odd_count_values_are_zero(self) -> None:
        """A boolean, a string or a negative count is no count."""
        body = b'{"usageMetadata": {"promptTokenCount": true, "candidatesTokenCount": "4", "thoughtsTokenCount": -2}}'
        assert usage_from_body(body) == TokenUsage()

    @pytest.mark.parametrize("body", [b"", b"{}", b"not json", b'{"candidates": []}', b"[1, 2]"])
    def test_no_usage(self, body: bytes) -> None:
        """Bodies without usage give None."""
        assert usage_from_body(body) is None


class TestUsageFromStreamTail:
    def test_sse_last_event_wins(self) -> None:
        """Running values: only the last event's counts are taken, never a sum."""
        tail = (
            b'data: {"usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 5}}\r\n\r\n'
            b'data: {"usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 7, "totalTokenCount": 11}}\r\n\r\n'
        )
        assert usage_from_stream_tail(tail) == TokenUsage(prompt=4, candidates=7, total=11)

    def test_json_array_form(self) -> None:
        """The JSON-array stream form is read the same way."""
        tail = b'[{"usageMetadata": {"promptTokenCount": 4}}\r\n,{"usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 9}}]'
        assert usage_from_stream_tail(tail) == TokenUsage(prompt=4, candidates=9, total=13)
