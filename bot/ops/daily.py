"""A period's figures from the day files: latency percentiles per stage, rates, the slowest and worst requests.

The dashboard shows the last 24 hours, the daily digest the day before; both read the same JSON day files
`pitcrew logs stats` reads (bot.observability.stats), records filtered by their `ts`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.observability.request_log import SUMMARY_FAILED, SUMMARY_OK
from bot.observability.stats import SHADOW_FIELD, Distribution, files_for_days, read_records

SLOWEST = 3


@dataclass(frozen=True)
class RequestBrief:
    correlation_id: str
    ts: str
    total_ms: float
    intent: str | None
    error: str | None = None


@dataclass
class PeriodFigures:
    start: dt.datetime
    end: dt.datetime
    sla_ms: float
    requests: int = 0
    errors: int = 0
    undelivered: int = 0
    sla_breaches: int = 0
    total: Distribution | None = None
    stages: dict[str, Distribution] = field(default_factory=dict)
    llm_validation: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    cache_misses: int = 0
    shadow_checks: int = 0
    shadow_agreements: int = 0
    slowest: list[RequestBrief] = field(default_factory=list)
    worst: list[RequestBrief] = field(default_factory=list)  # failed or undelivered, the latest first

    def rate(self, part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def skip_rate(self) -> float | None:
        return self.rate(self.llm_validation.get("skipped", 0), self.requests)

    @property
    def validate_rate(self) -> float | None:
        return self.rate(self.llm_validation.get("used", 0), self.requests)

    @property
    def shadow_agreement(self) -> float | None:
        return self.rate(self.shadow_agreements, self.shadow_checks)

    @property
    def cache_hit_rate(self) -> float | None:
        return self.rate(self.cache_hits, self.cache_hits + self.cache_misses)

    @property
    def error_rate(self) -> float | None:
        return self.rate(self.errors, self.requests)

    @property
    def sla_breach_rate(self) -> float | None:
        return self.rate(self.sla_breaches, self.requests)


def _parse_ts(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def period_figures(log_dir: Path, start: dt.datetime, end: dt.datetime, *, sla_ms: float) -> PeriodFigures:
    """The figures of the requests logged in [start, end) (aware UTC datetimes); blocking (reads files)."""
    days = [start.date() + dt.timedelta(days=offset) for offset in range((end.date() - start.date()).days + 1)]
    figures = PeriodFigures(start=start, end=end, sla_ms=sla_ms)
    totals: list[float] = []
    stage_samples: dict[str, list[float]] = {}
    briefs: list[RequestBrief] = []
    for item in read_records(files_for_days(log_dir, days)):
        if not isinstance(item, dict):
            continue
        ts = _parse_ts(item.get("ts"))
        if ts is None or not start <= ts < end:
            continue
        shadow = item.get(SHADOW_FIELD)
        if isinstance(shadow, bool):
            figures.shadow_checks += 1
            figures.shadow_agreements += shadow
        if item.get("message") not in (SUMMARY_OK, SUMMARY_FAILED):
            continue
        total = item.get("total_time_ms")
        if not isinstance(total, (int, float)) or isinstance(total, bool):
            continue
        figures.requests += 1
        totals.append(float(total))
        if total > sla_ms:
            figures.sla_breaches += 1
        for name, value in (item.get("stages") or {}).items():
            if isinstance(value, (int, float)):
                stage_samples.setdefault(str(name), []).append(float(value))
        validation = item.get("llm_validation")
        if isinstance(validation, str):
            figures.llm_validation[validation] = figures.llm_validation.get(validation, 0) + 1
        cache = item.get("cache")
        figures.cache_hits += cache == "hit"
        figures.cache_misses += cache == "miss"
        undelivered = item.get("delivery") == "failed"
        failed = item.get("message") == SUMMARY_FAILED or undelivered
        figures.undelivered += undelivered
        figures.errors += failed
        brief = RequestBrief(str(item.get("correlation_id")), str(item.get("ts")), float(total),
                             item.get("intent") if isinstance(item.get("intent"), str) else None,
                             (str(item.get("error") or "undelivered")) if failed else None)
        briefs.append(brief)
    figures.total = Distribution.of(totals)
    figures.stages = {name: d for name, samples in stage_samples.items() if (d := Distribution.of(samples))}
    figures.slowest = sorted(briefs, key=lambda brief: -brief.total_ms)[:SLOWEST]
    figures.worst = [brief for brief in reversed(briefs) if brief.error is not None][:SLOWEST]
    return figures


def last_day(log_dir: Path, *, sla_ms: float, now: dt.datetime | None = None) -> PeriodFigures:
    """The last 24 hours up to `now`."""
    end = now or dt.datetime.now(dt.UTC)
    return period_figures(log_dir, end - dt.timedelta(hours=24), end + dt.timedelta(microseconds=1), sla_ms=sla_ms)
