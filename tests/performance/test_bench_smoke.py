"""A short, bounded run of ``make bench`` so that it cannot rot: the native workloads once,
pinned, against the fake upstream, the bare relay and the proxy. Real child processes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.performance import bench

CAN_PIN = (
    hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2 and bool(shutil.which("taskset"))
)


@pytest.mark.skipif(not CAN_PIN, reason="--pin needs Linux, two CPUs and taskset")
def test_pinned_bench_measures_relay_and_proxy_on_a_cpu_of_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.sched_getaffinity(0)
    out = tmp_path / "bench.json"

    bench.main(
        [
            "--requests",
            "40",
            "--concurrency",
            "4",
            "--repeats",
            "1",
            "--only",
            "native",
            "--pin",
            "--out",
            str(out),
        ]
    )

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
