"""Running the fake: in-process on a loopback port for tests, or blocking for the CLI."""

from __future__ import annotations

import gc
import socket
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from gemini_proxy.fake_upstream.app import create_fake_app
from gemini_proxy.fake_upstream.scenario import FakeConfig
from gemini_proxy.fake_upstream.state import FakeState

# Slow or hung requests must not hold a test's teardown for long.
SHUTDOWN_TIMEOUT_S = 1.0


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with brackets around an IPv6 host."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@dataclass
class RunningFake:
    """A fake upstream listening on a real socket; close it (or use ``async with``) when done."""

    url: str
    port: int
    state: FakeState
    runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening and finish the server's cleanup."""
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningFake:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def start_fake_upstream(
    config: FakeConfig, *, host: str = "127.0.0.1", port: int = 0, state: FakeState | None = None
) -> RunningFake:
    """Serve the fake on ``host:port`` (port 0 picks a free one) and return its handle."""
    state = state if state is not None else FakeState(config)
    runner = web.AppRunner(
        create_fake_app(config, state),
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    return RunningFake(url=base_url(host, bound_port), port=bound_port, state=state, runner=runner)


def serve_fake_upstream(config: FakeConfig, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the fake until SIGINT/SIGTERM, after printing ``fake upstream listening on <url>``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family)
    bound_port = int(listener.getsockname()[1])
    print(f"fake upstream listening on {base_url(host, bound_port)}", flush=True)
    # What is loaded now lives as long as the process: keep the collector's full passes,
    # which pause every open stream, from scanning it again and again.
    gc.freeze()
    web.run_app(
        create_fake_app(config),
        sock=listener,
        print=None,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
