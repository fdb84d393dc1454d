"""A small admin API client for tests: every response is checked against the contract."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.conftest import ADMIN_TOKEN
from tests.contract.openapi import admin_contract


class AdminClient:
    """Calls ``/admin/...`` with the admin token and validates each response on the way."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str = ADMIN_TOKEN) -> None:
        self._session = session
        self._base = base_url
        self._token = token
        self.seen: set[tuple[str, str, int]] = set()  # (method, template, status)

    async def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self._token}"}
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self._session.request(
            method, f"{self._base}{path}", data=data, headers=headers
        ) as response:
            payload = await response.read()
            status = response.status
            content_type = response.headers.get("Content-Type", "")
        route = path.split("?", 1)[0]
        decoded = admin_contract().check(method, route, status, content_type, payload)
        self.seen.add((method, admin_contract().template_for(route), status))
        return status, decoded

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.call("GET", path)

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.call("POST", path, body)

    async def delete(self, path: str) -> tuple[int, Any]:
        return await self.call("DELETE", path)
