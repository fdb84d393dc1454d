"""The floor for our benchmarks: the least an aiohttp relay can do.

It forwards every request to the upstream with one fixed key in ``x-goog-api-key`` and
relays the answer (streams chunk by chunk). No auth, no pool, no retries, no logs, no
metrics. ``python -m tests.performance.bare_relay --upstream URL --port N --key K``.
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web
from yarl import URL

UPSTREAM = web.AppKey("upstream", str)
KEY = web.AppKey("key", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def relay(request: web.Request) -> web.StreamResponse:
    session = request.app[SESSION]
    url = request.app[UPSTREAM] + request.rel_url.raw_path
    if request.rel_url.raw_query_string:
        url += "?" + request.rel_url.raw_query_string
    body = await request.read()
    headers = {"Content-Type": "application/json", "x-goog-api-key": request.app[KEY]}
    async with session.request(
        request.method, URL(url, encoded=True), data=body, headers=headers
    ) as upstream:
        if "stream" not in request.rel_url.raw_path:
            return web.Response(
                status=upstream.status, body=await upstream.read(), content_type="application/json"
            )
        response = web.StreamResponse(
            status=upstream.status, headers={"Content-Type": upstream.headers.get("Content-Type", "")}
        )
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


def create_relay_app(upstream: str, key: str) -> web.Application:
    # aiohttp refuses bodies over 1 MiB by default; the proxy's limit is 20 MiB.
    app = web.Application(client_max_size=20 * 1024 * 1024)
    app[UPSTREAM] = upstream.rstrip("/")
    app[KEY] = key

    async def lifespan(app: web.Application) -> object:
        # No cap on upstream connections (aiohttp's default is 100), as in the proxy:
        # a thousand streams held at once need a thousand.
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(lifespan)  # type: ignore[arg-type]
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", default="bench-key-000000")
    args = parser.parse_args()
    web.run_app(
        create_relay_app(args.upstream, args.key),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
