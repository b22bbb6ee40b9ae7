"""What operating pitcrew costs the request path: the pipeline with and without metrics, alerts and rollout.

The same message mix as `pipeline.no_llm.demo` (no LLM, request logging on as in production), alternately in
rounds without the operations stack (no observers, no rollout gate) and with it: Prometheus metrics observing
every summary, the alert service evaluating after requests (posting to a sink that keeps nothing), and the rollout
controller answering the control plane's skip question and watching each request (mode `canary` at 100 %: the
per-user hash runs on every confident message, and every message is decided as without the gate, so both sides
do the same work). Target: p95 with them within 5 % of the p95 without.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app.application import Application
from bot.bench.core import BenchResult, percentiles
from bot.bench.pipeline import MESSAGES, _measure, _settings
from bot.observability import configure_logging, reset_logging
from bot.observability.metrics import Metrics
from bot.ops.alerts import AlertService
from bot.ops.rollout import RolloutController, RolloutState
from control_plane import ControlPlane

OVERHEAD_TARGET = 0.05
ROUNDS = 20  # short alternating rounds: the machine's drift falls on both sides alike


class _NoPoster:
    """Alerts go nowhere: the bench measures evaluating them, not Slack."""

    async def post(self, channel: str, text: str) -> str | None:
        return None

    async def update(self, channel: str, ts: str, text: str) -> bool:
        return True


async def _measure_both(workdir: Path, per_round: int) -> tuple[list[float], list[float]]:
    settings = _settings(workdir, alert_channel="C0BENCH", alert_eval_s=1.0)
    messages = [MESSAGES[i % len(MESSAGES)] for i in range(per_round)]
    without: list[float] = []
    with_ops: list[float] = []
    async with Application.running(settings) as app:
        plane = app.pipeline.control_plane
        assert isinstance(plane, ControlPlane)
        await _measure(app.pipeline, list(MESSAGES) * 2, warmup=len(MESSAGES) * 2)  # warm caches and patterns
        metrics = Metrics(sla_ms=settings.sla_ms, fast_model=settings.openai_fast_model)
        rollout = RolloutController(app.db, settings, metrics=metrics, state=RolloutState("canary", 100.0))
        alerts = AlertService(settings, _NoPoster(), breaker_state=lambda: app.llm.breaker_state, rollout=rollout,
                              metrics=metrics)
        for _ in range(ROUNDS):
            plane.use_rollout(None)
            without += await _measure(app.pipeline, messages, warmup=0)
            metrics.start()
            rollout.start()
            alerts.start()
            plane.use_rollout(rollout)
            try:
                with_ops += await _measure(app.pipeline, messages, warmup=0)
            finally:
                plane.use_rollout(None)
                await alerts.stop()
                await rollout.stop()
                metrics.stop()
                alerts = AlertService(settings, _NoPoster(), breaker_state=lambda: app.llm.breaker_state,
                                      rollout=rollout, metrics=metrics)
    return without, with_ops


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    configure_logging(_settings(workdir), stderr=False)
    try:
        without, with_ops = asyncio.run(_measure_both(workdir, per_round=20 if quick else 120))
    finally:
        reset_logging()
    base = percentiles(without)
    ops = percentiles(with_ops)
    overhead = ops[1] / base[1] - 1.0
    detail = (f"{len(with_ops)} messages each way in {ROUNDS} alternating rounds; p95 without {base[1]:.3f} ms, "
              f"with {ops[1]:.3f} ms: {overhead:+.1%}")
    return [
        BenchResult("operations.pipeline.without", "ms", round(base[0], 3), round(base[1], 3), round(base[2], 3),
                    "baseline", True, "no metrics, alerts or rollout gate"),
        BenchResult("operations.pipeline.with", "ms", round(ops[0], 3), round(ops[1], 3), round(ops[2], 3),
                    f"p95 within {OVERHEAD_TARGET:.0%} of the baseline", overhead < OVERHEAD_TARGET, detail),
    ]
