"""The admin API under ``/admin/`` (contract: ``contracts/admin-api.yaml``).

Every call needs ``Authorization: Bearer <admin token>`` (compared in constant time by
``services.admin_auth``); without it the answer is 401 and says nothing about what was
wrong. Errors are ``{"error": {"code", "message"}}`` (the access middleware formats any
error on an ``/admin`` path that way). Keys appear by id and masked form only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from gemini_proxy.background import models_probe
from gemini_proxy.config import KeySettings
from gemini_proxy.errors import InvalidRequest, ProxyError, Unauthorized
from gemini_proxy.keys.model import KEY_ID_LENGTH
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.keys.pool import DuplicateKey, UnknownKey
from gemini_proxy.keys.views import KeyStatus
from gemini_proxy.keys_check import probe_all, probe_outcome
from gemini_proxy.observability.timeline import BUCKET_S, TIMELINE, Window
from gemini_proxy.pool_factory import key_spec
from gemini_proxy.routes import admin_json
from gemini_proxy.routes.common import json_response, read_body
from gemini_proxy.services import SERVICES, Services
from gemini_proxy.store import base as store_base
from gemini_proxy.store.records import AddedKeyRecord

AdminHandler = Callable[[web.Request, Services], Awaitable[web.StreamResponse]]

MAX_KEYS_PER_REQUEST = 1000
PROBE_CONCURRENCY = 8
MAX_REASON_LENGTH = 200
_KEY_ID = re.compile(f"[0-9a-f]{{{KEY_ID_LENGTH}}}")
_STATES = ", ".join(status.value for status in KeyStatus)


class AdminUnauthorized(ProxyError):
    """Missing or wrong admin token (401); never says which."""

    status = 401
    code = "unauthorized"


class StoreUnavailable(ProxyError):
    """The state store refused a write the change depends on (503); nothing was changed."""

    status = 503
    code = "store_unavailable"


def _admin(handler: AdminHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def authorized(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        try:
            services.admin_auth.authenticate(request.headers)
        except Unauthorized:
            raise AdminUnauthorized(
                "admin authentication required", headers={"WWW-Authenticate": "Bearer"}
            ) from None
        return await handler(request, services)

    authorized.__doc__ = handler.__doc__
    return authorized


_ABSENT = object()


async def _json_body(request: web.Request, *, required: bool) -> Any:
    """The decoded JSON body; ``_ABSENT`` when there is none and none is required."""
    body = await read_body(request, request.app[SERVICES])
    if not body.strip():
        if required:
            raise InvalidRequest("a JSON request body is required")
        return _ABSENT
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the request body is not valid JSON") from None


def _key_id(request: web.Request) -> str:
    """The path's key id; anything not shaped like one is unknown, and is not echoed back
    (a raw key pasted into the path must not come back in the answer)."""
    value = request.match_info["key_id"]
    if not _KEY_ID.fullmatch(value):
        raise UnknownKey("no key with this id")
    return value


def _int_param(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", param=name) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}", param=name)
    return value


def _validation_message(where: str, exc: ValidationError) -> str:
    """Field and problem of each error, never the value given (it may be a key)."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(object)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}.{field}: {message}")
    return "; ".join(problems)


# -- pool and keys ---------------------------------------------------------------------


async def get_pool(request: web.Request, services: Services) -> web.StreamResponse:
    """Key counts by state, availability of each model in use, earliest recovery, store backend."""
    pool = services.pool
    models = {services.settings.models.default, *services.activity.models()}
    models.update(pool.cooling_counts())
    rows = []
    for model in sorted(models):
        available, cooling = pool.availability(model)
        rows.append((model, available, cooling, pool.earliest_recovery(model)))
    store = services.store
    name = store.name if store is not None else "none"
    backend = str(getattr(store, "active_backend", None) or name)
    return json_response(admin_json.pool_json(pool.summary(), rows, pool.next_recovery(), name, backend))


async def list_keys(request: web.Request, services: Services) -> web.StreamResponse:
    """Every key (optionally only those in ``state``), ``offset``/``limit`` for pages."""
    state = request.query.get("state")
    if state is not None and state not in KeyStatus.__members__.values():
        raise InvalidRequest(f"state must be one of {_STATES}", param="state")
    offset = _int_param(request, "offset", 0, 0, 10_000_000) or 0
    limit = _int_param(request, "limit", None, 1, 100_000)
    pool = services.pool
    if state is None and offset == 0 and limit is None:
        views = pool.views()
        return json_response({"total": len(views), "keys": [admin_json.key_json(view) for view in views]})
    # Filter and page on the cheap statuses; build full views only for the page.
    ids = [key_id for key_id, status, _ in pool.key_statuses() if state is None or status == state]
    page = ids[offset:] if limit is None else ids[offset : offset + limit]
    keys = [admin_json.key_json(pool.view(key_id)) for key_id in page]
    return json_response({"total": len(ids), "keys": keys})


