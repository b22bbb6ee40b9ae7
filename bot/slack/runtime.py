"""The `pitcrew serve` process: builds the stack, serves Slack, runs the snapshot schedule, shuts down in order."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.llm.gateway import LLMGateway
from bot.pipeline import Pipeline
from bot.app.knowledge_watch import KnowledgeWatcher
from bot.app.settings import Settings
from bot.slack.app import build_app, build_inbox, signing_secret
from bot.slack.inbox import EventInbox
from bot.slack.inflight import InflightTasks
from bot.slack.server import HealthCheck, SlackService, SlackStartupError
from knowledge.db import Database
from knowledge.schedule import SnapshotSchedule, default_lock_path, start_snapshot_schedule

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2


def database_reachable(db: Database) -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        log.exception("database unreachable")
        return False


def build_health_check(db: Database, schedule: SnapshotSchedule | None, llm: LLMGateway, pipeline: Pipeline,
                       inflight: InflightTasks, inbox: EventInbox | None = None) -> HealthCheck:
    """Healthy while the database answers; the schedule, the LLM breaker, the knowledge revision the
    names were loaded at, the answers in flight and the inbox's unanswered events are reported, not
    judged (with the breaker open pitcrew still answers, without the LLM)."""

    async def check() -> tuple[bool, dict[str, Any]]:
        db_ok = database_reachable(db)
        details: dict[str, Any] = {
            "database": "ok" if db_ok else "unreachable",
            "scheduler": schedule.state() if schedule is not None else None,
            "llm": {"configured": llm.configured, "breaker": llm.breaker_state},
            "knowledge_revision": pipeline.knowledge_revision,
            "answers_in_flight": len(inflight),
            "inbox_unanswered": _unanswered(inbox) if db_ok and inbox is not None else None,
        }
        return db_ok, details

    return check


def _unanswered(inbox: EventInbox) -> int | None:
    try:
        return inbox.store.unanswered()
    except SQLAlchemyError:
        log.exception("could not count the inbox's unanswered events")
        return None


class StopSignals:
    """First SIGTERM/SIGINT asks for an orderly stop; a second one cuts the drain short."""

    def __init__(self, inflight: InflightTasks) -> None:
        self.stop = asyncio.Event()
        self._inflight = inflight
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: signal.Signals) -> None:
        if not self.stop.is_set():
            log.info("stopping: no new Slack events; finishing the answers in flight", extra={"signal": sig.name})
            self.stop.set()
            return
        cancelled = self._inflight.cancel_all()
        log.warning("second stop signal: cancelling the answers in flight", extra={"cancelled": cancelled})

    def remove(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(sig)


async def run_server(settings: Settings, db: Database, *, host: str, port: int) -> tuple[int, str | None]:
    """Serve until SIGTERM/SIGINT; returns the exit code and, for a failed start, a one-line reason."""
    inflight = InflightTasks()
    signals = StopSignals(inflight)
    llm = LLMGateway.from_settings(settings, db)
    schedule: SnapshotSchedule | None = None
    service: SlackService | None = None
    pipeline: Pipeline | None = None
    watcher: KnowledgeWatcher | None = None
    inbox: EventInbox | None = None
    code, problem = EXIT_OK, None
    try:
        pipeline = Pipeline.from_settings(settings, db, llm)
        watcher = KnowledgeWatcher(pipeline, settings.knowledge_check_s)
        schedule = start_snapshot_schedule(db, settings.snapshot_rebuild_cron, default_lock_path(settings.database_url))
        inbox = build_inbox(settings, db)
        app = build_app(settings, pipeline, inbox, inflight=inflight)
        app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        service = SlackService(app, inflight, inbox=inbox, signing_secret=signing_secret(settings),
                               app_token=app_token, host=host,
                               port=port, health=build_health_check(db, schedule, llm, pipeline, inflight, inbox))
        await service.start()
        watcher.start()
        await signals.stop.wait()
    except SlackStartupError as exc:
        code, problem = (EXIT_CONFIG if exc.credentials else EXIT_UNAVAILABLE), str(exc)
    except OSError as exc:  # the port is taken or not ours to bind
        code, problem = EXIT_CONFIG, f"cannot listen on {host}:{port} ({exc.strerror or exc}); set PORT or --port"
    except Exception as exc:  # a bug: logged with its traceback, one line for the person at the terminal
        log.exception("pitcrew serve failed")
        code, problem = EXIT_UNAVAILABLE, f"pitcrew serve failed ({type(exc).__name__}); see the log for details"
    finally:
        if watcher is not None:
            await watcher.stop()
        if service is not None:
            await service.shutdown(settings.shutdown_grace_s)
        if inbox is not None:
            await inbox.close()
        if schedule is not None:
            schedule.shutdown()
        if pipeline is not None:
            await pipeline.aclose()  # background shadow validations still use the gateway
        await llm.aclose()
        db.close()
        signals.remove()
    log.info("pitcrew serve stopped", extra={"exit_code": code})
    return code, problem
