"""Media content parts: data URLs in odd forms, audio, files, remote URLs."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.chat_request import remote_media_urls
from gemini_proxy.translate.media import RemoteMediaRequired, normalise_base64, sniff_mime

from .builders import JPEG_BASE64, PNG_BASE64, Translate, user


def image(url: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def first_part(translate: Translate, part: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    call = translate([user([part, {"type": "text", "text": "what is this?"}])], **kwargs)
    result: dict[str, Any] = call.payload["contents"][0]["parts"][0]
    return result


PNG_URL_SAFE = PNG_BASE64.replace("+", "-").replace("/", "_")


class TestDataUrls:
    """F#11: data URLs in odd forms are normalised."""

    @pytest.mark.parametrize(
        ("url", "mime", "data"),
        [
            (f"data:image/png;base64,{PNG_BASE64}", "image/png", PNG_BASE64),
            (f"DATA:IMAGE/PNG;BASE64,{PNG_BASE64}", "image/png", PNG_BASE64),
            (f"data:image/png,{PNG_BASE64}", "image/png", PNG_BASE64),
            (f"data:image/png;base64,{PNG_BASE64[:20]}\n{PNG_BASE64[20:]}", "image/png", PNG_BASE64),
            (f"data:image/png;base64,{PNG_BASE64.rstrip('=')}", "image/png", PNG_BASE64),
            (f"data:image/jpg;base64,{JPEG_BASE64}", "image/jpeg", JPEG_BASE64),
            (f"data:image/jpeg;name=a.jpg;base64,{JPEG_BASE64}", "image/jpeg", JPEG_BASE64),
            (f"data:;base64,{PNG_BASE64}", "image/png", PNG_BASE64),
            (f"data:;base64,{JPEG_BASE64}", "image/jpeg", JPEG_BASE64),
            ("data:text/plain,hello%20world", "text/plain", base64.b64encode(b"hello world").decode()),
        ],
    )
    def test_data_url_forms_become_inline_data(
        self, translate: Translate, url: str, mime: str, data: str
    ) -> None:
        """F#11: case, missing ;base64, newlines, missing padding, image/jpg and no mime all normalise."""
        assert first_part(translate, image(url)) == {"inlineData": {"mimeType": mime, "data": data}}

    def test_url_safe_base64_is_converted(self, translate: Translate) -> None:
        """F#11: URL-safe base64 is converted to the standard alphabet Gemini needs."""
        encoded = base64.urlsafe_b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(250, 256)) * 3).decode()
        assert "-" in encoded or "_" in encoded
        part = first_part(translate, image(f"data:image/png;base64,{encoded}"))
        assert base64.b64decode(part["inlineData"]["data"], validate=True) == base64.urlsafe_b64decode(
            encoded
        )

    def test_bare_string_image_url_is_accepted(self, translate: Translate) -> None:
        """C.1: ``image_url`` given as a bare string works like the object form."""
        part = first_part(
            translate, {"type": "image_url", "image_url": f"data:image/png;base64,{PNG_BASE64}"}
        )
        assert part == {"inlineData": {"mimeType": "image/png", "data": PNG_BASE64}}

    @pytest.mark.parametrize(
        ("url", "param"),
        [
            ("data:image/png;base64,@@@@", "messages[0].content[0].image_url.url"),
            ("data:image/png;base64,a", "messages[0].content[0].image_url.url"),
            ("data:image/png;base64", "messages[0].content[0].image_url.url"),
            ("data:;base64,AAAAAAAA", "messages[0].content[0].image_url.url"),
            ("ftp://example.com/a.png", "messages[0].content[0].image_url.url"),
            ("gs://bucket/a.png", "messages[0].content[0].image_url.url"),
            (5, "messages[0].content[0].image_url.url"),
        ],
    )
    def test_invalid_data_urls_are_400(self, translate: Translate, url: Any, param: str) -> None:
        """F#11: what cannot be normalised is a 400 naming the URL field."""
        with pytest.raises(InvalidRequest) as raised:
            first_part(translate, image(url))
        assert raised.value.param == param

    def test_image_url_object_missing_is_400(self, translate: Translate) -> None:
        """An image part without ``image_url`` names the field."""
        with pytest.raises(InvalidRequest) as raised:
            first_part(translate, {"type": "image_url"})
        assert raised.value.param == "messages[0].content[0].image_url"


