"""The incremental upstream SSE decoder (A.5, E.2)."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_proxy.translate.sse import MAX_RAW_JSON_BYTES, SSEDecoder

STREAM_LF = b'data: {"a":1}\n\ndata: {"b":2}\n\n'
STREAM_CRLF = b'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n'
STREAM_CR = b'data: {"a":1}\r\rdata: {"b":2}\r\r'


def decode_in_pieces(data: bytes, size: int) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    for start in range(0, len(data), size):
        events.extend(decoder.feed(data[start : start + size]))
    return events + decoder.finish()


class TestFraming:
    """A.5: line ends and split chunks."""

    @pytest.mark.parametrize("stream", [STREAM_LF, STREAM_CRLF, STREAM_CR])
    @pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
    def test_line_ends_and_splits(self, stream: bytes, size: int) -> None:
        """LF, CRLF and CR framing give the same events however the bytes are split."""
        assert decode_in_pieces(stream, size) == [{"a": 1}, {"b": 2}]

    def test_events_are_returned_as_soon_as_complete(self) -> None:
        """An event is returned by the feed that completes it, not later."""
        decoder = SSEDecoder()
        assert decoder.feed(b'data: {"a"') == []
        assert decoder.feed(b":1}\r\n") == []
        assert decoder.feed(b"\r\n") == [{"a": 1}]

    def test_crlf_split_between_reads_is_one_line_end(self) -> None:
        """A CR at the end of one read and LF at the start of the next are one line end."""
        decoder = SSEDecoder()
        assert decoder.feed(b'data: {"a":1}\r') == []
        assert decoder.feed(b"\n\r") == [{"a": 1}]
        assert decoder.feed(b'\ndata: {"b":2}\r\n\r\n') == [{"b": 2}]

    def test_last_event_without_blank_line_is_flushed_at_eof(self) -> None:
        """An event missing its final blank line is returned by finish()."""
        decoder = SSEDecoder()
        assert decoder.feed(b'data: {"a":1}\n\ndata: {"b":2}') == [{"a": 1}]
        assert decoder.finish() == [{"b": 2}]

    def test_data_without_space_multiline_comments_and_fields(self) -> None:
        """``data:`` without space, multi-line data, comments and other fields are handled."""
        stream = b': ping\nevent: message\nid: 7\nretry: 10\ndata:{"a":\ndata: 1}\n\ndata: [DONE]\n\n'
        assert decode_in_pieces(stream, 4) == [{"a": 1}]

    def test_long_event_in_many_pieces(self) -> None:
        """A large event split into many reads is reassembled intact."""
        payload = b'{"text":"' + b"x" * 200_000 + b'"}'
        assert decode_in_pieces(b"data: " + payload + b"\r\n\r\n", 4096) == [{"text": "x" * 200_000}]


class TestRawJson:
    """E.2: raw JSON (error objects) written into the stream body."""

    def test_multiline_error_object(self) -> None:
        """A pretty-printed error object after some events is reassembled into one event."""
        stream = b'data: {"a":1}\r\n\r\n{\n  "error": {\n    "code": 503,\n    "message": "overloaded {busy}",\n    "status": "UNAVAILABLE"\n  }\n}\n'
        for size in (1, 5, 1000):
            assert decode_in_pieces(stream, size) == [
                {"a": 1},
                {"error": {"code": 503, "message": "overloaded {busy}", "status": "UNAVAILABLE"}},
            ]

    def test_array_wrapped_error(self) -> None:
        """The JSON-array form ``[{"error": ...}]`` yields the error object."""
        assert decode_in_pieces(b'[{"error": {"code": 500}}]\n', 3) == [{"error": {"code": 500}}]

    def test_stray_text_line_ignored(self) -> None:
        """A line that starts no JSON value is ignored and later events still arrive."""
        assert decode_in_pieces(b'garbage\ndata: {"a":1}\n\n', 2) == [{"a": 1}]

    @pytest.mark.parametrize(
        "stream",
        [b"data: {not json}\n\n", b"data: 42\n\n", b"{oops}\n", b'{"error": {\n'],
    )
    def test_malformed_data_becomes_error_event(self, stream: bytes) -> None:
        """Unparseable data becomes a synthetic error event instead of an exception."""
        events = decode_in_pieces(stream, 3)
        assert len(events) == 1
        assert events[0]["error"]["code"] == 502

    def test_unterminated_raw_json_is_bounded(self) -> None:
        """A raw object that never closes is given up after the size cap."""
        decoder = SSEDecoder()
        events = decoder.feed(b"{\n" + b'"x": 1,\n' * (MAX_RAW_JSON_BYTES // 7 + 10))
        assert [e["error"]["code"] for e in events] == [502]
