"""Redis for the tests: the shared server (unique prefixes, cleaned up) or a private one.

``REDIS_URL`` is the shared server (``GEMINI_PROXY_TEST_REDIS_URL``, default local 6379).
Every test uses its own ``unique_prefix`` and deletes its keys with ``delete_prefix``, so
parallel runs never meet. ``RedisServer`` runs a private ``redis-server`` on a free port
(no persistence) that a test may stop and start again, for outages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import redis

REDIS_URL = os.environ.get("GEMINI_PROXY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_prefix(label: str) -> str:
    """A Redis prefix no other test uses."""
    return f"gp-test:{label}:{uuid.uuid4().hex[:12]}"


def redis_available(url: str = REDIS_URL) -> bool:
    """Whether a Redis server answers at ``url``."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def require_redis(url: str = REDIS_URL) -> None:
    """Fail the test when no Redis answers: these machines run one on 127.0.0.1:6379 and
    .ci/run starts it, so a missing server is a broken environment, not a reason to skip."""
    if not redis_available(url):
        import pytest

        pytest.fail(f"no Redis server at {url}: start one (see .ci/run)")


def keys_under(url: str, prefix: str) -> list[bytes]:
    """Every Redis key under ``prefix``."""
    with redis.Redis.from_url(url) as client:
        return sorted(client.scan_iter(match=f"{prefix}:*", count=1000))


def stored_values(url: str, prefix: str) -> bytes:
    """Every name, field and value stored under ``prefix``, concatenated (to grep for secrets)."""
    parts: list[bytes] = []
    with redis.Redis.from_url(url) as client:
        for name in sorted(client.scan_iter(match=f"{prefix}:*", count=1000)):
            kind = client.type(name)
            parts.append(name)
            if kind == b"string":
                parts.append(client.get(name) or b"")
            elif kind == b"hash":
                for field, value in sorted(client.hgetall(name).items()):
                    parts += [field, value]
            elif kind == b"set":
                parts += sorted(client.smembers(name))
            elif kind == b"zset":
                parts += [member for member, _ in client.zrange(name, 0, -1, withscores=True)]
    return b"\n".join(parts)


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    with redis.Redis.from_url(url) as client:
        names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if names:
            client.delete(*names)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_redis_url() -> str:
    """The URL of a Redis that is not there (a free loopback port nobody listens on)."""
    return f"redis://127.0.0.1:{_free_port()}/0"


class RedisServer:
    """A private ``redis-server`` on a free loopback port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = folder
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server (again) on its port and wait until it answers."""
        self._folder.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not redis_available(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server at once (its data is gone: no persistence)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
