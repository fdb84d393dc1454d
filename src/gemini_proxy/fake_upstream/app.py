"""The fake Gemini server as an aiohttp application, plus its control endpoints.

Every API request goes through one catch-all handler: resolve the route from the raw
path, read the key (``x-goog-api-key``, ``?key=``, Bearer on the OpenAI paths), count
and record the request, refuse it without a key, apply the scenario's latency and the
matched rule's fault, then hand it to the method's handler. ``/_fake/counts``,
``/_fake/rules`` and ``/_fake/reset`` let out-of-process tests read and steer the fake.
"""

from __future__ import annotations

import dataclasses

import orjson
from aiohttp import web

from gemini_proxy.fake_upstream.call import FakeCall, error_response, json_response, parse_json_object
from gemini_proxy.fake_upstream.faults import NO_FAULT, FaultKind, decide_fault
from gemini_proxy.fake_upstream.google_errors import internal_error, path_not_found, unregistered_caller
from gemini_proxy.fake_upstream.native import NATIVE_HANDLERS
from gemini_proxy.fake_upstream.openai_compat import OPENAI_HANDLERS, model_from_body
from gemini_proxy.fake_upstream.routing import ApiMethod, Route, resolve_route
from gemini_proxy.fake_upstream.scenario import FakeConfig, rules_from_list
from gemini_proxy.fake_upstream.state import FakeState, RecordedRequest
from gemini_proxy.fake_upstream.streaming import drop_connection, pause

FAKE_STATE: web.AppKey[FakeState] = web.AppKey("fake_state", FakeState)
# Real requests with inline images may approach Google's 20 MB limit.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
_BEARER = "bearer "


def api_key_of(request: web.Request, route: Route | None) -> str | None:
    """The API key: ``x-goog-api-key``, else ``?key=``, else (OpenAI paths only) a Bearer token."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key and route is not None and route.is_openai:
        authorization = request.headers.get("Authorization", "")
        if authorization[: len(_BEARER)].lower() == _BEARER:
            key = authorization[len(_BEARER) :].strip()
    return key or None


async def handle_api(request: web.Request) -> web.StreamResponse:
    """Serve one Gemini (or OpenAI-compatible) API request."""
    state = request.app[FAKE_STATE]
    route = resolve_route(request.method, request.rel_url.raw_path)
    body = await request.read()
    payload = parse_json_object(body) if request.method == "POST" else {}
    key = api_key_of(request, route)
    model = None
    if route is not None:
        model = model_from_body(payload) if route.is_openai and route.model is None else route.model
    api_method = route.api_method if route is not None else ApiMethod.UNKNOWN
    state.count(api_method.value, key, model)
    if state.recording:
        state.record(
            RecordedRequest(
                method=request.method,
                path=request.rel_url.raw_path,
                query=request.rel_url.raw_query_string,
                headers=dict(request.headers),
                body=body,
                key=key,
                api_method=api_method.value,
            )
        )
    if route is None:
        return error_response(path_not_found())
    call = FakeCall(request, state, route, model or "", payload, NO_FAULT)
    if key is None:
        return call.fail(unregistered_caller())
    await pause(state.config.latency_ms / 1000)
    fault = decide_fault(state, key, model, route.api_method)
    await pause(fault.delay_ms / 1000)
    if fault.kind is FaultKind.HANG_UP:
        drop_connection(request)
        return web.Response()
    if fault.error is not None:
        return call.fail(fault.error)
    if fault.kind is not FaultKind.NONE and route.api_method is not ApiMethod.STREAM_GENERATE_CONTENT:
        # Only a stream can break after its first chunk; anything else is cut off or fails whole.
        if fault.kind is FaultKind.CUT_STREAM:
            drop_connection(request)
            return web.Response()
        return call.fail(internal_error())
    handler = NATIVE_HANDLERS.get(route.api_method) or OPENAI_HANDLERS[route.api_method]
    return await handler(dataclasses.replace(call, fault=fault))


async def show_counts(request: web.Request) -> web.Response:
    """``GET /_fake/counts``: requests by key, by ``"key|model"`` and by method."""
    return json_response(request.app[FAKE_STATE].counts())


async def replace_rules(request: web.Request) -> web.Response:
    """``POST /_fake/rules`` with ``{"rules": [...]}``: the new rules apply from the next request."""
    try:
        data = orjson.loads(await request.read())
        if not isinstance(data, dict):
            raise ValueError('body: expected {"rules": [...]}')
        rules = rules_from_list(data.get("rules"))
    except (orjson.JSONDecodeError, ValueError) as exc:
        return json_response({"error": str(exc)}, status=400)
    request.app[FAKE_STATE].set_rules(rules)
    return json_response({"rules": len(rules)})


async def reset_state(request: web.Request) -> web.Response:
    """``POST /_fake/reset``: forget counts, recorded requests and quota usage."""
    request.app[FAKE_STATE].reset()
    return json_response({"reset": True})


def create_fake_app(config: FakeConfig, state: FakeState | None = None) -> web.Application:
    """A fresh fake Gemini server serving ``config``; a given ``state`` adopts ``config``."""
    if state is None:
        state = FakeState(config)
    else:
        state.config = config
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[FAKE_STATE] = state
    app.router.add_get("/_fake/counts", show_counts)
    app.router.add_post("/_fake/rules", replace_rules)
    app.router.add_post("/_fake/reset", reset_state)
    app.router.add_route("*", "/{tail:.*}", handle_api)
    return app
