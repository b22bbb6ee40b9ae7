"""Shared measurement helpers for the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class BenchResult:
    name: str  # e.g. "snapshot_read.fast.demo"
    unit: str  # "ms", "us", "s", "ratio", "MB", ...
    p50: float
    p95: float
    p99: float
    target: str  # human-readable, e.g. "p95 < 0.5 ms"
    passed: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passed")
        return data


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 of `samples` (inclusive method, so small samples stay within their range)."""
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94], cuts[98]


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 20, scale: float = 1000.0) -> list[float]:
    """Run `call` `warmup` times untimed, then `repeats` times; each sample in ms (scale 1000) or µs (1e6)."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * scale)
    return samples
