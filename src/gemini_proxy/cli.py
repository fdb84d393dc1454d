"""Command line: serve, demo, fake-upstream, config check, keys check, state show/reset."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web

from gemini_proxy import __version__
from gemini_proxy.config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemini-proxy", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gemini-proxy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the proxy")
    serve.add_argument("--config", type=Path, help="YAML configuration (default: $GEMINI_PROXY_CONFIG)")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); more than 1 needs state.redis_url",
    )

    demo = commands.add_parser(
        "demo", help="the proxy in front of the built-in fake upstream, no keys needed"
    )
    demo.add_argument("--port", type=int, default=8080)

    fake = commands.add_parser("fake-upstream", help="serve the built-in fake Gemini API")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8090)
    fake.add_argument("--scenario", type=Path, help="YAML scenario: latency, stream pacing, fault rules")
    fake.add_argument("--latency-ms", type=float, help="added latency per request")
    fake.add_argument("--chunk-delay-ms", type=float, help="delay between stream chunks")
    fake.add_argument("--stream-chunks", type=int, help="chunks per streamed answer")

    state = commands.add_parser("state", help="the stored key state, without starting the server")
    state_commands = state.add_subparsers(dest="state_command", required=True)
    show = state_commands.add_parser("show", help="print the stored state of each key (masked)")
    show.add_argument("--config", type=Path, help="YAML configuration (default: $GEMINI_PROXY_CONFIG)")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    reset = state_commands.add_parser("reset", help="clear the stored state of one key or all")
    reset.add_argument("--config", type=Path, help="YAML configuration (default: $GEMINI_PROXY_CONFIG)")
    reset.add_argument("--key", help="the key id to reset (default: every key)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    keys = commands.add_parser("keys", help="key tools")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_check = keys_commands.add_parser(
        "check", help="probe every configured key against the upstream (no generation quota used)"
    )
    keys_check.add_argument("--config", type=Path, help="YAML configuration (default: $GEMINI_PROXY_CONFIG)")

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a configuration file without serving")
    check.add_argument("path", type=Path)
    return parser


def _load(path: Path | None) -> Settings:
    try:
        return load_settings(path, os.environ)
    except ConfigError as exc:
        print(f"gemini-proxy: configuration error\n{exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _serve(settings: Settings, host: str, port: int, reuse_port: bool = False) -> None:
    from gemini_proxy.app import create_app

    app = create_app(settings, environ=dict(os.environ))
    print(f"gemini-proxy listening on http://{host}:{port}", flush=True)
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=settings.server.shutdown_grace_s,
        handler_cancellation=True,
        access_log=None,
        print=None,
        reuse_port=reuse_port or None,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo(port: int) -> None:
    from gemini_proxy.app import create_app
    from gemini_proxy.fake_upstream.runner import start_fake_upstream
    from gemini_proxy.fake_upstream.scenario import FakeConfig

    fake_port = _free_port()
    token = "demo-client-token"  # noqa: S105 - a documented demo credential for the fake upstream
    settings = load_settings(
        None,
        {},
        upstream={"base_url": f"http://127.0.0.1:{fake_port}"},
        auth={"client_tokens": [{"name": "demo", "token": token}]},
        keys=[{"key": f"demo-key-{i:02d}-xxxxxxxx", "name": f"demo-{i}"} for i in range(1, 4)],
        state={"path": None},
    )
    app = create_app(settings)

    async def fake_upstream(app: web.Application) -> AsyncIterator[None]:
        fake = await start_fake_upstream(FakeConfig(stream_chunks=5, chunk_delay_ms=50), port=fake_port)
        try:
            yield
        finally:
            await fake.close()

    app.cleanup_ctx.insert(0, fake_upstream)
    base = f"http://127.0.0.1:{port}"
    print(
        "gemini-proxy demo: the proxy in front of the built-in fake Gemini API (3 fake keys)\n"
        f"  curl -s {base}/v1beta/models/gemini-2.5-flash:generateContent "
        f"-H 'x-goog-api-key: {token}' -H 'Content-Type: application/json' "
        """-d '{"contents":[{"parts":[{"text":"hello"}]}]}'\n"""
        f"  curl -sN '{base}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse' "
        f"-H 'x-goog-api-key: {token}' -H 'Content-Type: application/json' "
        """-d '{"contents":[{"parts":[{"text":"tell me a story"}]}]}'\n"""
        "Press Ctrl+C to stop.",
        flush=True,
    )
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, handler_cancellation=True)


def _fake_upstream(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from gemini_proxy.fake_upstream.runner import serve_fake_upstream
    from gemini_proxy.fake_upstream.scenario import FakeConfig, load_scenario

    try:
        config = load_scenario(args.scenario) if args.scenario else FakeConfig()
    except (OSError, ValueError) as exc:
        print(f"gemini-proxy: bad scenario {args.scenario}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    if args.latency_ms is not None:
        config = replace(config, latency_ms=args.latency_ms)
    if args.chunk_delay_ms is not None:
        config = replace(config, chunk_delay_ms=args.chunk_delay_ms)
    if args.stream_chunks is not None:
        config = replace(config, stream_chunks=args.stream_chunks)
    serve_fake_upstream(config, args.host, args.port)


def _state(args: argparse.Namespace) -> int:
    from gemini_proxy.store.cli_ops import reset_state, show_state

    settings = _load(args.config)
    path = settings.state.path
    if settings.state.redis_url:
        print(
            "gemini-proxy: state.redis_url is set: the state lives in Redis, shared by the running "
            "instances; see it with GET /admin/keys and reset a key with POST /admin/keys/{id}/reset",
            file=sys.stderr,
        )
        return 1
    if path is None:
        print("gemini-proxy: state.path is null: the state lives in memory only", file=sys.stderr)
        return 1
    if args.state_command == "show":
        rows = show_state(path)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
        else:
            _print_table(rows)
        return 0
    target = f"key {args.key}" if args.key else "every key"
    if not args.yes:
        answer = input(f"Clear the stored state of {target} in {path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    reset_state(path, args.key)
    print(f"cleared the stored state of {target}")
    return 0


def _print_table(rows: list[dict[str, object]]) -> None:
    if not rows:
        print("no stored state")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_cell(row.get(c)).ljust(widths[c]) for c in columns))


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        settings = _load(args.config)
        host = args.host or settings.server.host
        port = args.port if args.port is not None else settings.server.port
        if args.workers != 1:
            from gemini_proxy.workers import serve_workers

            return serve_workers(settings, host, port, args.workers, _serve)
        _serve(settings, host, port)
    elif args.command == "demo":
        _demo(args.port)
    elif args.command == "fake-upstream":
        _fake_upstream(args)
    elif args.command == "state":
        return _state(args)
    elif args.command == "keys":
        from gemini_proxy.keys_check import run_keys_check

        return run_keys_check(_load(args.config))
    elif args.command == "config":
        settings = _load(args.path)
        print(
            f"{args.path}: OK ({len(settings.keys)} keys, {len(settings.auth.client_tokens)} client tokens)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
