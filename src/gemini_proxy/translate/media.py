"""Media in OpenAI requests -> Gemini ``inlineData``/``fileData`` parts (D.4, F#11, F#12).

Data URLs arrive in many shapes (F#11): upper-case ``DATA:``, no ``;base64`` marker,
URL-safe base64, embedded newlines, missing padding, ``image/jpg``, no media type at
all. They are normalised to standard base64 with a real media type, sniffed from the
first bytes when the URL does not say. Remote ``http(s)`` URLs are fetched by the route
(with its limits) and handed in as ``FetchedMedia``; without them the request is a 400
that says remote URLs are disabled (F#12).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.fields import invalid_value

# (media type, bytes) the route fetched for a remote URL.
FetchedMedia = tuple[str, bytes]

GEMINI_FILES_PREFIX = "https://generativelanguage.googleapis.com/"

_STANDARD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_FIXABLE = b"-_ \t\r\n\f\v"
_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_WHITESPACE = b" \t\r\n\f\v"

_MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-mp3": "audio/mp3",
    "audio/mpeg3": "audio/mp3",
    "audio/x-flac": "audio/flac",
    "audio/x-aiff": "audio/aiff",
}
_EXTENSION_MIME = {
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
    "htm": "text/html",
    "xml": "text/xml",
    "json": "application/json",
    "py": "text/x-python",
    "js": "text/javascript",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "mp3": "audio/mp3",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
    "mp4": "video/mp4",
    "mov": "video/mov",
    "webm": "video/webm",
    "mpeg": "video/mpeg",
    "avi": "video/avi",
}
AUDIO_FORMAT_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "mpeg": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
_TEXTUAL_PREFIXES = ("text/", "application/json", "application/xml")


def normalise_mime(mime: str) -> str:
    """Lower case, parameters dropped, common aliases (``image/jpg``) replaced."""
    base = mime.split(";", 1)[0].strip().lower()
    return _MIME_ALIASES.get(base, base)


def mime_from_filename(filename: str) -> str | None:
    """The media type a file name's extension implies, if known."""
    _, dot, extension = filename.rpartition(".")
    return _EXTENSION_MIME.get(extension.lower()) if dot else None


def normalise_base64(payload: str, param: str) -> str:
    """Standard, padded base64 from standard or URL-safe base64 with whitespace; 400 if not base64.

    Images run to megabytes: ``payload`` itself comes back when it is already standard and
    padded (the usual case), so it is scanned but never copied back.
    """
    try:
        raw = payload.encode("ascii")
    except UnicodeEncodeError:
        raise _not_base64(param) from None
    changed = False
    leftover = raw.translate(None, _STANDARD_ALPHABET)
    if leftover:
        if leftover.translate(None, _FIXABLE):
            raise _not_base64(param)
        raw = raw.translate(_URL_SAFE_TO_STANDARD, _WHITESPACE)
        changed = True
    given = 2 if raw.endswith(b"==") else 1 if raw.endswith(b"=") else 0  # padding as sent
    size = len(raw) - given
    if raw.endswith(b"===") or not size or size % 4 == 1 or raw.find(b"=", 0, size) >= 0:
        raise _not_base64(param)
    padding = -size % 4
    if padding != given:
        raw = raw[:size] + b"=" * padding
        changed = True
    return raw.decode("ascii") if changed else payload


def _not_base64(param: str) -> InvalidRequest:
    return invalid_value(param, f"Invalid base64 data in '{param}'.")


def sniff_mime(data: str) -> str | None:
    """The media type of base64 ``data`` judged from its magic bytes."""
    try:
        head = base64.b64decode(data[:16])
    except (binascii.Error, ValueError):
        return None
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mp3"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    return None


def is_data_url(url: str) -> bool:
    """Whether ``url`` is a ``data:`` URL (any case)."""
    return url[:5].lower() == "data:"


def is_remote_url(url: str) -> bool:
    """Whether ``url`` must be fetched by the proxy (http(s), not a Gemini Files API URI)."""
    lowered = url[:8].lower()
    return (lowered.startswith(("http://", "https://"))) and not url.startswith(GEMINI_FILES_PREFIX)


def inline_part(mime: str, data: str) -> dict[str, Any]:
    """A Gemini ``inlineData`` part."""
    return {"inlineData": {"mimeType": mime, "data": data}}


def data_url_part(url: str, param: str, *, fallback_mime: str | None = None) -> dict[str, Any]:
    """An ``inlineData`` part from a ``data:`` URL in any of the shapes of F#11."""
    comma = url.find(",")
    if comma < 0:
        raise invalid_value(
            param, f"Invalid data URL in '{param}': expected 'data:<media type>;base64,<data>'."
        )
    header = url[5:comma].split(";")
    mime = normalise_mime(header[0]) if header[0].strip() else None
    marked_base64 = any(p.strip().lower() == "base64" for p in header[1:])
    payload = url[comma + 1 :]
    textual = mime is not None and mime.startswith(_TEXTUAL_PREFIXES)
    if marked_base64 or not textual:
        try:
            data = normalise_base64(payload, param)
        except InvalidRequest:
            if marked_base64:
                raise
            data = base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    else:
        data = base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    return inline_part(_media_type(mime or fallback_mime, data, param), data)


def base64_part(payload: str, param: str, *, mime: str | None) -> dict[str, Any]:
    """An ``inlineData`` part from bare base64 (``input_audio``, ``file_data`` without ``data:``)."""
    data = normalise_base64(payload, param)
    return inline_part(_media_type(mime, data, param), data)


def fetched_part(url: str, fetched: Mapping[str, FetchedMedia], param: str) -> dict[str, Any]:
    """An ``inlineData`` part for a remote URL the route already fetched; 400 if it did not."""
    media = fetched.get(url)
    if media is None:
        raise RemoteMediaRequired([url], param)
    mime, content = media
    data = base64.b64encode(content).decode("ascii")
    declared = normalise_mime(mime) if mime else None
    if declared in (None, "", "application/octet-stream", "binary/octet-stream"):
        declared = None
    return inline_part(_media_type(declared, data, param), data)


def _media_type(mime: str | None, data: str, param: str) -> str:
    if mime:
        return normalise_mime(mime)
    sniffed = sniff_mime(data)
    if sniffed is None:
        raise invalid_value(
            param, f"Cannot tell the media type of the data in '{param}'; give it in the data URL."
        )
    return sniffed


class RemoteMediaRequired(InvalidRequest):
    """A message refers to remote media (http(s) URLs) that was not fetched beforehand.

    A 400 on its own ("remote URLs are disabled"); a route that fetches remote media
    calls ``remote_media_urls`` first and passes the results to ``chat_to_gemini``.
    """

    code = "remote_media_disabled"

    def __init__(self, urls: list[str], param: str | None = None) -> None:
        super().__init__(
            "Remote image URLs are not enabled on this proxy; send the image inline as a "
            "'data:<media type>;base64,...' URL instead.",
            param=param,
        )
        self.urls = urls