async def get_key(request: web.Request, services: Services) -> web.StreamResponse:
    """One key."""
    return json_response(admin_json.key_json(services.pool.view(_key_id(request))))


async def key_errors(request: web.Request, services: Services) -> web.StreamResponse:
    """A key's recent errors, newest first."""
    key_id = services.pool.view(_key_id(request)).key_id
    return json_response(admin_json.errors_json(key_id, services.activity.errors(key_id)))


def _key_settings(data: Any) -> list[KeySettings]:
    if not isinstance(data, dict):
        raise InvalidRequest('the body must be a key object or {"keys": [...]}')
    batch = "keys" in data and len(data) == 1
    items: Any = data["keys"] if batch else [data]
    if not isinstance(items, list) or not items:
        raise InvalidRequest("keys must be a non-empty list", param="keys")
    if len(items) > MAX_KEYS_PER_REQUEST:
        raise InvalidRequest(f"at most {MAX_KEYS_PER_REQUEST} keys per request", param="keys")
    settings: list[KeySettings] = []
    for index, item in enumerate(items):
        where = f"keys[{index}]" if batch else "body"
        try:
            entry = {"key": item} if isinstance(item, str) else item
            if not isinstance(entry, dict):
                raise InvalidRequest(f"{where}: expected a key object or a key string")
            # Strict: a number must be a JSON number, a name a JSON string, as the contract says.
            settings.append(KeySettings.model_validate_json(orjson.dumps(entry), strict=True))
        except ValidationError as exc:
            raise InvalidRequest(_validation_message(where, exc)) from None
    return settings


async def add_keys(request: web.Request, services: Services) -> web.StreamResponse:
    """Add one key or several; persisted as added keys. A duplicate refuses the whole request (409)."""
    entries = _key_settings(await _json_body(request, required=True))
    specs = [key_spec(entry) for entry in entries]
    seen: set[str] = set()
    for spec in specs:
        if spec.key_id in services.pool or spec.key_id in seen:
            raise DuplicateKey(f"key {spec.key_id} is already in the pool")
        seen.add(spec.key_id)
    services.redactor.update(spec.secret for spec in specs)
    added = [services.pool.add(spec) for spec in specs]
    views = [services.pool.view(key_id) for key_id in added]
    if services.store is not None:
        records = [
            AddedKeyRecord(
                key_id=view.key_id,
                secret=spec.secret,
                name=spec.name,
                project=spec.project,
                weight=spec.weight,
                limits=spec.limits.to_dict(),
                added_at=view.added_at or services.clock(),
            )
            for spec, view in zip(specs, views, strict=True)
        ]
        await _persist_added(services, services.store, records)
    services.log.info("keys_added", key_ids=added)
    return json_response({"added": [admin_json.key_json(view) for view in views]}, status=201)


async def _persist_added(
    services: Services, store: store_base.StateStore, records: list[AddedKeyRecord]
) -> None:
    """Store the added keys; if the store refuses, take them out of the pool (and store) again."""
    stored: list[str] = []
    try:
        for record in records:
            try:
                await store.add_key(record)
            except store_base.DuplicateKey:  # stored by an earlier run; the pool is authoritative
                await store.remove_key(record.key_id)
                await store.add_key(record)
            stored.append(record.key_id)
    except store_base.StoreError as exc:
        if services.metrics is not None:
            services.metrics.store_error("add_key")
        services.log.error("keys_add_not_persisted", error=str(exc))
        for record in records:
            if record.key_id in services.pool:
                services.pool.remove(record.key_id)
        for key_id in stored:
            try:
                await store.remove_key(key_id)
            except store_base.StoreError:
                break
        raise StoreUnavailable("the state store cannot save the keys now; nothing was added") from None


async def delete_key(request: web.Request, services: Services) -> web.StreamResponse:
    """Remove a key from the pool and forget it in the store."""
    key_id = services.pool.view(_key_id(request)).key_id
    if services.store is not None:
        try:
            await services.store.remove_key(key_id)
        except store_base.StoreError as exc:
            if services.metrics is not None:
                services.metrics.store_error("remove_key")
            services.log.error("key_remove_not_persisted", key_id=key_id, error=str(exc))
            raise StoreUnavailable("the state store cannot forget the key now; it was not removed") from None
    services.pool.remove(key_id)
    services.log.info("key_removed_by_admin", key_id=key_id)
    return json_response({"id": key_id, "removed": True})


async def enable_key(request: web.Request, services: Services) -> web.StreamResponse:
    """Put a disabled key back into rotation."""
    key_id = _key_id(request)
    services.pool.enable(key_id)
    return json_response(admin_json.key_json(services.pool.view(key_id)))


