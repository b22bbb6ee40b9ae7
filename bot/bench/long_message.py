"""Long-message benchmark: adversarial 4,000- and 40,000-character messages through the pipeline.

Slack allows 40,000 characters in a message. Every text path must run in time linear in the
message (a quadratic regex on such a message stalled every other event for seconds), so this
measures the CPU time of one `Pipeline.handle` (no LLM, demo data, logging on) for messages built to
provoke backtracking: repeated plan names, runs of `*`, `_`, `~` and backticks, Slack mentions and
links, emoji, quotes, one word without spaces, newlines... each alone and after the opening of a
request of every kind, so every handler reads them. Target: p95 < 50 ms CPU at 40,000 characters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bot.app.application import Application
from bot.bench.core import BenchResult, percentiles
from bot.observability import configure_logging, reset_logging
from bot.pipeline import IncomingMessage, Pipeline
from bot.settings import Settings, load_settings

SLACK_MAX_CHARS = 40_000
SIZES = (4_000, SLACK_MAX_CHARS)
TARGET_CPU_MS = 50.0


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


# Message bodies that make a backtracking regex retry from every position, or a loop look every word up.
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "plan names": _repeat("pro "),
    "plan comparisons": _repeat("Pro plan vs Enterprise "),
    "stars": _repeat("*"),
    "underscores": _repeat("_"),
    "tildes": _repeat("~"),
    "backticks": _repeat("`"),
    "alternating stars": _repeat("*a"),
    "bold markers": _repeat("**a "),
    "mentions": _repeat("<@U123> "),
    "links": _repeat("<https://x|y> "),
    "emoji codes": _repeat(":smile: "),
    "raw emoji": _repeat("\U0001f600"),
    "questions": _repeat("what does the "),
    "quotes": _repeat('"'),
    "possessives": _repeat("'s"),
    "one word": _repeat("a"),
    "hyphenated word": _repeat("a-"),
    "newlines": _repeat("\n"),
    "spaces": _repeat(" "),
    "capitalised words": _repeat("Foo Bar "),
    "dots": _repeat("."),
}

# Openings that route a message to each handler, so each one reads the long body.
OPENINGS = (
    "",
    "does growth include sso? ",
    "how much is the pro plan? ",
    "find calls about ",
    "draft an email to Priya about ",
    "summarize my last call with Acme ",
    "thanks ",
    "help ",
)


def long_message(opening: str, body: Callable[[int], str], size: int) -> str:
    """`opening` then the adversarial body, `size` characters in all."""
    return opening + body(size - len(opening))


def messages(size: int) -> list[str]:
    """Every opening with every adversarial body, each `size` characters long."""
    return [long_message(opening, body, size) for opening in OPENINGS for body in ADVERSARIAL.values()]


def _settings(workdir: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{workdir / 'long-message-bench.db'}",
        log_dir=workdir / "long-message-bench-logs",
        openai_api_key=None,
    )


async def _measure(pipeline: Pipeline, texts: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """CPU and wall time of each `Pipeline.handle`, in ms."""
    cpu: list[float] = []
    wall: list[float] = []
    for round_number in range(repeats):
        for index, text in enumerate(texts):
            message = IncomingMessage(text=text, thread_key=f"long:{round_number}:{index}", source="shell", user="bench")
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            reply = await pipeline.handle(message)
            cpu.append((time.process_time() - cpu_started) * 1000.0)
            wall.append((time.perf_counter() - wall_started) * 1000.0)
            if reply.failed:
                raise RuntimeError(f"pipeline failed on a long message (correlation id {reply.correlation_id})")
    return cpu, wall


def run(quick: bool, workdir: Path) -> list[BenchResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    settings = _settings(workdir)
    configure_logging(settings, stderr=False)  # requests log their summary, as in production
    try:
        return asyncio.run(_run(settings, quick))
    finally:
        reset_logging()


async def _run(settings: Settings, quick: bool) -> list[BenchResult]:
    async with Application.running(settings) as app:
        await _measure(app.pipeline, messages(200), repeats=1)  # warm-up: imports, caches, connections
        results = []
        for size in SIZES:
            cpu, wall = await _measure(app.pipeline, messages(size), repeats=1 if quick else 5)
            p50, p95, p99 = percentiles(cpu)
            _, wall_p95, _ = percentiles(wall)
            results.append(
                BenchResult(
                    name=f"long_message.{size // 1000}k", unit="ms", p50=round(p50, 3), p95=round(p95, 3),
                    p99=round(p99, 3), target=f"p95 < {TARGET_CPU_MS:g} ms CPU", passed=p95 < TARGET_CPU_MS,
                    detail=f"{len(cpu)} messages of {size:,} characters ({len(ADVERSARIAL)} adversarial bodies x "
                    f"{len(OPENINGS)} openings), CPU time of Pipeline.handle, no LLM, request logging on as in "
                    f"production; wall p95 {wall_p95:.2f} ms",
                )
            )
        return results
