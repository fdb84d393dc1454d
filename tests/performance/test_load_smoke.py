"""A short, bounded run of the load tool so that it cannot rot: each workload once, direct
and through the proxy, and the fault mix once. Real child processes over loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.performance import load_test
from tests.performance.harness import can_pin
from tests.performance.load_test import WORKLOADS, LoadOptions


def _sane_latency(figures: dict[str, float]) -> None:
    assert 0 < figures["p50"] <= figures["p99"] <= figures["max"] < 60_000


class TestLoadSmoke:
    def test_every_workload_reports_sane_figures(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each workload runs direct and through the proxy; the JSON report has every figure."""
        out = tmp_path / "report.json"
        argv = ["--workload", "all", "--requests", "60", "--concurrency", "6", "--warmup", "5"]
        argv += ["--stream-chunks", "4", "--compare-direct", "--json", str(out)]

        assert load_test.main(argv) == 0

        report = json.loads(out.read_text())
        assert [run["workload"] for run in report["runs"]] == list(WORKLOADS)
        assert report["all_succeeded"] and report["exit_codes"] == {"proxy": 0, "fake": 0}
        for run in report["runs"]:
            proxied, direct = run["proxy"], run["direct"]
            for figures in (proxied, direct):
                assert figures["requests"] == 60 and figures["statuses"] == {"200": 60}
                assert figures["success_rate"] == 1.0 and figures["rps"] > 0
                _sane_latency(figures["latency_ms"])
                if WORKLOADS[run["workload"]].stream:
                    _sane_latency(figures["ttfb_ms"])
                    assert figures["gap_ms"]["max"] >= 0
            assert proxied["upstream_calls"] == {"success": 60} and proxied["retries"]["total"] == 0
            assert (
                proxied["proxy"]["cpu_ms_per_request"] >= 0
            )  # /proc counts 10 ms ticks: 60 requests may read 0
            assert 10 < proxied["proxy"]["rss_mb_peak_sampled"] <= proxied["proxy"]["rss_mb_high_water"] + 1
            assert set(run["added_latency_ms"]) >= {"p50_ms", "p99_ms"}
        printed = capsys.readouterr().out
        assert "every measured client request succeeded" in printed and "added by the proxy" in printed

    def test_fault_mix_every_client_request_succeeds(self) -> None:
        """With 30% of keys rate limited, one invalid, one flaky and one slow, clients see no failure.

        The warm-up meets every faulty key first; its failures are reported, not asserted (at
        first contact a request can meet three faulty keys in a row). The measured runs, with
        the rate-limited keys cooling and the invalid one disabled, must not fail.
        """
        options = LoadOptions(
            workloads=("native", "openai-stream"), requests=150, concurrency=8, warmup=40, faults="mix"
        )

        report = load_test.run(options)

        assert report["pool"] == {"flaky": 1, "invalid": 1, "ok": 11, "ratelimited": 6, "slow": 1}
        assert report["all_succeeded"] and report["client_failures"] == 0
        assert report["exit_codes"] == {"proxy": 0, "fake": 0}
        first = report["runs"][0]["proxy"]
        assert first["statuses"] == {"200": 150} and first["warmup"]["requests"] == 40
        # Seven first contacts (six rate-limited keys, the invalid one), each retried unless it
        # was a failed request's last attempt.
        assert first["warmup"]["retries"] + 2 * report["warmup_client_failures"] >= 7
        assert first["retries"]["by_reason"].get("http_503", 0) > 0  # the flaky key stays in rotation
        assert first["latency_ms"]["max"] >= 500  # the slow key's delay shows in the tail

    @pytest.mark.skipif(not can_pin(), reason="--pin needs Linux, two CPUs and taskset")
    def test_pin_gives_the_proxy_a_cpu_of_its_own(self) -> None:
        """``--pin``: the tool and the fake on CPU 0, the proxy on CPU 1; this process's
        affinity comes back afterwards."""
        before = os.sched_getaffinity(0)
        options = LoadOptions(workloads=("native-stream",), requests=20, concurrency=4, warmup=2, pin=True)

        report = load_test.run(options)

        assert report["all_succeeded"] and report["exit_codes"] == {"proxy": 0, "fake": 0}
        assert report["cpus"] == {"load_generator": [0], "fake": [0], "proxy": [1]}
        assert os.sched_getaffinity(0) == before
