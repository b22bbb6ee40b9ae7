"""The `pitcrew serve` process: the application's services plus Slack's (inbox, Bolt app, HTTP or Socket
Mode service), served until a stop signal, then shut down in order."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import UTC
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.app.application import Application
from bot.app.database import StartupError
from bot.settings import Settings
from bot.slack.app import build_app, build_inbox, signing_secret
from bot.slack.inbox import EventInbox
from bot.slack.inflight import InflightTasks
from bot.ops.alerts import AlertPoster, AlertService
from bot.slack.alert_poster import SlackAlertPoster
from bot.slack.ops_pages import DASHBOARD_PATH, METRICS_PATH, Page, dashboard_page, metrics_page
from bot.slack.server import HealthCheck, Pages, SlackService, SlackStartupError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2
DIGEST_JOB_ID = "alert-digest"


def build_health_check(app: Application, inflight: InflightTasks, inbox: EventInbox | None = None) -> HealthCheck:
    """The application's health, plus the answers in flight and the inbox's unanswered events (reported,
    not judged)."""

    async def check() -> tuple[bool, dict[str, Any]]:
        db_ok, details = app.health()
        details["answers_in_flight"] = len(inflight)
        details["inbox_unanswered"] = _unanswered(inbox) if db_ok and inbox is not None else None
        return db_ok, details

    return check


def _unanswered(inbox: EventInbox) -> int | None:
    try:
        return inbox.store.unanswered()
    except SQLAlchemyError:
        log.exception("could not count the inbox's unanswered events")
        return None


def start_alerts(app: Application, poster: AlertPoster) -> AlertService | None:
    """The alert service (ALERT_CHANNEL set), posting from the leader, and the daily digest on the schedule."""
    settings = app.settings
    if not settings.alert_channel:
        return None
    schedule = app.schedule
    alerts = AlertService(settings, poster, is_leader=lambda: schedule is None or schedule.role == "leader",
                          breaker_state=lambda: app.llm.breaker_state, rollout=app.rollout, quality=app.quality,
                          metrics=app.metrics)
    alerts.start()
    if schedule is not None:
        from apscheduler.triggers.cron import CronTrigger

        schedule.add_leader_job(DIGEST_JOB_ID, CronTrigger.from_crontab(settings.alert_digest_cron, timezone=UTC),
                                alerts.send_digest)
    return alerts


def operator_pages(app: Application, inbox: EventInbox | None, alerts: AlertService | None) -> Pages:
    """/metrics (with the inbox's depth), and /dashboard when DASHBOARD_TOKEN is set."""
    pages: dict[str, Page] = {}
    if app.metrics is not None:
        if inbox is not None:
            app.metrics.add_probe("pitcrew_inbox_unanswered", "Slack events taken in and not answered yet.",
                                  lambda: _unanswered(inbox))
        pages[METRICS_PATH] = metrics_page(app.metrics)
    if app.settings.dashboard_token is not None:
        pages[DASHBOARD_PATH] = dashboard_page(app.settings, rollout=app.rollout, alerts=alerts, quality=app.quality)
    return pages


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


async def _warm_up(app: Application) -> None:
    try:
        await asyncio.to_thread(app.pipeline.warm_up)
    except Exception:  # the first messages do it on their way instead
        log.exception("warming up failed")


async def run_server(settings: Settings, *, host: str, port: int) -> tuple[int, str | None]:
    """Serve until SIGTERM/SIGINT; returns the exit code and, for a failed start, a one-line reason."""
    inflight = InflightTasks()
    signals = StopSignals(inflight)
    code, problem = EXIT_OK, None
    try:
        async with Application.running(settings, background=True) as app, AsyncExitStack() as slack:
            inbox = build_inbox(settings, app.db)
            slack.push_async_callback(inbox.close)
            bolt = build_app(settings, app.pipeline, inbox, inflight=inflight)
            app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
            alerts = start_alerts(app, SlackAlertPoster(bolt.client))
            if alerts is not None:
                slack.push_async_callback(alerts.stop)
            pages = operator_pages(app, inbox, alerts)
            service = SlackService(bolt, inflight, inbox=inbox, signing_secret=signing_secret(settings),
                                   app_token=app_token, host=host, port=port,
                                   health=build_health_check(app, inflight, inbox),
                                   routes=app.airtable.routes() if app.airtable is not None else (),
                                   pages=pages, pages_port=settings.metrics_port)
            # Registered before the start: a start that fails half way still closes what it opened.
            slack.push_async_callback(service.shutdown, settings.shutdown_grace_s)
            await service.start()
            # Now that /healthz answers: what the first events would otherwise pay for, off the event loop.
            warming = asyncio.create_task(_warm_up(app), name="warm-up")
            log.info("pitcrew serve started: %s, /healthz on port %s",
                     "Socket Mode" if service.mode == "socket" else "HTTP events", service.port,
                     extra={"mode": service.mode, "port": service.port, "pages": sorted(pages),
                            "pages_port": service.pages_port, "alerts": settings.alert_channel is not None})
            await signals.stop.wait()
            await warming
    except StartupError as exc:
        code, problem = EXIT_CONFIG, str(exc)
    except SlackStartupError as exc:
        code, problem = (EXIT_CONFIG if exc.credentials else EXIT_UNAVAILABLE), str(exc)
    except OSError as exc:  # the port is taken or not ours to bind
        code, problem = EXIT_CONFIG, f"cannot listen on {host}:{port} ({exc.strerror or exc}); set PORT or --port"
    except Exception as exc:  # a bug: logged with its traceback, one line for the person at the terminal
        log.exception("pitcrew serve failed")
        code, problem = EXIT_UNAVAILABLE, f"pitcrew serve failed ({type(exc).__name__}); see the log for details"
    finally:
        signals.remove()
    log.info("pitcrew serve stopped", extra={"exit_code": code})
    return code, problem
