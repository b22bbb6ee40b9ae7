"""`pitcrew serve`'s operations stack in-process: the application (metrics, rollout), the alert service posting to
the fake Slack, and the HTTP service with /metrics and /dashboard, as bot.slack.runtime assembles them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from bot.app.application import Application
from bot.observability import configure_logging
from bot.ops.alerts import AlertService
from bot.pipeline import IncomingMessage, Reply
from bot.settings import Settings
from bot.slack.alert_poster import SlackAlertPoster
from bot.slack.app import build_app, build_inbox
from bot.slack.inflight import InflightTasks
from bot.slack.runtime import build_health_check, operator_pages, start_alerts
from bot.slack.server import SlackService
from tests.support.slack_stack import SIGNING_SECRET


@dataclass
class OpsStack:
    app: Application
    service: SlackService
    alerts: AlertService | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.service.pages_port}"

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.base_url + path, headers=headers) as response:
            return response.status, await response.text()

    async def ask(self, text: str, *, user: str = "U0ALICE", thread: str = "slack:C0SALES:1.0") -> Reply:
        return await self.app.pipeline.handle(IncomingMessage(text=text, thread_key=thread, user=user,
                                                              channel="C0SALES", new_thread=True))


@asynccontextmanager
async def ops_stack(settings: Settings) -> AsyncIterator[OpsStack]:
    """Everything `serve` runs but the Slack intake's events (tests call the pipeline, or post events)."""
    configure_logging(settings, stderr=False)
    async with Application.running(settings, background=True) as app:
        inflight = InflightTasks()
        inbox = build_inbox(settings, app.db)
        bolt = build_app(settings, app.pipeline, inbox, inflight=inflight)
        alerts = start_alerts(app, SlackAlertPoster(bolt.client))
        app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        service = SlackService(bolt, inflight, inbox=inbox, host="127.0.0.1", port=0, signing_secret=SIGNING_SECRET,
                               app_token=app_token,
                               health=build_health_check(app, inflight, inbox),
                               pages=operator_pages(app, inbox, alerts), pages_port=settings.metrics_port)
        await service.start()
        try:
            yield OpsStack(app, service, alerts)
        finally:
            if alerts is not None:
                await alerts.stop()
            await service.shutdown(grace_s=5)
            await inbox.close()
