"""Run the real CLI as a child process for process-level tests (signals, restarts, crashes)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path, upstream: str, port: int, **sections: Any) -> Path:
    """A config file for a child proxy; ``sections`` replace whole sections."""
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port, "shutdown_grace_s": 10},
        "upstream": {"base_url": upstream, "request_timeout_s": 10},
        "auth": {"client_tokens": [{"name": "tests", "token": CLIENT_TOKEN}], "admin_token": ADMIN_TOKEN},
        "keys": [{"key": key, "name": f"key-{i}"} for i, key in enumerate(KEYS, start=1)],
        "state": {"path": str(directory / "state" / "state.db"), "flush_interval_s": 0.2},
        "logging": {"level": "info", "format": "json"},
    }
    config.update(sections)
    path = directory / "proxy.yaml"
    path.write_text(json.dumps(config))
    return path


class ProxyProcess:
    """``gemini-proxy serve`` in a child process; stdout (the JSON log) goes to a file."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        self.config = config
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log_file = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gemini_proxy.cli", "serve", "--config", str(config)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    async def ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("proxy did not start listening")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()

    async def wait(self, timeout_s: float = 20.0) -> int:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a child process; no event to wait on
            await asyncio.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("proxy did not exit in time")
        self._log_file.close()
        return self.process.returncode

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                events.append(orjson.loads(line))
        return events

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
