"""Runs the benchmark modules and gathers their results with a description of the machine."""

from __future__ import annotations

import importlib
import logging
import os
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `pitcrew --help` reads BENCHMARK_MODULES; the rest loads when benchmarks run
    from bot.bench.core import BenchResult

# Order matters only for reading the table: cheap, in-process benchmarks first.
BENCHMARK_MODULES: tuple[str, ...] = (
    "classify",
    "llm_avoidance",
    "snapshots",
    "rebuild",
    "search",
    "logging",
    "pipeline",
    "operations",
    "long_message",
    "llm",
    "llm_parallel",
    "llm_hedge",
    "slack",
    "concurrency",
    "scale_out",
    "catalog",
    "faults",
    "cold_start",
    "airtable",
)


@dataclass
class BenchRun:
    results: list[BenchResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # module -> one-line error
    seconds: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmarks": [result.as_json() for result in self.results],
            "errors": self.errors,
            "seconds": round(self.seconds, 1),
            "machine": self.machine,
        }


def describe_machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model or platform.processor(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_benchmarks(
    *,
    quick: bool,
    only: Sequence[str] | None = None,
    on_module: Callable[[str], None] | None = None,
) -> BenchRun:
    """Run each benchmark module in its own scratch directory; one module failing doesn't stop the rest."""
    names = [name for name in BENCHMARK_MODULES if not only or name in only]
    run = BenchRun(machine=describe_machine())
    started = time.perf_counter()
    for name in names:
        if on_module is not None:
            on_module(name)
        module = importlib.import_module(f"bot.bench.{name}")
        with tempfile.TemporaryDirectory(prefix=f"pitcrew-bench-{name}-") as workdir, scratch_logging(Path(workdir)):
            try:
                run.results.extend(module.run(quick, Path(workdir)))
            except Exception as exc:  # a broken benchmark is reported, not fatal to the run
                run.errors[name] = f"{type(exc).__name__}: {exc}"
                logging.getLogger(__name__).debug("benchmark %s failed\n%s", name, traceback.format_exc())
    run.seconds = time.perf_counter() - started
    return run


@contextmanager
def scratch_logging(workdir: Path) -> Iterator[None]:
    """Log as `serve` does (JSON day file, LOG_LEVEL=INFO), but into `workdir/logs`: benchmarks that measure
    requests measure their logging too, and nothing reaches the operator's day files or terminal. A
    benchmark whose records would only be noise silences them itself."""
    from bot.observability import configure_logging, reset_logging
    from bot.settings import load_settings

    configure_logging(load_settings(log_dir=workdir / "logs", log_level="INFO"), stderr=False)
    try:
        yield
    finally:
        reset_logging()
