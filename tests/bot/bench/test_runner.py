"""The benchmark runner: each benchmark logs as `serve` does, into its own scratch directory."""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import pytest

from bot.bench import runner
from bot.bench.core import BenchResult


def _requests_benchmark(seen: dict[str, object]) -> types.ModuleType:
    """A benchmark that logs what a request logs and reads back where its records went."""

    def run(quick: bool, workdir: Path) -> list[BenchResult]:
        logging.getLogger("bot.pipeline.bench").info("Request completed successfully", extra={"intent": "help"})
        logging.getLogger("bot.pipeline.bench").debug("below the default level")
        seen["records"] = [json.loads(line) for path in (workdir / "logs").glob("*.log")
                           for line in path.read_text(encoding="utf-8").splitlines()]
        return [BenchResult(name="fake.requests", unit="ms", p50=1.0, p95=1.0, p99=1.0, target="reference",
                            passed=True)]

    module = types.ModuleType("bot.bench.fake_requests")
    module.run = run  # type: ignore[attr-defined]
    return module


def test_a_benchmark_logs_into_its_scratch_directory_not_the_operators(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setitem(sys.modules, "bot.bench.fake_requests", _requests_benchmark(seen))
    monkeypatch.setattr(runner, "BENCHMARK_MODULES", ("fake_requests",))
    handlers_before = list(logging.getLogger().handlers)

    run = runner.run_benchmarks(quick=True)

    assert run.errors == {} and [result.name for result in run.results] == ["fake.requests"]
    records: list[dict[str, object]] = seen["records"]  # type: ignore[assignment]
    assert [record["message"] for record in records] == ["Request completed successfully"]
    assert not (isolated_environment / "logs").exists()  # the operator's LOG_DIR
    assert capfd.readouterr().err == ""
    assert logging.getLogger().handlers == handlers_before
