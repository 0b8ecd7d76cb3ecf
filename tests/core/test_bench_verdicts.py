"""The benchmarks state every goal as met or missed, from every statistic that matters."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _core_results(capture_us: float, emitted: float) -> dict[str, Any]:
    return {
        "hot_path": {
            "capture_on": {"overhead_us": capture_us},
            "disabled": {"overhead_us": 0.1},
            "nested_3_vs_one": 2.5,
        },
        "throughput": {"lossless": {"emit_spans_per_s": emitted, "delivered_spans_per_s": 60_000}},
        "import": {"import_whyops_ms": 30},
    }


def test_core_bench_gives_a_verdict_per_goal() -> None:
    bench = _load("bench_core")
    lines = bench.verdicts(_core_results(capture_us=2.0, emitted=150_000))
    assert len(lines) == 6 and all(line.endswith(" met") for line in lines)
    lines = bench.verdicts(_core_results(capture_us=6.0, emitted=90_000))
    missed = [line.split()[0] for line in lines if line.endswith("MISSED")]
    assert missed == ["capture-on", "spans"]


def test_client_bench_judges_the_goal_on_mean_and_p99_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _load("bench_client")
    row = {"p50_us": 4.0, "p99_us": 40.0, "mean_us": 6.0}
    results = {
        "builder": {"healthy": row, "503": row, "down": row},
        "wo011": {},
        "hook": {"hook_us": 5.0},
    }
    bench.print_table(results)
    out = capsys.readouterr().out
    assert "goal p50  <= 10.0 us: worst 4.00 us, met" in out
    assert "goal mean <= 10.0 us: worst 6.00 us, met" in out
    assert "goal p99  <= 10.0 us: worst 40.00 us, MISSED" in out
