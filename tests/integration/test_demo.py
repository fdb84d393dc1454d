"""`gemini-proxy demo`: the proxy and the built-in fake upstream, no keys needed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.integration.proc import free_port


def _start_demo(port: int, log: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gemini_proxy.cli", "demo", "--port", str(port)],
        stdout=log,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


class TestDemo:
    async def test_demo_serves_the_printed_curl_line(self, tmp_path: Path) -> None:
        """The demo prints a curl line with its token, and that request answers 200."""
        port = free_port()
        log = (tmp_path / "demo.log").open("wb")
        process = _start_demo(port, log)
        try:
            url = f"http://127.0.0.1:{port}/v1beta/models/gemini-2.5-flash:generateContent"
            status = 0
            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    try:
                        async with session.post(
                            url,
                            json={"contents": [{"parts": [{"text": "hello"}]}]},
                            headers={"x-goog-api-key": "demo-client-token"},
                        ) as response:
                            status = response.status
                            body = await response.json()
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
            assert status == 200
            assert "hello" in body["candidates"][0]["content"]["parts"][0]["text"]
            printed = (tmp_path / "demo.log").read_text()
            assert "curl" in printed and "x-goog-api-key: demo-client-token" in printed
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 15)
            log.close()
        assert process.returncode == 0
