"""Prometheus metrics of the running process, fed by the request summaries and LLM call records it logs.

Names follow Prometheus conventions (`pitcrew_..._seconds`, counters ending `_total`); LLM calls also use the
OpenTelemetry GenAI client metrics (`gen_ai_client_operation_duration_seconds`, `gen_ai_client_token_usage`), with
their attributes as labels (`gen_ai_operation_name`, `gen_ai_request_model`, `gen_ai_token_type`, `error_type`).
The request histograms have a bucket edge exactly at SLA_MS, so the share of requests over the SLA is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.observability.observers import LLM_CALLS, REQUEST_SUMMARIES

# The `_created` series double every counter and histogram and no dashboard here reads them.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BASE_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
# The OpenTelemetry GenAI semantic conventions' advised bucket boundaries.
GEN_AI_DURATION_BUCKETS_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
GEN_AI_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
LLM_DECISIONS = {"skipped": "skipped", "used": "validated", "unavailable": "unavailable"}

# A probe answers a gauge at scrape time: a number, {label value: number}, or None (nothing to report).
Probe = Callable[[], float | dict[str, float] | None]


def latency_buckets(sla_ms: float) -> tuple[float, ...]:
    """The base buckets plus one edge exactly at the SLA (in seconds)."""
    return tuple(sorted(set(BASE_LATENCY_BUCKETS_S) | {sla_ms / 1000.0}))


class _Probes(Collector):
    """Gauges read when scraped (breaker state, inbox depth, quality score, rollout mode)."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, str | None, Probe]] = {}

    def add(self, name: str, documentation: str, probe: Probe, label: str | None = None) -> None:
        self._gauges[name] = (documentation, label, probe)

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not run the probes

    def collect(self) -> Iterator[Metric]:
        for name, (documentation, label, probe) in self._gauges.items():
            value = probe()
            if value is None:
                continue
            if label is None:
                assert not isinstance(value, dict)
                yield GaugeMetricFamily(name, documentation, value=float(value))
                continue
            family = GaugeMetricFamily(name, documentation, labels=[label])
            for key, number in (value.items() if isinstance(value, dict) else ()):
                family.add_metric([key], float(number))
            yield family


class Metrics:
    """One process's metrics in a registry of its own; `start()` subscribes them to the records, `stop()` ends it."""

    def __init__(self, *, sla_ms: float, fast_model: str | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=False)
        self.sla_ms = sla_ms
        self._fast_model = fast_model
        buckets = latency_buckets(sla_ms)
        r = self.registry
        self.request_seconds = Histogram(
            "pitcrew_request_duration_seconds", "Time from a message to its reply, by outcome.", ["outcome"],
            buckets=buckets, registry=r)
        self.stage_seconds = Histogram(
            "pitcrew_stage_duration_seconds", "Time of each pipeline stage of a request.", ["stage"],
            buckets=buckets, registry=r)
        self.requests = Counter(
            "pitcrew_requests", "Requests answered, by intent, outcome and LLM decision.",
            ["intent", "outcome", "llm_decision"], registry=r)
        self.sla_breaches = Counter("pitcrew_sla_breaches", "Requests that took longer than SLA_MS.", registry=r)
        self.deliveries = Counter(
            "pitcrew_slack_deliveries", "Replies handed to Slack, by result (delivered, failed).", ["result"],
            registry=r)
        self.shadow_checks = Counter(
            "pitcrew_shadow_checks", "Skip decisions the LLM checked, by result (agree, disagree).", ["result"],
            registry=r)
        self.llm_calls = Counter(
            "pitcrew_llm_calls", "LLM gateway calls by model tier (main, fast), kind and result.",
            ["model_tier", "kind", "result"], registry=r)
        self.llm_cache = Counter(
            "pitcrew_llm_cache_lookups", "LLM response cache lookups by result (hit, miss).", ["result"], registry=r)
        self.llm_duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "GenAI operation duration (OpenTelemetry GenAI).",
            ["gen_ai_operation_name", "gen_ai_request_model", "error_type"],
            buckets=GEN_AI_DURATION_BUCKETS_S, registry=r)
        self.llm_tokens = Histogram(
            "gen_ai_client_token_usage", "Tokens used per GenAI operation (OpenTelemetry GenAI).",
            ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_token_type"],
            buckets=GEN_AI_TOKEN_BUCKETS, registry=r)
        self.rollbacks = Counter(
            "pitcrew_rollout_rollbacks", "Automatic rollbacks of the LLM-skip optimisation.", registry=r)
        self.alerts = Counter("pitcrew_alerts", "Alert incidents opened, by rule.", ["rule"], registry=r)
        self._probes = _Probes()
        r.register(self._probes)
        self._started = False

    def add_probe(self, name: str, documentation: str, probe: Probe, label: str | None = None) -> None:
        """A gauge read at each scrape (keep it cheap: it runs in a worker thread)."""
        self._probes.add(name, documentation, probe, label)

    def start(self) -> None:
        if not self._started:
            REQUEST_SUMMARIES.add(self.observe_request)
            LLM_CALLS.add(self.observe_llm_call)
            self._started = True

    def stop(self) -> None:
        if self._started:
            REQUEST_SUMMARIES.remove(self.observe_request)
            LLM_CALLS.remove(self.observe_llm_call)
            self._started = False

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (blocking: probes may read the database)."""
        return generate_latest(self.registry)

    # Observers ----------------------------------------------------------------------------------------

    def observe_request(self, fields: dict[str, Any]) -> None:
        total_ms = fields.get("total_time_ms")
        if not isinstance(total_ms, (int, float)) or not math.isfinite(total_ms):
            return
        delivery = fields.get("delivery")
        outcome = "undelivered" if delivery == "failed" else "error" if fields.get("failed") else "ok"
        self.request_seconds.labels(outcome).observe(total_ms / 1000.0)
        if total_ms > self.sla_ms:
            self.sla_breaches.inc()
        for name, ms in (fields.get("stages") or {}).items():
            self.stage_seconds.labels(name).observe(ms / 1000.0)
        decision = LLM_DECISIONS.get(str(fields.get("llm_validation")), "none")
        self.requests.labels(str(fields.get("intent") or "none"), outcome, decision).inc()
        if isinstance(delivery, str):
            self.deliveries.labels(delivery).inc()

    def observe_llm_call(self, fields: dict[str, Any]) -> None:
        model = str(fields.get("model") or "unknown")
        result = str(fields.get("outcome") or "error")
        kind = str(fields.get("kind") or "unknown")
        self.llm_calls.labels(self.model_tier(model), kind, result).inc()
        cache = fields.get("cache")
        if cache in ("hit", "miss"):
            self.llm_cache.labels(cache).inc()
        if result in ("unconfigured", "breaker_open") or cache == "hit":
            return  # no operation reached the provider: nothing for the GenAI metrics
        error_type = "" if result == "ok" else result
        latency_ms = fields.get("latency_ms")
        if isinstance(latency_ms, (int, float)):
            self.llm_duration.labels("chat", model, error_type).observe(latency_ms / 1000.0)
        for field, token_type in (("prompt_tokens", "input"), ("completion_tokens", "output")):
            tokens = fields.get(field)
            if isinstance(tokens, int):
                self.llm_tokens.labels("chat", model, token_type).observe(tokens)

    def observe_shadow(self, agreed: bool) -> None:
        self.shadow_checks.labels("agree" if agreed else "disagree").inc()

    def model_tier(self, model: str) -> str:
        return "fast" if self._fast_model is not None and model == self._fast_model else "main"