class TestRemoteUrls:
    """F#12: remote URLs need fetched media, else a clear 400."""

    def test_remote_url_without_fetch_is_remote_media_required(self, translate: Translate) -> None:
        """F#12: an unfetched http(s) URL is a 400 that says remote URLs are disabled and carries the URL."""
        with pytest.raises(RemoteMediaRequired) as raised:
            first_part(translate, image("https://example.com/cat.png"))
        assert raised.value.status == 400
        assert raised.value.urls == ["https://example.com/cat.png"]
        assert "not enabled" in raised.value.message

    def test_fetched_media_becomes_inline_data(self, translate: Translate) -> None:
        """F#12: media the route fetched is sent inline with its content type."""
        fetched = {"https://example.com/cat.png": ("image/png; charset=binary", b"\x89PNG\r\n\x1a\nrest")}
        part = first_part(translate, image("https://example.com/cat.png"), fetched_media=fetched)
        assert part == {
            "inlineData": {
                "mimeType": "image/png",
                "data": base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode(),
            }
        }

    def test_fetched_octet_stream_is_sniffed(self, translate: Translate) -> None:
        """F#12: a generic content type is replaced by the sniffed one."""
        fetched = {"http://x/y": ("application/octet-stream", base64.b64decode(JPEG_BASE64))}
        part = first_part(translate, image("http://x/y"), fetched_media=fetched)
        assert part["inlineData"]["mimeType"] == "image/jpeg"

    def test_gemini_files_uri_is_file_data(self, translate: Translate) -> None:
        """D.4: a Files API URI is passed as fileData, not fetched."""
        uri = "https://generativelanguage.googleapis.com/v1beta/files/abc"
        assert first_part(translate, image(uri)) == {"fileData": {"fileUri": uri}}

    def test_remote_media_urls_lists_each_once_in_order(self) -> None:
        """The route learns which URLs to fetch: http(s) only, deduplicated, Files API excluded."""
        body = {
            "messages": [
                user([image("https://a/1.png"), image(f"data:image/png;base64,{PNG_BASE64}")]),
                user([{"type": "image_url", "image_url": " http://b/2.jpg "}, image("https://a/1.png")]),
                user([image("https://generativelanguage.googleapis.com/v1beta/files/x")]),
                {"role": "assistant", "content": "x"},
            ]
        }
        assert remote_media_urls(body) == ["https://a/1.png", "http://b/2.jpg"]

    @pytest.mark.parametrize(
        "body", [None, [], {"messages": "x"}, {"messages": [5, {"content": [3, {"type": "image_url"}]}]}]
    )
    def test_remote_media_urls_never_raises(self, body: Any) -> None:
        """Malformed bodies yield no URLs; translation reports the problem later."""
        assert remote_media_urls(body) == []


