"""The process, built in one place: the database, the LLM gateway, the pipeline and, for a process that
keeps running, its background jobs (knowledge watcher, snapshot schedule), closed in reverse order.

`pitcrew serve`, `shell`/`ask`, the evaluations and the benchmarks all enter `Application.running`;
Slack adds only what is Slack's (the inbox, the Bolt app, the HTTP or Socket Mode service).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.app.database import DatabaseSummary, StartupError, open_database, summarize_database
from bot.app.knowledge_watch import KnowledgeWatcher
from bot.llm.gateway import LLMGateway
from bot.observability.metrics import Metrics
from bot.ops.quality_feed import RecentQuality
from bot.ops.rollout import RolloutController
from bot.pipeline import Pipeline
from bot.settings import Settings
from control_plane import ControlPlane
from knowledge.catalog_names import load_in_background as load_catalog_names_in_background
from knowledge.db import Database

if TYPE_CHECKING:  # the scheduler (APScheduler, the leadership lock) loads only for a process that runs it
    from bot.app.airtable import AirtableService
    from knowledge.schedule import SnapshotSchedule

log = logging.getLogger(__name__)


@dataclass
class Application:
    """The services of one running process."""

    settings: Settings
    db: Database
    database: DatabaseSummary  # which database was opened, for the start-up line
    llm: LLMGateway
    pipeline: Pipeline
    rollout: RolloutController
    schedule: SnapshotSchedule | None = None
    watcher: KnowledgeWatcher | None = None
    airtable: AirtableService | None = None  # with AIRTABLE_TOKEN set: the webhook endpoint and scheduled syncs
    metrics: Metrics | None = None  # a process that keeps running (serve) exports them
    # The quality score over the last N scored answers (None: none scored), from the stored quality signals.
    quality: Callable[[int], float | None] | None = None

    @classmethod
    @asynccontextmanager
    async def running(
        cls, settings: Settings, *, load_demo: bool = True, background: bool = False, use_llm: bool = True
    ) -> AsyncIterator[Application]:
        """Open the services; close them in reverse order on the way out, whatever happens.

        `load_demo` fills an empty database with the demo knowledge base; `background` starts the
        knowledge watcher and the snapshot schedule (for `serve`); `use_llm=False` answers
        deterministically even when an LLM is configured (evaluations). Raises `StartupError`.
        """
        async with AsyncExitStack() as stack:
            db, demo_loaded = open_database(settings, load_demo=load_demo)
            stack.callback(db.close)
            database = summarize_database(db, demo_loaded=demo_loaded)
            log.info("opened the %s", database.describe(), extra=database.as_log())
            llm = LLMGateway.from_settings(settings, db)
            stack.push_async_callback(llm.aclose)
            pipeline = Pipeline.from_settings(settings, db, llm if use_llm else None)
            stack.push_async_callback(pipeline.aclose)  # background shadow validations still use the gateway
            metrics = Metrics(sla_ms=settings.sla_ms, fast_model=settings.openai_fast_model) if background else None
            # Every process follows the stored rollout of the LLM-skip optimisation; serve keeps following it.
            rollout = RolloutController(db, settings, metrics=metrics)
            await rollout.refresh()
            if isinstance(pipeline.control_plane, ControlPlane):
                pipeline.control_plane.use_rollout(rollout)
            app = cls(settings=settings, db=db, database=database, llm=llm, pipeline=pipeline, rollout=rollout,
                      metrics=metrics, quality=RecentQuality(db))
            if background:
                assert metrics is not None
                metrics.start()
                stack.callback(metrics.stop)
                rollout.start()
                stack.push_async_callback(rollout.stop)
                app.add_probes()
                from knowledge.schedule import default_lock_path, start_snapshot_schedule

                load_catalog_names_in_background(db)  # before the first unknown name needs them
                app.schedule = start_snapshot_schedule(db, settings.snapshot_rebuild_cron,
                                                       default_lock_path(settings.database_url))
                stack.callback(app.schedule.shutdown)
                app.watcher = KnowledgeWatcher(pipeline, settings.knowledge_check_s)
                app.watcher.start()
                stack.push_async_callback(app.watcher.stop)
                if settings.airtable_token is not None:
                    app.airtable = _start_airtable(settings, db, app.schedule)
                    stack.push_async_callback(app.airtable.stop)
            yield app

    def add_probes(self) -> None:
        """The gauges read at each scrape of /metrics: breaker state, rollout mode, quality score."""
        metrics = self.metrics
        if metrics is None:
            return
        metrics.add_probe("pitcrew_llm_breaker_state", "The LLM circuit breaker's state (1 for the current one).",
                          lambda: {self.llm.breaker_state: 1.0}, "state")
        metrics.add_probe("pitcrew_rollout_mode", "The LLM-skip optimisation's rollout mode (1 for the current one).",
                          lambda: {self.rollout.state.mode: 1.0}, "mode")
        metrics.add_probe("pitcrew_rollout_canary_ratio", "Share of users in the canary (0 to 1).",
                          lambda: self.rollout.state.canary_percent / 100.0)
        metrics.add_probe("pitcrew_shadow_agreement_ratio",
                          "Agreement of the recently checked skip decisions (0 to 1).", self._agreement)
        metrics.add_probe("pitcrew_quality_score", "The quality score over the last scored answers.",
                          lambda: self.quality(self.settings.quality_alert_answers) if self.quality else None)

    def _agreement(self) -> float | None:
        checked, agreed = self.rollout.agreement()
        return agreed / checked if checked else None

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while the database answers; the schedule, the LLM breaker and the knowledge revision the
        names were loaded at are reported, not judged (with the breaker open pitcrew still answers)."""
        db_ok = database_reachable(self.db)
        return db_ok, {
            "database": "ok" if db_ok else "unreachable",
            "scheduler": self.schedule.state() if self.schedule is not None else None,
            "llm": {"configured": self.llm.configured, "breaker": self.llm.breaker_state},
            "knowledge_revision": self.pipeline.knowledge_revision,
            # PostgreSQL: whether imports are announced to this instance now (else the revision check covers)
            "knowledge_listener": _listener_state(self.watcher),
            "airtable": self.airtable.state() if self.airtable is not None else None,
        }


def _start_airtable(settings: Settings, db: Database, schedule: SnapshotSchedule) -> AirtableService:
    """The webhook endpoint's service, and its scheduled run (webhook refresh, full sync) on the leader."""
    from bot.app.airtable import SYNC_JOB_ID, AirtableNotConfigured, AirtableService, airtable_from_settings

    try:
        service = AirtableService(db, airtable_from_settings(settings))
    except AirtableNotConfigured as exc:
        raise StartupError(str(exc)) from None
    schedule.add_leader_job(SYNC_JOB_ID, settings.airtable_sync_cron, service.scheduled)
    log.info("airtable sync on", extra={"base": service.mapping.base, "cron": settings.airtable_sync_cron})
    return service


def _listener_state(watcher: KnowledgeWatcher | None) -> str | None:
    listening = watcher.listening if watcher is not None else None
    return None if listening is None else "listening" if listening else "reconnecting"


def database_reachable(db: Database) -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        log.exception("database unreachable")
        return False
