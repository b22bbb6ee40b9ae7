"""The Slack service of a real pitcrew stack (Bolt app, inbox, HTTP server) on 127.0.0.1, that tests post signed
events to, and the replies it left in the fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bot.settings import Settings
from bot.pipeline import IncomingMessage, Pipeline
from bot.slack.app import build_app, build_inbox
from bot.slack.inflight import InflightTasks
from bot.slack.server import Route, SlackService
from knowledge.db import Database
from tests.support.fake_slack import FakeSlack, SlackCall, interaction_form, signed_headers
from tests.support.slack_stack import SIGNING_SECRET

QUESTION = "how much is Orbit Pro per seat?"


@dataclass
class Stack:
    fake: FakeSlack
    service: SlackService
    settings: Settings
    db: Database
    pipeline: Pipeline
    http: aiohttp.ClientSession

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}/slack/events"

    async def post_event(self, body: dict | str, *, retry_num: int | None = None, secret: str = SIGNING_SECRET,
                         timestamp: int | None = None) -> int:
        raw = body if isinstance(body, str) else json.dumps(body)
        headers = signed_headers(raw, secret, timestamp=timestamp)
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with self.http.post(self.events_url, data=raw, headers=headers) as response:
            await response.read()
            return response.status

    async def post_interaction(self, payload: dict) -> tuple[int, float]:
        """POST an interactivity payload as Slack does (a signed form); the status and how long the answer took."""
        raw = interaction_form(payload)
        headers = {**signed_headers(raw, SIGNING_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        async with self.http.post(self.events_url, data=raw, headers=headers) as response:
            await response.read()
            return response.status, time.perf_counter() - started

    async def expected_answer(self, question: str) -> str:
        """What the pipeline answers `question` with outside Slack (a fresh thread, so no memory)."""
        reply = await self.pipeline.handle(IncomingMessage(text=question, thread_key=f"shell:{time.time_ns()}",
                                                           source="shell"))
        assert not reply.failed and reply.mrkdwn
        return reply.mrkdwn


async def start_stack(fake: FakeSlack, settings: Settings, db: Database, pipeline: Pipeline,
                      http: aiohttp.ClientSession, routes: Sequence[Route] = ()) -> Stack:
    inflight = InflightTasks()
    inbox = build_inbox(settings, db)
    app = build_app(settings, pipeline, inbox, inflight=inflight)
    service = SlackService(app, inflight, inbox=inbox, host="127.0.0.1", port=0, signing_secret=SIGNING_SECRET,
                           app_token=settings.slack_app_token.get_secret_value() if settings.slack_app_token else None,
                           routes=routes)
    await service.start()
    return Stack(fake, service, settings, db, pipeline, http)


def replies_in(fake: FakeSlack, thread_ts: str) -> list[SlackCall]:
    return [call for call in fake.replies() if call.body.get("thread_ts") == thread_ts]
