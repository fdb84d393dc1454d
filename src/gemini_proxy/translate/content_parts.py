"""OpenAI message ``content`` -> Gemini parts (D.4, F#1, F#11).

``content`` is a string or a list of typed parts. Text that is empty or only
whitespace is dropped (Gemini rejects empty text parts); media become ``inlineData``
or ``fileData`` parts through ``media``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gemini_proxy.translate.fields import (
    invalid_value,
    optional_str,
    require_object,
    required_str,
    wrong_type,
)
from gemini_proxy.translate.media import (
    AUDIO_FORMAT_MIME,
    GEMINI_FILES_PREFIX,
    FetchedMedia,
    base64_part,
    data_url_part,
    fetched_part,
    is_data_url,
    is_remote_url,
    mime_from_filename,
    normalise_mime,
)

_CONTENT_TYPES = "a string or an array of content parts"
_MEDIA_TYPES = frozenset({"image_url", "input_audio", "file"})


def text_part(text: str) -> dict[str, Any] | None:
    """A Gemini text part, or ``None`` for empty or whitespace-only text."""
    return {"text": text} if text and not text.isspace() else None


def content_text(content: Any, where: str, role: str) -> str:
    """The text of a message that may hold only text (system, developer)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise wrong_type(f"{where}.content", _CONTENT_TYPES, content)
    texts = []
    for index, raw in enumerate(content):
        part_where = f"{where}.content[{index}]"
        part = require_object(raw, part_where)
        kind = required_str(part, "type", part_where)
        if kind != "text":
            raise invalid_value(
                f"{part_where}.type", f"{role} messages may only contain text parts, not {kind!r}."
            )
        texts.append(required_str(part, "text", part_where))
    return "".join(texts)


PartConverter = Callable[[dict[str, Any], str, str], "dict[str, Any] | None"]


def _message_parts(content: Any, where: str, convert: PartConverter) -> list[dict[str, Any]]:
    """A message's content (a string or a list of typed parts) as Gemini parts, in order;
    ``convert(part, type, where)`` turns one typed part into a Gemini part (None: skip it)."""
    if content is None or isinstance(content, str):
        part = text_part(content or "")
        return [part] if part else []
    if not isinstance(content, list):
        raise wrong_type(f"{where}.content", _CONTENT_TYPES, content)
    parts = []
    for index, raw in enumerate(content):
        part_where = f"{where}.content[{index}]"
        part = require_object(raw, part_where)
        converted = convert(part, required_str(part, "type", part_where), part_where)
        if converted is not None:
            parts.append(converted)
    return parts


def user_parts(content: Any, where: str, fetched: Mapping[str, FetchedMedia]) -> list[dict[str, Any]]:
    """The Gemini parts of a user message's content, in order."""
    return _message_parts(content, where, lambda part, kind, at: _user_part(part, kind, at, fetched))


def _assistant_part(part: dict[str, Any], kind: str, where: str) -> dict[str, Any] | None:
    if kind == "text":
        return text_part(required_str(part, "text", where))
    if kind == "refusal":
        return text_part(required_str(part, "refusal", where))
    raise invalid_value(
        f"{where}.type",
        f"Assistant messages may only contain text and refusal parts, not {kind!r}.",
    )


def assistant_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """The text parts of an assistant message's content (text and refusal parts)."""
    return _message_parts(content, where, _assistant_part)


def tool_content(
    content: Any, where: str, fetched: Mapping[str, FetchedMedia]
) -> tuple[str, list[dict[str, Any]]]:
    """The text of a tool result, and any media parts it carries (sent after the response)."""
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise wrong_type(f"{where}.content", _CONTENT_TYPES, content)
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    for index, raw in enumerate(content):
        part_where = f"{where}.content[{index}]"
        part = require_object(raw, part_where)
        kind = required_str(part, "type", part_where)
        if kind == "text":
            texts.append(required_str(part, "text", part_where))
        elif kind in _MEDIA_TYPES:
            converted = _user_part(part, kind, part_where, fetched)
            if converted is not None:
                media.append(converted)
        else:
            raise invalid_value(
                f"{part_where}.type", f"Unsupported content part type {kind!r} in a tool message."
            )
    return "".join(texts), media