class TestAudioAndFiles:
    """D.4: input_audio and file parts."""

    @pytest.mark.parametrize(
        ("audio_format", "mime"), [("wav", "audio/wav"), ("mp3", "audio/mp3"), ("FLAC", "audio/flac")]
    )
    def test_input_audio_becomes_inline_data(
        self, translate: Translate, audio_format: str, mime: str
    ) -> None:
        """D.4: input_audio data and format map to inlineData with the audio media type."""
        part = first_part(
            translate, {"type": "input_audio", "input_audio": {"data": "UklGRgAA", "format": audio_format}}
        )
        assert part == {"inlineData": {"mimeType": mime, "data": "UklGRgAA"}}

    def test_unknown_audio_format_is_400(self, translate: Translate) -> None:
        """An unsupported audio format names the format field."""
        with pytest.raises(InvalidRequest) as raised:
            first_part(translate, {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "midi"}})
        assert raised.value.param == "messages[0].content[0].input_audio.format"

    @pytest.mark.parametrize(
        ("file", "expected"),
        [
            (
                {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
            ),
            ({"file_data": "JVBERi0x"}, {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}}),
            (
                {"file_data": "aGVsbG8=", "filename": "notes.TXT"},
                {"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8="}},
            ),
            (
                {"file_id": "files/abc", "filename": "a.pdf"},
                {
                    "fileData": {
                        "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                        "mimeType": "application/pdf",
                    }
                },
            ),
            (
                {"file_id": "abc"},
                {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}},
            ),
        ],
    )
    def test_file_parts(self, translate: Translate, file: dict[str, Any], expected: dict[str, Any]) -> None:
        """D.4: file_data (data URL or raw base64, mime from URL, filename or bytes) and file_id."""
        assert first_part(translate, {"type": "file", "file": file}) == expected

    @pytest.mark.parametrize(
        ("file", "param"),
        [({}, "messages[0].content[0].file"), ({"file_id": "a/b/c"}, "messages[0].content[0].file.file_id")],
    )
    def test_invalid_file_parts_are_400(self, translate: Translate, file: dict[str, Any], param: str) -> None:
        """A file part with neither data nor a usable id names the field."""
        with pytest.raises(InvalidRequest) as raised:
            first_part(translate, {"type": "file", "file": file})
        assert raised.value.param == param


class TestBase64Helpers:
    """The normaliser and the sniffer on their own."""

    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            ("QUJD", "QUJD"),
            ("QUI", "QUI="),
            ("QQ", "QQ=="),
            ("QQ=", "QQ=="),
            ("QUI==", "QUI="),
            (" QU\nJD ", "QUJD"),
            ("-_8=", "+/8="),
            ("QQ=\n", "QQ=="),
        ],
    )
    def test_normalise_base64(self, payload: str, expected: str) -> None:
        """Whitespace goes, URL-safe becomes standard, padding is completed."""
        assert normalise_base64(payload, "p") == expected

    def test_standard_base64_comes_back_uncopied(self) -> None:
        """The usual case, a megabyte image already standard and padded, is not copied."""
        payload = base64.b64encode(bytes(range(256)) * 4096 + b"x").decode()

        assert normalise_base64(payload, "p") is payload

    @given(st.binary(max_size=64))
    def test_every_encoding_of_some_bytes_normalises_to_the_standard_one(self, data: bytes) -> None:
        standard = base64.b64encode(data).decode()
        url_safe_unpadded = base64.urlsafe_b64encode(data).decode().rstrip("=")
        for payload in (
            standard,
            url_safe_unpadded,
            " \n".join(standard[i : i + 7] for i in range(0, len(standard), 7)),
        ):
            if data:
                assert normalise_base64(payload, "p") == standard
            else:
                with pytest.raises(InvalidRequest):
                    normalise_base64(payload, "p")

    @pytest.mark.parametrize("payload", ["", "Q", "QU=J", "QUJD===", "é", "QU!D", "QUI===", "===="])
    def test_normalise_base64_rejects(self, payload: str) -> None:
        """Empty, impossible lengths, inner padding and foreign characters are refused."""
        with pytest.raises(InvalidRequest):
            normalise_base64(payload, "p")

    @pytest.mark.parametrize(
        ("head", "mime"),
        [
            (b"\x89PNG\r\n\x1a\n", "image/png"),
            (b"\xff\xd8\xff\xe0", "image/jpeg"),
            (b"GIF89a", "image/gif"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
            (b"%PDF-1.7", "application/pdf"),
            (b"ID3\x04", "audio/mp3"),
            (b"plain text here", None),
        ],
    )
    def test_sniff_mime(self, head: bytes, mime: str | None) -> None:
        """Magic bytes identify the common media types."""
        assert sniff_mime(base64.b64encode(head + b"\x00" * 8).decode()) == mime
