"""Schemathesis against the admin API of a running proxy: generated calls (valid and not)
never get a 5xx, and every answer fits ``contracts/admin-api.yaml``.

Schemathesis runs as its own process (its CLI) while the proxy serves from the test's event
loop; the number of examples is bounded so the whole run stays within a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from gemini_proxy.config import load_settings
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory
from tests.contract.admin_client import AdminClient
from tests.contract.openapi import ADMIN_API

SCHEMATHESIS = Path(sys.executable).with_name("st")
# Every check schemathesis has: no 5xx, status codes, media types, headers and bodies as
# documented, invalid input refused, valid input accepted, auth not ignored, 405 with Allow.
CHECKS = "all"
TIMEOUT_S = 60.0


class TestSchemathesis:
    async def test_generated_calls_fit_the_contract(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, tmp_path: Path
    ) -> None:
        """A bounded schemathesis run finds no server error and no answer outside the contract."""
        fake = await fake_factory()
        config = tmp_path / "proxy.yaml"
        config.write_text(
            "auth:\n"
            f"  client_tokens: [{{name: tests, token: {CLIENT_TOKEN}}}]\n"
            f"  admin_token: {ADMIN_TOKEN}\n"
            f"upstream: {{base_url: '{fake.url}', request_timeout_s: 5}}\n"
            "state: {path: state.db, flush_interval_s: 0.2}\n"
            "keys:\n" + "".join(f"  - {{key: {key}}}\n" for key in KEYS)
        )
        proxy = await proxy_factory(load_settings(config, {}))
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            str(ADMIN_API),
            "--url",
            proxy.url,
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "20250602",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        report = output.decode(errors="replace")
        assert process.returncode == 0, report[-6000:]
        assert "No issues found" in report or "passed" in report, report[-3000:]
        async with aiohttp.ClientSession() as session:  # the proxy still serves after the run
            status, pool = await AdminClient(session, proxy.url).get("/admin/pool")
            assert status == 200 and pool["keys"]["total"] >= 1
            async with session.get(f"{proxy.url}/readyz") as response:
                assert response.status in (200, 503)
