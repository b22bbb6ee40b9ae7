"""Serving the Bolt app: HTTP Events API (aiohttp, with /healthz) or Socket Mode, and an orderly shutdown."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bot.slack.app import attach_http_session
from bot.slack.capabilities import SLACK_CALL_ERRORS, slack_error
from bot.slack.inbox import EventInbox
from bot.slack.inflight import InflightTasks
from bot.slack.intake import EventIntake, SocketModeIntake
from bot.slack.request_guard import SIGNED_BODY, SlackRequestGuard

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

# (method, path, handler) of another endpoint the service's HTTP server answers.
Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
# (healthy, details) for GET /healthz; unhealthy answers 503.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
# More GET pages served next to /healthz (/metrics, /dashboard), by path.
Pages = Mapping[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]

# Slack errors that mean a credential is wrong, not that Slack is briefly unreachable.
_CREDENTIAL_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                                "not_allowed_token_type", "missing_scope"})


class SlackStartupError(Exception):
    """Slack refused the credentials or could not be reached at start; the message is one line for a person."""

    def __init__(self, message: str, *, credentials: bool) -> None:
        super().__init__(message)
        self.credentials = credentials  # True: a configuration problem (exit 2); False: Slack unreachable


class SlackService:
    """Takes Slack events over HTTP or Socket Mode; `shutdown` stops intake, then lets in-flight answers finish."""

    def __init__(self, app: AsyncApp, inflight: InflightTasks, *, inbox: EventInbox, signing_secret: str = "",
                 app_token: str | None = None, host: str = "0.0.0.0", port: int = 3000,
                 health: HealthCheck | None = None, routes: Sequence[Route] = (), pages: Pages | None = None,
                 pages_port: int | None = None) -> None:
        """`routes` are served next to /healthz in both modes (e.g. POST /airtable/webhook); `pages` on the port of
        /healthz too, or in Socket Mode with `pages_port` set (METRICS_PORT), on a small server of their own."""
        self.app = app
        self.inflight = inflight
        self.guard = SlackRequestGuard(signing_secret)
        self.inbox = inbox
        self.intake = EventIntake(app, inflight, inbox)
        self.mode: Literal["http", "socket"] = "socket" if app_token else "http"
        self._app_token = app_token
        self._host = host
        self._port = port
        self._health = health
        self._routes = tuple(routes)  # served next to /healthz in both modes (e.g. POST /airtable/webhook)
        self._pages = dict(pages or {})
        self._pages_port = pages_port if self.mode == "socket" else None
        self._pages_runner: web.AppRunner | None = None
        self.pages_port: int | None = None  # the bound port of the pages (that of /healthz unless separate)
        self._runner: web.AppRunner | None = None
        self._socket: SocketModeIntake | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port: int | None = None  # the bound port in HTTP mode (useful with port 0)

    async def start(self) -> None:
        """Check the credentials with Slack, then open the intake; raises SlackStartupError. `/healthz` is
        served on the HTTP port in both modes (a container's health check needs it in Socket Mode too)."""
        self._session = attach_http_session(self.app)
        await self._check_bot_token()
        if self.mode == "socket":
            assert self._app_token is not None
            self._socket = SocketModeIntake(self.intake, self._app_token)
            # Asked here rather than inside connect(), which retries a refused app token forever.
            self._socket.client.wss_uri = await self._socket_url()
            await self._socket.connect_async()
            log.info("pitcrew is connected to Slack (Socket Mode)")
            await self._listen(web.Application())
            log.info("pitcrew answers health checks", extra={"host": self._host, "port": self.port, "path": HEALTH_PATH})
            if self._pages and self._pages_port is not None:
                await self._listen_pages()
            self.inbox.start_sweeping(self.intake.redispatch)
            return
        # Not Bolt's own web_app: this one caps bodies and lets only what the guard signed reach Bolt.
        web_app = web.Application(
            client_max_size=self.guard.max_body_bytes + 1,  # aiohttp refuses a body of this size or more
            middlewares=[self.guard.middleware(EVENTS_PATH), self.intake.http_middleware(EVENTS_PATH)])
        web_app.router.add_post(EVENTS_PATH, self._dispatch_to_bolt)
        await self._listen(web_app)
        log.info("pitcrew is listening for Slack events",
                 extra={"host": self._host, "port": self.port, "path": EVENTS_PATH})
        # Events acknowledged by an instance that died before answering them are answered now.
        self.inbox.start_sweeping(self.intake.redispatch)

    async def _listen(self, web_app: web.Application) -> None:
        """Serve `web_app`, plus `/healthz` and the extra routes, on the configured host and port."""
        web_app.router.add_get(HEALTH_PATH, self._healthz)
        for method, path, handler in self._routes:
            web_app.router.add_route(method, path, handler)
        if self._pages_port is None:
            for path, page in self._pages.items():
                web_app.router.add_get(path, page)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0,
                                     logger=self.guard.server_log)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self._pages_port is None:
            self.pages_port = self.port

    async def _listen_pages(self) -> None:
        """The pages on METRICS_PORT (Socket Mode): nothing but them, no Slack endpoint."""
        web_app = web.Application()
        for path, page in self._pages.items():
            web_app.router.add_get(path, page)
        self._pages_runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0,
                                           logger=self.guard.server_log)
        await self._pages_runner.setup()
        await web.TCPSite(self._pages_runner, self._host, self._pages_port).start()
        self.pages_port = self._pages_runner.addresses[0][1]
        log.info("pitcrew serves its pages", extra={"host": self._host, "port": self.pages_port,
                                                   "paths": sorted(self._pages)})

    async def _check_bot_token(self) -> None:
        identity = await self._startup_call(
            self.app.client.auth_test(), "SLACK_BOT_TOKEN",
            "copy the Bot User OAuth Token again from the app's OAuth & Permissions page")
        log.info("Slack accepted the bot token",
                 extra={"team_id": identity.get("team_id"), "bot_user_id": identity.get("user_id")})

    async def _socket_url(self) -> str:
        response = await self._startup_call(
            self.app.client.apps_connections_open(app_token=self._app_token), "SLACK_APP_TOKEN",
            "it must be an app-level token with the connections:write scope, and Socket Mode must be on")
        return str(response["url"])

    async def _startup_call(self, call: Awaitable[Any], variable: str, advice: str) -> Any:
        """One Web API call made at start-up: Slack refusing `variable` or being out of reach is a
        SlackStartupError with a message for a person."""
        try:
            return await call
        except SlackApiError as exc:
            error = slack_error(exc)
            raise SlackStartupError(f"Slack refused {variable} ({error}); {advice}",
                                    credentials=error in _CREDENTIAL_ERRORS) from None
        except SLACK_CALL_ERRORS as exc:
            raise SlackStartupError(f"cannot reach the Slack API at {self.app.client.base_url} ({slack_error(exc)})",
                                    credentials=False) from None

    async def shutdown(self, grace_s: float) -> int:
        """Stop taking events, wait up to `grace_s` for answers in flight, then release the HTTP session.

        Returns how many answers were cancelled because the grace period ran out."""
        await self.stop_intake()
        await self.inbox.stop_sweeping()  # events left unanswered keep this instance's lease until it runs out
        cancelled = await self.inflight.drain(grace_s)
        await self.inbox.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
        log.info("Slack service stopped", extra={"cancelled_replies": cancelled})
        return cancelled

    async def stop_intake(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._pages_runner is not None:
            await self._pages_runner.cleanup()
            self._pages_runner = None
        if self._runner is not None:
            # Closes the listening socket and waits for requests being served (acks: milliseconds).
            await self._runner.cleanup()
            self._runner = None

    async def _dispatch_to_bolt(self, request: web.Request) -> web.Response:
        """A signed request that is not an event callback (URL verification, interactivity): Bolt answers it."""
        signed = request[SIGNED_BODY]
        bolt_request = AsyncBoltRequest(body=signed.text, query=request.query_string, headers=request.headers.copy())
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    async def _healthz(self, _request: web.Request) -> web.Response:
        if self._health is None:
            return web.json_response({"status": "ok"})
        try:
            healthy, details = await self._health()
        except Exception:
            log.exception("health check failed")
            healthy, details = False, {"error": "health check failed"}
        body = {"status": "ok" if healthy else "unhealthy", **details}
        return web.json_response(body, status=200 if healthy else 503, dumps=lambda data: json.dumps(data, default=str))
