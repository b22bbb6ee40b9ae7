"""SLA alerts to the ops channel: rules over rolling windows, one Slack message per incident, a daily digest.

Rules (each an incident of its own): `latency` (ALERT_SLOW_CONSECUTIVE requests in a row over SLA_MS, or the
window's p95 over it), `errors` (failed or undelivered share of the window), `llm_breaker` (open for longer than
ALERT_BREAKER_OPEN_S), `shadow_agreement` (checked skip decisions agreeing less than ALERT_SHADOW_AGREEMENT),
`quality` (the score over the last QUALITY_ALERT_ANSWERS scored answers below the baseline minus the threshold) and
`rollback` (the rollout was rolled back automatically, until an operator sets a mode again).

An incident posts one message when it opens, updates that message in place while it lasts (at most every
ALERT_UPDATE_S) and turns it into a resolved note when it ends; one that comes back within ALERT_REOPEN_S reuses
its message. Only the leader (the instance running the snapshot schedule) posts; every instance evaluates.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.observability.observers import REQUEST_SUMMARIES
from bot.observability.stats import percentile
from bot.ops.digest import day_figures, digest_text

if TYPE_CHECKING:
    from bot.observability.metrics import Metrics
    from bot.ops.rollout import RolloutController
    from bot.settings import Settings

log = logging.getLogger(__name__)

TRACE_IDS = 3
MIN_EVALUATION_GAP_S = 0.2
WINDOW_CAP = 10_000  # requests kept for the window's figures (a busy minute, bounded)

# The quality score over the last `answers` scored answers, or None when none was scored (issue 17's store).
QualityProvider = Callable[[int], float | None]


class AlertPoster(Protocol):
    """Posting to the ops channel (bot.slack provides it with the bot's Web API client)."""

    async def post(self, channel: str, text: str) -> str | None:
        """Post `text`; the message's ts, or None when it could not be posted."""

    async def update(self, channel: str, ts: str, text: str) -> bool:
        """Replace the text of the message `ts`; False when it could not."""


@dataclass(frozen=True)
class Finding:
    """A rule that holds now: what it measured, against which threshold, and requests to trace."""

    figure: str
    threshold: str
    ids: tuple[str, ...] = ()


@dataclass
class Incident:
    rule: str
    since: datetime
    finding: Finding
    ts: str | None = None  # the Slack message, once posted
    resolved_at: datetime | None = None
    updated_at: float = 0.0  # monotonic time of the last post or update
    posted_text: str = ""

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass
class _Request:
    at: float
    total_ms: float
    failed: bool
    correlation_id: str


@dataclass
class RequestWindow:
    """The recent requests: the run of slow ones, and the window's latencies and failures."""

    sla_ms: float
    window_s: float
    clock: Callable[[], float] = time.monotonic
    requests: deque[_Request] = field(default_factory=lambda: deque(maxlen=WINDOW_CAP))
    total_seen: int = 0  # requests observed since the start
    slow_count: int = 0  # requests in a row over the SLA
    slow_ids: deque[str] = field(default_factory=lambda: deque(maxlen=TRACE_IDS))  # the run's latest
    last_slow_ms: float = 0.0

    def observe(self, fields: dict[str, Any]) -> None:
        total_ms = fields.get("total_time_ms")
        if not isinstance(total_ms, (int, float)):
            return
        failed = bool(fields.get("failed")) or fields.get("delivery") == "failed"
        cid = str(fields.get("correlation_id"))
        self.total_seen += 1
        self.requests.append(_Request(self.clock(), float(total_ms), failed, cid))
        if total_ms > self.sla_ms:
            self.slow_count += 1
            self.slow_ids.append(cid)
            self.last_slow_ms = float(total_ms)
        else:
            self.slow_count = 0
            self.slow_ids.clear()

    def recent(self) -> list[_Request]:
        horizon = self.clock() - self.window_s
        while self.requests and self.requests[0].at < horizon:
            self.requests.popleft()
        return list(self.requests)


def _pct(value: float) -> str:
    return f"{value:.1%}"


class AlertService:
    """Evaluates the rules and keeps the incidents' messages; `start()` on the running loop, `stop()` at the end."""

    def __init__(self, settings: Settings, poster: AlertPoster, *, is_leader: Callable[[], bool] = lambda: True,
                 breaker_state: Callable[[], str] | None = None, rollout: RolloutController | None = None,
                 quality: QualityProvider | None = None, metrics: Metrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        assert settings.alert_channel, "alerts need ALERT_CHANNEL"
        self.settings = settings
        self.channel: str = settings.alert_channel
        self._poster = poster
        self._is_leader = is_leader
        self._breaker_state = breaker_state
        self._rollout = rollout
        self._quality = quality
        self._metrics = metrics
        self._clock = clock
        self.window = RequestWindow(settings.sla_ms, settings.alert_window_s, clock)
        self.incidents: dict[str, Incident] = {}
        self._breaker_open_since: float | None = None
        self._breaker_open_at: datetime | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._evaluating = asyncio.Lock()
        self._stopped = False

    # Intake -------------------------------------------------------------------------------------------

    def observe_request(self, fields: dict[str, Any]) -> None:
        self.window.observe(fields)
        self._wake.set()

    # Rules --------------------------------------------------------------------------------------------

    def findings(self) -> dict[str, Finding]:
        """Every rule that holds now."""
        found: dict[str, Finding] = {}
        s = self.settings
        recent = self.window.recent()
        slow = tuple(self.window.slow_ids) if self.window.slow_count >= s.alert_slow_consecutive else ()
        latency: list[str] = []
        if slow:
            latency.append(f"{self.window.slow_count} requests in a row over the SLA "
                           f"(last {self.window.last_slow_ms:.0f} ms)")
        p95 = None
        if len(recent) >= s.alert_min_requests:
            p95 = percentile(sorted(r.total_ms for r in recent), 0.95)
            if p95 > s.sla_ms:
                latency.append(f"p95 {p95:.0f} ms over the last {len(recent)} requests ({s.alert_window_s:g} s)")
        if latency:
            ids = slow or tuple(r.correlation_id for r in sorted(recent, key=lambda r: -r.total_ms)
                                                    [:TRACE_IDS])
            found["latency"] = Finding("; ".join(latency), f"SLA {s.sla_ms:g} ms, {s.alert_slow_consecutive} in a row "
                                       f"or p95 over {s.alert_window_s:g} s", ids)
        if len(recent) >= s.alert_min_requests:
            failed = [r for r in recent if r.failed]
            rate = len(failed) / len(recent)
            if rate > s.alert_error_rate:
                found["errors"] = Finding(f"{_pct(rate)} of {len(recent)} requests failed or undelivered",
                                          f"{_pct(s.alert_error_rate)} over {s.alert_window_s:g} s",
                                          tuple(r.correlation_id for r in failed[-TRACE_IDS:]))
        if self._breaker_state is not None:
            state = self._breaker_state()
            if state == "closed":
                self._breaker_open_since = self._breaker_open_at = None
            elif self._breaker_open_since is None:
                self._breaker_open_since, self._breaker_open_at = self._clock(), datetime.now(UTC)
            if self._breaker_open_since is not None:
                open_s = self._clock() - self._breaker_open_since
                if open_s >= s.alert_breaker_open_s:
                    found["llm_breaker"] = Finding(f"LLM breaker {state} for {open_s:.0f} s",
                                                   f"{s.alert_breaker_open_s:g} s")
        if self._rollout is not None:
            checked, agreed = self._rollout.agreement()
            if checked >= s.alert_min_shadow_checks and agreed / checked < s.alert_shadow_agreement:
                found["shadow_agreement"] = Finding(
                    f"shadow agreement {_pct(agreed / checked)} over the last {checked} checked skip decisions",
                    f"{_pct(s.alert_shadow_agreement)}")
            state = self._rollout.state
            if state.rolled_back:
                found["rollback"] = Finding(f"rolled back to {state.mode}: {state.reason}",
                                            "ROLLBACK_DISAGREEMENT / ROLLBACK_SLOW_MS (see `pitcrew rollout status`)")
        if self._quality is not None:
            score = self._quality(s.quality_alert_answers)
            floor = s.quality_baseline_score - s.quality_alert_threshold
            if score is not None and math.isfinite(score) and score < floor:
                found["quality"] = Finding(f"quality score {score:.1f} over the last {s.quality_alert_answers} "
                                           "scored answers", f"{floor:g} (baseline {s.quality_baseline_score:g} "
                                           f"- {s.quality_alert_threshold:g})")
        return found

    # Incidents ----------------------------------------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        return [incident for incident in self.incidents.values() if incident.open]

    async def evaluate(self) -> None:
        """Apply the rules once: open, refresh or resolve incidents (posting only on the leader)."""
        async with self._evaluating:
            if not self._is_leader():
                return
            found = self.findings()
            now, mono = datetime.now(UTC), self._clock()
            for rule, finding in found.items():
                incident = self.incidents.get(rule)
                if incident is None or (not incident.open and incident.resolved_at is not None
                                        and (now - incident.resolved_at).total_seconds() > self.settings.alert_reopen_s):
                    incident = self.incidents[rule] = Incident(rule, now, finding)
                    if self._metrics is not None:
                        self._metrics.alerts.labels(rule).inc()
                    log.warning("alert opened", extra={"rule": rule, "figure": finding.figure})
                elif not incident.open:  # back soon after it ended: the same message says so
                    incident.resolved_at, incident.since, incident.finding = None, now, finding
                    incident.updated_at = 0.0
                    log.warning("alert opened again", extra={"rule": rule, "figure": finding.figure})
                else:
                    incident.finding = finding
                await self._show(incident, mono)
            for rule, incident in self.incidents.items():
                if incident.open and rule not in found:
                    incident.resolved_at = now
                    log.info("alert resolved", extra={"rule": rule})
                    await self._show(incident, mono, force=True)

    async def _show(self, incident: Incident, mono: float, *, force: bool = False) -> None:
        text = self.message(incident)
        if incident.ts is None:
            if not incident.open:
                return  # it never reached the channel: nothing to resolve there
            incident.ts = await self._poster.post(self.channel, text)
            incident.updated_at, incident.posted_text = mono, text
            return
        if text == incident.posted_text:
            return
        due = incident.updated_at == 0.0 or mono - incident.updated_at >= self.settings.alert_update_s
        if force or due:
            if await self._poster.update(self.channel, incident.ts, text):
                incident.updated_at, incident.posted_text = mono, text

    def message(self, incident: Incident) -> str:
        finding = incident.finding
        since = incident.since.strftime("%Y-%m-%d %H:%M:%S UTC")
        if not incident.open:
            assert incident.resolved_at is not None
            minutes = (incident.resolved_at - incident.since).total_seconds() / 60
            return (f":white_check_mark: *Resolved: {incident.rule}* (from {since}, {minutes:.0f} min); "
                    f"last figure: {finding.figure}")
        lines = [f":rotating_light: *pitcrew alert: {incident.rule}* since {since}",
                 f"• figure: {finding.figure}", f"• threshold: {finding.threshold}"]
        if finding.ids:
            lines.append("• trace: " + ", ".join(f"`pitcrew logs trace {cid}`" for cid in finding.ids))
        return "\n".join(lines)

    def quality_score(self) -> float | None:
        return self._quality(self.settings.quality_alert_answers) if self._quality is not None else None

    async def send_digest(self, now: datetime | None = None) -> str | None:
        """Post the previous UTC day's digest (the leader's schedule calls it at ALERT_DIGEST_CRON); its ts."""
        figures = await day_figures(self.settings.log_dir, sla_ms=self.settings.sla_ms, now=now)
        rollout = None
        if self._rollout is not None:
            state = self._rollout.state
            rollout = state.mode + (f" ({state.canary_percent:g} %)" if state.mode == "canary" else "")
        text = digest_text(figures, quality=self.quality_score(), rollout=rollout)
        return await self._poster.post(self.channel, text)

    # Running ------------------------------------------------------------------------------------------

    def start(self) -> None:
        REQUEST_SUMMARIES.add(self.observe_request)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    async def _run(self) -> None:
        # A flag as well as the cancellation: Python 3.11's wait_for can swallow a cancel that meets a wake-up.
        while not self._stopped:
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.alert_eval_s)
            except TimeoutError:
                pass
            if self._stopped:
                return
            self._wake.clear()
            try:
                await self.evaluate()
            except Exception:  # the alerts must outlive a bad evaluation (Slack down, a provider that raised)
                log.exception("alert evaluation failed")
            # Under load every request wakes the service: evaluating (a sort of the window) at most this often
            # keeps its cost off the request path; requests meanwhile are counted and judged at the next one.
            await asyncio.sleep(MIN_EVALUATION_GAP_S)

    async def stop(self) -> None:
        REQUEST_SUMMARIES.remove(self.observe_request)
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
