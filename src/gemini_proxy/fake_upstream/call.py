"""One request as handlers see it: its parsed JSON body, and the JSON or error response it gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.fake_upstream.faults import Fault
from gemini_proxy.fake_upstream.google_errors import GoogleError, invalid_json
from gemini_proxy.fake_upstream.routing import ApiMethod, Route
from gemini_proxy.fake_upstream.state import FakeState

JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}


def parse_json_object(body: bytes) -> dict[str, Any] | GoogleError:
    """The request body as a JSON object (an empty body reads as ``{}``), or Google's 400."""
    if not body.strip():
        return {}
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return invalid_json(f"Unexpected token.\n{body[: max(exc.pos, 0) + 20].decode(errors='replace')}\n^")
    if not isinstance(decoded, dict):
        return invalid_json('Unknown name "": Root element must be a message.')
    return decoded


def json_response(payload: Any, status: int = 200) -> web.Response:
    """A compact JSON response."""
    return web.Response(body=orjson.dumps(payload), status=status, headers=JSON_HEADERS)


def error_response(error: GoogleError, *, in_array: bool = False) -> web.Response:
    """Google's error body; wrapped in a one-element list for the JSON-array stream form."""
    return json_response([error.body] if in_array else error.body, status=error.status)


@dataclass(frozen=True)
class FakeCall:
    """An authenticated request: its route, model, parsed body (or the 400 for it) and its fault."""

    request: web.Request
    state: FakeState
    route: Route
    model: str
    payload: dict[str, Any] | GoogleError
    fault: Fault

    @property
    def is_array_stream(self) -> bool:
        """A ``streamGenerateContent`` call without ``alt=sse``: errors come wrapped in a list."""
        return (
            self.route.api_method is ApiMethod.STREAM_GENERATE_CONTENT
            and self.request.query.get("alt") != "sse"
        )

    def fail(self, error: GoogleError) -> web.Response:
        """Answer with ``error`` in the form this call expects."""
        return error_response(error, in_array=self.is_array_stream)
