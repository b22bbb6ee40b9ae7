"""The `rebuild` benchmark's measuring process: the scheduled snapshot rebuild as `pitcrew serve` runs it.

    python -m bot.bench.rebuild_probe --noop-runs N      (settings from the environment, as serve reads them)

Opens the Application with its background jobs (the database, the pipeline, the knowledge watcher and
the snapshot schedule, as `serve` does, without Slack), then fires the schedule's own job
(`run_soon`: the job APScheduler runs at a cron firing): first on a catalog never rebuilt, a full
build; then N times with nothing changed. Last, a full check (`pitcrew snapshots rebuild`'s
rebuild) in a worker thread. For each: wall time, the report, the process's RSS before and after and
its peak during the run (Linux /proc; the peak is reset before each run), and the event loop's lag
(how late a 5 ms sleep wakes up) while it ran. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.app.application import Application
from bot.settings import load_settings
from knowledge.snapshots import RebuildReport, rebuild_snapshots

TICK_S = 0.005
RUN_TIMEOUT_S = 3600.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _LoopLag:
    """How late a short sleep on the event loop wakes up, sampled continuously."""

    def __init__(self) -> None:
        self.samples_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.samples_ms.append((time.perf_counter() - started - TICK_S) * 1000.0)

    def __enter__(self) -> _LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _measured(run: Callable[[], Awaitable[RebuildReport | None]]) -> dict[str, Any]:
    peak_reset = _reset_peak()
    rss_before = _status_mb("VmRSS")
    with _LoopLag() as lag:
        started = time.perf_counter()
        report = await run()
        seconds = time.perf_counter() - started
    if report is None:
        raise RuntimeError("the scheduled rebuild did not finish")
    return {
        "seconds": seconds,
        "report": report.as_json() | {"scope": report.scope, "errors": report.errors[:3]},
        "rss_before_mb": rss_before,
        "rss_after_mb": _status_mb("VmRSS"),
        "peak_growth_mb": _status_mb("VmHWM") - rss_before,
        "peak_reset": peak_reset,
        "loop_lag_ms": lag.samples_ms,
    }


async def _probe(noop_runs: int) -> dict[str, Any]:
    async with Application.running(load_settings(), load_demo=False, background=True) as app:
        schedule = app.schedule
        if schedule is None or schedule.role != "leader":
            raise RuntimeError("the snapshot schedule did not start as leader")

        async def scheduled() -> RebuildReport | None:
            if not schedule.run_soon() or not await schedule.wait_for_run(RUN_TIMEOUT_S):
                return None
            return schedule.last_report

        async def check_all() -> RebuildReport:
            return await asyncio.to_thread(rebuild_snapshots, app.db)

        full = await _measured(scheduled)
        noops = [await _measured(scheduled) for _ in range(noop_runs)]
        verify = await _measured(check_all)
    return {"full": full, "noops": noops, "check_all": verify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-runs", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # a run logs one line; keep stdout for the result
    print(json.dumps(asyncio.run(_probe(args.noop_runs))))


if __name__ == "__main__":
    main()
