"""The daily digest posted to the ops channel: the previous UTC day's figures, its slowest and worst requests."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.ops.daily import PeriodFigures, RequestBrief, period_figures


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _brief(brief: RequestBrief) -> str:
    what = f" {brief.error}" if brief.error else ""
    return f"`{brief.correlation_id}` {brief.total_ms:.0f} ms ({brief.intent or 'no intent'}){what}"


def digest_text(figures: PeriodFigures, *, quality: float | None = None, rollout: str | None = None) -> str:
    """The digest message (Slack mrkdwn)."""
    day = figures.start.strftime("%Y-%m-%d")
    if figures.requests == 0:
        return f":bar_chart: *pitcrew daily digest, {day} (UTC)*: no requests."
    total = figures.total
    assert total is not None
    lines = [
        f":bar_chart: *pitcrew daily digest, {day} (UTC)*",
        f"• {figures.requests} requests; p50 {total.p50:.0f} ms, p95 {total.p95:.0f} ms, p99 {total.p99:.0f} ms",
        f"• over the SLA ({figures.sla_ms:g} ms): {figures.sla_breaches} ({_share(figures.sla_breach_rate)}); "
        f"errors and undelivered: {figures.errors} ({_share(figures.error_rate)})",
        f"• LLM skipped {_share(figures.skip_rate)}, validated {_share(figures.validate_rate)}; shadow agreement "
        f"{_share(figures.shadow_agreement)} of {figures.shadow_checks}; cache hit rate {_share(figures.cache_hit_rate)}",
    ]
    if quality is not None:
        lines.append(f"• quality score: {quality:.1f}")
    if rollout is not None:
        lines.append(f"• rollout: {rollout}")
    if figures.slowest:
        lines.append("• slowest: " + "; ".join(_brief(brief) for brief in figures.slowest))
    if figures.worst:
        lines.append("• worst: " + "; ".join(_brief(brief) for brief in figures.worst))
    return "\n".join(lines)


def previous_day(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the UTC day before `now`."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=1), today


async def day_figures(log_dir: Path, *, sla_ms: float, now: dt.datetime | None = None) -> PeriodFigures:
    start, end = previous_day(now)
    return await asyncio.to_thread(period_figures, log_dir, start, end, sla_ms=sla_ms)
