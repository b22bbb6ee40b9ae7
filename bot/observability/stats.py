"""Aggregate the day files' request summaries: latency percentiles, error and SLA rates, LLM use."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.observability.day_file import day_file_name, day_of_file
from bot.observability.request_log import SUMMARY_FAILED, SUMMARY_OK

SHADOW_FIELD = "shadow_agreement"
VALIDATION_OUTCOME_FIELD = "llm_validation_outcome"
NOT_ASKED = "not_asked"  # an unavailable validation with no call behind it (no LLM configured, or the breaker open)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default; `statistics.quantiles` inclusive)."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class Distribution:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution | None:
        ordered = sorted(values)
        if not ordered:
            return None
        return cls(
            count=len(ordered),
            p50=round(percentile(ordered, 0.50), 3),
            p95=round(percentile(ordered, 0.95), 3),
            p99=round(percentile(ordered, 0.99), 3),
            max=round(ordered[-1], 3),
        )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class LogStats:
    files: list[str] = field(default_factory=list)
    sla_ms: float = 0.0
    lines: int = 0
    malformed_lines: int = 0  # not JSON, not UTF-8, or a summary with unusable fields
    foreign_lines: int = 0  # JSON, but not a pitcrew log record
    requests: int = 0
    errors: int = 0
    undelivered: int = 0  # replies that never reached Slack (`delivery: failed`; each also an error)
    total_time: Distribution | None = None
    stages: dict[str, Distribution] = field(default_factory=dict)
    delivery: Distribution | None = None  # Slack requests: posting the reply (`delivery_ms`)
    intents: dict[str, int] = field(default_factory=dict)
    llm_validation: dict[str, int] = field(default_factory=dict)
    # Requests whose validation gave no verdict, by why: the validation call's outcome (`deadline`, `timeout`,
    # `breaker_open`, ...) or NOT_ASKED.
    llm_validation_unavailable: dict[str, int] = field(default_factory=dict)
    llm_calls: int = 0
    cache: dict[str, int] = field(default_factory=dict)
    snapshot_path: dict[str, int] = field(default_factory=dict)
    sla_breaches: int = 0
    shadow_samples: int = 0
    shadow_agreements: int = 0
    speculation: dict[str, int] = field(default_factory=dict)  # confirmed / reconciled / off
    speculation_saved_ms: float = 0.0  # confirmed speculative answers: time run beside the validation
    speculation_wasted_tokens: int = 0  # reconciled: tokens spent on answers thrown away
    llm_hedged: int = 0  # requests that sent a hedged LLM call

    @property
    def error_rate(self) -> float | None:
        return _rate(self.errors, self.requests)

    @property
    def skipped_llm_validation_share(self) -> float | None:
        return _rate(self.llm_validation.get("skipped", 0), self.requests)

    @property
    def llm_calls_per_request(self) -> float | None:
        return _rate(self.llm_calls, self.requests)

    @property
    def cache_hit_rate(self) -> float | None:
        return _rate(self.cache.get("hit", 0), self.cache.get("hit", 0) + self.cache.get("miss", 0))

    @property
    def sla_breach_rate(self) -> float | None:
        return _rate(self.sla_breaches, self.requests)

    @property
    def reconcile_rate(self) -> float | None:
        """Of the speculative answers, the share thrown away because the validation disagreed."""
        reconciled = self.speculation.get("reconciled", 0)
        return _rate(reconciled, reconciled + self.speculation.get("confirmed", 0))

    @property
    def shadow_agreement_rate(self) -> float | None:
        return _rate(self.shadow_agreements, self.shadow_samples)

    def as_json(self) -> dict[str, Any]:
        def dist(value: Distribution | None) -> dict[str, float] | None:
            return None if value is None else vars(value).copy()

        return {
            "files": self.files,
            "lines": self.lines,
            "malformed_lines": self.malformed_lines,
            "foreign_lines": self.foreign_lines,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "undelivered": self.undelivered,
            "total_time_ms": dist(self.total_time),
            "stages_ms": {name: dist(value) for name, value in self.stages.items()},
            "delivery_ms": dist(self.delivery),
            "intents": self.intents,
            "llm_validation": self.llm_validation,
            "llm_validation_skipped_share": self.skipped_llm_validation_share,
            "llm_validation_unavailable": self.llm_validation_unavailable,
            "llm_calls": self.llm_calls,
            "llm_calls_per_request": self.llm_calls_per_request,
            "cache": {"hit": self.cache.get("hit", 0), "miss": self.cache.get("miss", 0)},
            "cache_hit_rate": self.cache_hit_rate,
            "snapshot_path": {"fast": self.snapshot_path.get("fast", 0), "slow": self.snapshot_path.get("slow", 0)},
            "sla_ms": self.sla_ms,
            "sla_breaches": self.sla_breaches,
            "sla_breach_rate": self.sla_breach_rate,
            "shadow_samples": self.shadow_samples,
            "shadow_agreements": self.shadow_agreements,
            "shadow_agreement_rate": self.shadow_agreement_rate,
            "speculation": {name: self.speculation.get(name, 0) for name in ("confirmed", "reconciled", "off")},
            "speculation_reconcile_rate": self.reconcile_rate,
            "speculation_saved_ms": round(self.speculation_saved_ms, 3),
            "speculation_wasted_tokens": self.speculation_wasted_tokens,
            "llm_hedged_requests": self.llm_hedged,
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def raw_lines(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes]]:
    """Each non-blank line of each readable file, as bytes (a file that vanished is skipped)."""
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError:
            continue
        with handle:
            for raw in handle:
                if raw.strip():
                    yield path, raw


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any] | None | str]:
    """Each line of each file: a pitcrew record (dict), "foreign" (JSON, not ours) or None (malformed).
    Blank lines are skipped."""
    for _, raw in raw_lines(paths):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            yield None
            continue
        is_ours = isinstance(data, dict) and isinstance(data.get("message"), str) and isinstance(data.get("level"), str)
        yield data if is_ours else "foreign"


def compute_stats(paths: Iterable[Path], *, sla_ms: float) -> LogStats:
    """Read the files once; malformed and foreign lines are counted and skipped."""
    paths = list(paths)
    stats = LogStats(files=[str(path) for path in paths], sla_ms=sla_ms)
    totals: list[float] = []
    stage_samples: dict[str, list[float]] = {}
    deliveries: list[float] = []
    intents: Counter[str] = Counter()
    validation: Counter[str] = Counter()
    unavailable: Counter[str] = Counter()
    cache: Counter[str] = Counter()
    snapshot_path: Counter[str] = Counter()
    speculation: Counter[str] = Counter()
    # Shadow results by request, so a request that reports its shadow result twice counts once.
    shadow_by_request: dict[str, bool] = {}
    shadow_unattributed: list[bool] = []
    for item in read_records(paths):
        stats.lines += 1
        if item is None:
            stats.malformed_lines += 1
            continue
        if isinstance(item, str):
            stats.foreign_lines += 1
            continue
        shadow = item.get(SHADOW_FIELD)
        if isinstance(shadow, bool):
            correlation_id = item.get("correlation_id")
            if isinstance(correlation_id, str):
                shadow_by_request[correlation_id] = shadow
            else:
                shadow_unattributed.append(shadow)
        if item["message"] not in (SUMMARY_OK, SUMMARY_FAILED):
            continue
        total = _number(item.get("total_time_ms"))
        stages = item.get("stages", {})
        if total is None or total < 0 or not isinstance(stages, dict):
            stats.malformed_lines += 1
            continue
        stats.requests += 1
        totals.append(total)
        undelivered = item.get("delivery") == "failed"
        if item["message"] == SUMMARY_FAILED or undelivered:  # an undelivered reply is an error however logged
            stats.errors += 1
        if undelivered:
            stats.undelivered += 1
        if total > sla_ms:
            stats.sla_breaches += 1
        for name, value in stages.items():
            ms = _number(value)
            if ms is not None:
                stage_samples.setdefault(str(name), []).append(ms)
        for counter, key in ((intents, "intent"), (validation, "llm_validation"), (cache, "cache"),
                             (snapshot_path, "snapshot_path"), (speculation, "speculation")):
            value = item.get(key)
            if isinstance(value, str) and value:
                counter[value] += 1
        if item.get("llm_validation") == "unavailable":
            reason = item.get(VALIDATION_OUTCOME_FIELD)
            unavailable[reason if isinstance(reason, str) and reason else NOT_ASKED] += 1
        calls = _number(item.get("llm_calls"))
        if calls is not None and calls > 0:
            stats.llm_calls += int(calls)
        delivery = _number(item.get("delivery_ms"))
        if delivery is not None and delivery >= 0:
            deliveries.append(delivery)
        saved = _number(item.get("speculation_saved_ms"))
        if saved is not None and saved > 0:
            stats.speculation_saved_ms += saved
        wasted = _number(item.get("speculation_wasted_tokens"))
        if wasted is not None and wasted > 0:
            stats.speculation_wasted_tokens += int(wasted)
        if item.get("llm_hedged") is True:
            stats.llm_hedged += 1
    stats.total_time = Distribution.of(totals)
    stats.stages = {name: d for name, samples in stage_samples.items() if (d := Distribution.of(samples))}
    stats.delivery = Distribution.of(deliveries)
    stats.intents = dict(intents.most_common())
    stats.llm_validation = dict(validation.most_common())
    stats.llm_validation_unavailable = dict(unavailable.most_common())
    stats.cache = dict(cache)
    stats.snapshot_path = dict(snapshot_path)
    stats.speculation = dict(speculation)
    shadow_results = list(shadow_by_request.values()) + shadow_unattributed
    stats.shadow_samples = len(shadow_results)
    stats.shadow_agreements = sum(shadow_results)
    return stats


def list_day_files(directory: Path) -> list[tuple[dt.date, Path]]:
    """Every day file in `directory`, oldest first."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    dated = [(day, path) for path in entries if (day := day_of_file(path)) is not None and path.is_file()]
    return sorted(dated)


def day_window(*, date: dt.date | None = None, days: int | None = None, today: dt.date | None = None) -> list[dt.date]:
    """The days to read: one `date`, or the last `days` days up to today (UTC); default today."""
    if date is not None:
        return [date]
    today = today or dt.datetime.now(dt.timezone.utc).date()
    count = days or 1
    return [today - dt.timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def files_for_days(directory: Path, days: Iterable[dt.date]) -> list[Path]:
    """The existing day files for `days`, oldest first."""
    return [path for day in days if (path := directory / day_file_name(day)).is_file()]
