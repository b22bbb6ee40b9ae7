"""The operator's pages next to /healthz: GET /metrics (Prometheus) and GET /dashboard (DASHBOARD_TOKEN)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.observability.metrics import CONTENT_TYPE, Metrics
from bot.ops.daily import last_day
from bot.ops.dashboard import render_dashboard, token_matches

if TYPE_CHECKING:
    from bot.ops.alerts import AlertService
    from bot.ops.rollout import RolloutController
    from bot.settings import Settings

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
DASHBOARD_PATH = "/dashboard"
Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


def metrics_page(metrics: Metrics) -> Page:
    async def page(_request: web.Request) -> web.Response:
        # Off the event loop: probes may read the database (the inbox's depth).
        body = await asyncio.to_thread(metrics.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return page


def presented_token(request: web.Request) -> str | None:
    """`Authorization: Bearer TOKEN`, or `?token=TOKEN` (for a browser bookmark)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("token")


def dashboard_page(settings: Settings, *, rollout: RolloutController | None, alerts: AlertService | None,
                   quality: Callable[[int], float | None] | None = None) -> Page:
    assert settings.dashboard_token is not None
    expected = settings.dashboard_token.get_secret_value()

    async def page(request: web.Request) -> web.Response:
        if not token_matches(presented_token(request), expected):
            return web.Response(status=401, text="401: this page needs DASHBOARD_TOKEN\n",
                                headers={"WWW-Authenticate": 'Bearer realm="pitcrew dashboard"'})
        figures = await asyncio.to_thread(last_day, settings.log_dir, sla_ms=settings.sla_ms)
        score = None
        if quality is not None:
            score = await asyncio.to_thread(quality, settings.quality_alert_answers)
        html = render_dashboard(
            figures, rollout=rollout.state if rollout else None, agreement=rollout.agreement() if rollout else None,
            incidents=alerts.open_incidents() if alerts else [], quality=score)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    return page
