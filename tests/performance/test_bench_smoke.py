"""A short, bounded run of ``make bench`` so that it cannot rot: the native workloads once,
pinned, against the fake upstream, the bare relay and the proxy. Real child processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.performance import bench
from tests.performance.harness import can_pin

CAN_PIN = can_pin()


@pytest.mark.skipif(not CAN_PIN, reason="--pin needs Linux, two CPUs and taskset")
def test_pinned_bench_measures_relay_and_proxy_on_a_cpu_of_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.sched_getaffinity(0)
    out = tmp_path / "bench.json"

    argv = ["--requests", "40", "--concurrency", "4", "--repeats", "1", "--only", "native"]
    bench.main([*argv, "--pin", "--out", str(out)])

    results = json.loads(out.read_text())
    assert [r["workload"] for r in results] == ["native generate", "native stream"]
    for result in results:
        assert result["pinned"] is True
        assert result["cpus"] == {"fake": [0], "relay": [1], "proxy": [1]}
        rows = {row["target"]: row for row in result["rows"]}
        assert set(rows) == {"direct", "bare relay", "proxy"}
        assert all(row["ok"] == row["requests"] == 40 for row in rows.values())
        assert rows["direct"]["cpu_ms_per_req"] is None
        assert rows["proxy"]["cpu_ms_per_req"] is not None and rows["proxy"]["cpu_ms_per_req"] >= 0
        assert result["throughput_ratio"] > 0
    assert os.sched_getaffinity(0) == before
    assert "pinned: load generator and fake upstream on CPU 0" in capsys.readouterr().out


@pytest.mark.skipif(not CAN_PIN, reason="--pin needs Linux, two CPUs and taskset")
# aiohttp's hint for bodies over 1 MiB sent as bytes (the driver's requests): a write of
# bytes does not block the loop, the transport buffers them.
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
def test_large_body_bench_sends_a_megabyte_image_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"

    argv = ["--body", "large", "--requests", "10", "--concurrency", "2", "--repeats", "1", "--only", "openai"]
    bench.main([*argv, "--pin", "--out", str(out)])

    results = json.loads(out.read_text())
    assert [r["workload"] for r in results] == ["openai chat 1MB", "openai chat stream 1MB"]
    for result in results:
        assert all(row["ok"] == row["requests"] == 10 for row in result["rows"])


def test_large_bodies_carry_the_image_to_workloads_and_floors() -> None:
    workloads, floors = bench.with_large_bodies(bench.WORKLOADS)

    assert [w.name for w in workloads] == [w.name + " 1MB" for w in bench.WORKLOADS]
    for workload in [*workloads, *floors.values()]:
        assert len(workload.body) > 1_000_000
    assert floors[False].surface == floors[True].surface == "gemini"
    assert b"inlineData" in floors[False].body and b"data:image/png;base64," in workloads[2].body