def _user_part(
    part: dict[str, Any], kind: str, where: str, fetched: Mapping[str, FetchedMedia]
) -> dict[str, Any] | None:
    if kind == "text":
        return text_part(required_str(part, "text", where))
    if kind == "image_url":
        return _image_part(part, where, fetched)
    if kind == "input_audio":
        return _audio_part(part, where)
    if kind == "file":
        return _file_part(part, where)
    raise invalid_value(
        f"{where}.type",
        f"Unsupported content part type {kind!r}; expected text, image_url, input_audio or file.",
    )


def _image_part(part: dict[str, Any], where: str, fetched: Mapping[str, FetchedMedia]) -> dict[str, Any]:
    raw = part.get("image_url")
    if isinstance(raw, str):  # some clients send the URL bare
        url, param = raw, f"{where}.image_url"
    elif isinstance(raw, dict):
        url, param = required_str(raw, "url", f"{where}.image_url"), f"{where}.image_url.url"
    else:
        raise wrong_type(f"{where}.image_url", "an object with a 'url'", raw)
    return media_url_part(url.strip(), param, fetched)


def media_url_part(url: str, param: str, fetched: Mapping[str, FetchedMedia]) -> dict[str, Any]:
    """The part for a media URL: data URL, fetched remote URL, or Gemini Files API URI."""
    if is_data_url(url):
        return data_url_part(url, param)
    if is_remote_url(url):
        return fetched_part(url, fetched, param)
    if url.startswith(GEMINI_FILES_PREFIX):
        return {"fileData": {"fileUri": url}}
    raise invalid_value(param, f"Unsupported URL in '{param}': expected a data: URL or an http(s) URL.")


def _audio_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    audio_where = f"{where}.input_audio"
    audio = require_object(part.get("input_audio"), audio_where)
    data = required_str(audio, "data", audio_where)
    audio_format = required_str(audio, "format", audio_where).lower()
    mime = AUDIO_FORMAT_MIME.get(audio_format)
    if mime is None:
        raise invalid_value(
            f"{audio_where}.format",
            f"Unsupported audio format {audio_format!r}; expected one of {', '.join(AUDIO_FORMAT_MIME)}.",
        )
    if is_data_url(data):
        return data_url_part(data, f"{audio_where}.data", fallback_mime=mime)
    return base64_part(data, f"{audio_where}.data", mime=mime)


def _file_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    file_where = f"{where}.file"
    file = require_object(part.get("file"), file_where)
    filename = optional_str(file, "filename", file_where)
    mime = mime_from_filename(filename) if filename else None
    file_data = optional_str(file, "file_data", file_where)
    if file_data is not None:
        param = f"{file_where}.file_data"
        if is_data_url(file_data):
            return data_url_part(file_data, param, fallback_mime=mime)
        return base64_part(file_data, param, mime=mime)
    file_id = optional_str(file, "file_id", file_where)
    if file_id is None:
        raise invalid_value(file_where, f"'{file_where}' needs either 'file_data' or 'file_id'.")
    if file_id.startswith(GEMINI_FILES_PREFIX):
        uri = file_id
    elif file_id.startswith("files/") or ("/" not in file_id and file_id):
        name = file_id if file_id.startswith("files/") else f"files/{file_id}"
        uri = f"{GEMINI_FILES_PREFIX}v1beta/{name}"
    else:
        raise invalid_value(
            f"{file_where}.file_id",
            f"Invalid file id {file_id!r}: expected a Gemini file name ('files/abc').",
        )
    file_data_part: dict[str, Any] = {"fileUri": uri}
    if mime:
        file_data_part["mimeType"] = normalise_mime(mime)
    return {"fileData": file_data_part}