async def disable_key(request: web.Request, services: Services) -> web.StreamResponse:
    """Take a key out of rotation until enabled (optional body ``{"reason": "..."}``)."""
    key_id = _key_id(request)
    services.pool.view(key_id)
    data = await _json_body(request, required=False)
    reason = "admin"
    if data is not _ABSENT:
        given = data.get("reason", "") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) - {"reason"} or not isinstance(given, str):
            raise InvalidRequest('the body must be {"reason": "..."}')
        if len(given) > MAX_REASON_LENGTH:
            raise InvalidRequest(f"reason is longer than {MAX_REASON_LENGTH} characters", param="reason")
        reason = given or "admin"
    services.pool.disable(key_id, reason)
    return json_response(admin_json.key_json(services.pool.view(key_id)))


async def reset_key(request: web.Request, services: Services) -> web.StreamResponse:
    """Clear a key's disable, cooldowns, breaker and health (its counters stay)."""
    key_id = _key_id(request)
    services.pool.reset(key_id)
    return json_response(admin_json.key_json(services.pool.view(key_id)))


# -- timeline (the dashboard's charts) -------------------------------------------------


def _timeline_json(key_id: str | None, window: Window) -> dict[str, Any]:
    return {
        "id": key_id,
        "bucket_s": BUCKET_S,
        "buckets": [
            {
                "start": admin_json.iso(b.start),
                "requests": b.requests,
                "errors": b.errors,
                "rate_limited": b.rate_limited,
            }
            for b in window.buckets
        ],
        "requests_per_s": window.requests_per_s,
        "error_ratio": window.error_ratio,
    }


async def pool_timeline(request: web.Request, services: Services) -> web.StreamResponse:
    """Upstream calls, errors and 429s per minute over the last hour, for the whole pool."""
    return json_response(_timeline_json(None, request.app[TIMELINE].pool_window()))


async def key_timeline(request: web.Request, services: Services) -> web.StreamResponse:
    """The same for one key."""
    key_id = services.pool.view(_key_id(request)).key_id
    return json_response(_timeline_json(key_id, request.app[TIMELINE].key_window(key_id)))


# -- probes and reload -----------------------------------------------------------------


def _probe(services: Services) -> Callable[[str], Awaitable[Outcome]]:
    return models_probe(services.client, services.settings.models.default)


async def probe_key(request: web.Request, services: Services) -> web.StreamResponse:
    """Probe one key now (a models GET, no generation quota) and apply the result."""
    key_id = _key_id(request)
    outcome = await probe_outcome(_probe(services), services.pool.probe_secret(key_id))
    services.pool.record_admin_probe(key_id, outcome)
    return json_response(admin_json.probe_json(services.pool.view(key_id), outcome))


async def probe_keys(request: web.Request, services: Services) -> web.StreamResponse:
    """Probe every key now; one result per key and a count per result."""
    ids = [view.key_id for view in services.pool.views()]
    secrets = [services.pool.probe_secret(key_id) for key_id in ids]
    outcomes = await probe_all(secrets, _probe(services), concurrency=PROBE_CONCURRENCY)
    results = []
    for key_id, outcome in zip(ids, outcomes, strict=True):
        if key_id not in services.pool:  # removed while probing
            continue
        services.pool.record_admin_probe(key_id, outcome)
        results.append(admin_json.probe_json(services.pool.view(key_id), outcome))
    return json_response({"results": results, "summary": admin_json.probe_summary(results)})


async def reload_config(request: web.Request, services: Services) -> web.StreamResponse:
    """Read the configuration file again and apply it (see ``gemini_proxy.reload``)."""
    if services.reloader is None:
        raise ProxyError("configuration reload is not available", status=409, code="no_config_file")
    result = await services.reloader.reload(services)
    return json_response(admin_json.reload_json(result))


ROUTES: tuple[tuple[str, str, AdminHandler], ...] = (
    ("GET", "/admin/pool", get_pool),
    ("GET", "/admin/keys", list_keys),
    ("POST", "/admin/keys", add_keys),
    ("GET", "/admin/keys/{key_id}", get_key),
    ("DELETE", "/admin/keys/{key_id}", delete_key),
    ("GET", "/admin/keys/{key_id}/errors", key_errors),
    ("GET", "/admin/keys/{key_id}/timeline", key_timeline),
    ("POST", "/admin/keys/{key_id}/enable", enable_key),
    ("POST", "/admin/keys/{key_id}/disable", disable_key),
    ("POST", "/admin/keys/{key_id}/reset", reset_key),
    ("POST", "/admin/keys/{key_id}/probe", probe_key),
    ("POST", "/admin/probe", probe_keys),
    ("POST", "/admin/reload", reload_config),
    ("GET", "/admin/timeline", pool_timeline),
)


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, _admin(handler))
