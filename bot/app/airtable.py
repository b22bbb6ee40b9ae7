"""Airtable for a running process: the client and mapping from the settings, and in `serve` the webhook endpoint
(`POST /airtable/webhook`) and the scheduled work (refreshing the webhook, the periodic full sync).

A notification is verified (HMAC with the stored MAC secret; 401 otherwise) and acknowledged at once; the
changes are then read from the stored cursor in a worker thread. Notifications that arrive during a run are
folded into one more run after it, so a burst of edits costs one or two reads, never a queue of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.settings import Settings
from knowledge.db import Database

if TYPE_CHECKING:
    from pyairtable import Api

    from knowledge.airtable.mapping import Mapping
    from knowledge.airtable.sync import SyncReport

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/airtable/webhook"
MAX_NOTIFICATION_BYTES = 16 * 1024  # Airtable's notifications are ~150 bytes
SYNC_JOB_ID = "airtable-sync"


class AirtableNotConfigured(Exception):
    """AIRTABLE_TOKEN or the mapping file is missing or wrong; one line for a person."""


@dataclass(frozen=True)
class AirtableConnection:
    api: Api
    mapping: Mapping


def airtable_from_settings(settings: Settings) -> AirtableConnection:
    """The API client and the mapping; raises AirtableNotConfigured naming what to set."""
    from knowledge.airtable.mapping import MappingError, load_mapping
    from knowledge.airtable.source import connect

    if settings.airtable_token is None:
        raise AirtableNotConfigured("AIRTABLE_TOKEN is not set; create a personal access token with the "
                                    "data.records:read, schema.bases:read and webhook:manage scopes "
                                    "(see docs/airtable.md)")
    try:
        mapping = load_mapping(settings.airtable_mapping)
    except MappingError as exc:
        raise AirtableNotConfigured(str(exc)) from None
    return AirtableConnection(connect(settings.airtable_token.get_secret_value(), settings.airtable_api_url), mapping)


Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class AirtableService:
    """`serve`'s side of the sync: the webhook endpoint and the scheduled runs."""

    def __init__(self, db: Database, connection: AirtableConnection) -> None:
        self.db = db
        self.api = connection.api
        self.mapping = connection.mapping
        self.last_report: SyncReport | None = None
        self.last_error: str | None = None
        self.runs = 0
        self._pending = False  # a notification arrived while a run was going
        self._running: asyncio.Task[None] | None = None
        self._turn = asyncio.Lock()  # the changes sync and the full sync never overlap in this process
        self.notified_at: float | None = None  # perf_counter of the last accepted notification (benchmarks)

    def routes(self) -> list[Route]:
        return [("POST", WEBHOOK_PATH, self.notification)]

    async def notification(self, request: web.Request) -> web.Response:
        """Verify, acknowledge, then catch up from the stored cursor in the background."""
        from knowledge.airtable.state import read_state
        from knowledge.airtable.webhooks import verify_notification

        if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
            return web.Response(status=413)
        body = await request.read()  # bounded by the server's client_max_size too
        if len(body) > MAX_NOTIFICATION_BYTES:
            return web.Response(status=413)
        state = await asyncio.to_thread(read_state, self.db, self.mapping.base)
        if not verify_notification(state, body, request.headers.get("X-Airtable-Content-MAC")):
            log.warning("refused an airtable notification: not signed by the stored webhook's secret",
                        extra={"remote": request.remote})
            return web.Response(status=401)
        self.notified_at = time.perf_counter()
        self.request_changes()
        return web.Response(status=200)

    def request_changes(self) -> None:
        """Start a changes sync now, or one more after the run in progress."""
        if self._running is not None and not self._running.done():
            self._pending = True
            return
        self._running = asyncio.create_task(self._changes_until_quiet(), name="airtable-changes")

    async def _changes_until_quiet(self) -> None:
        from knowledge.airtable.sync import sync_changes

        while True:
            self._pending = False
            await self._run("changes", functools.partial(sync_changes, self.db, self.api, self.mapping))
            if not self._pending:
                return

    async def scheduled(self) -> None:
        """The schedule's run: refresh the webhook if it expires soon, then a full sync (which finds nothing to do
        when the notifications kept up)."""
        from knowledge.airtable.sync import full_sync
        from knowledge.airtable.webhooks import refresh_webhook

        try:
            await asyncio.to_thread(refresh_webhook, self.db, self.api, self.mapping)
        except Exception:
            log.exception("airtable webhook refresh failed; the next scheduled run tries again")
        await self._run("full", functools.partial(full_sync, self.db, self.api, self.mapping))

    async def _run(self, kind: str, work: Callable[[], SyncReport]) -> None:
        async with self._turn:
            try:
                report = await asyncio.to_thread(work)
            except Exception as exc:  # rejected records, Airtable unreachable: stored in the state, tried again later
                self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("airtable %s sync failed", kind, extra={"error": self.last_error})
            else:
                self.last_report, self.last_error = report, None
            finally:
                self.runs += 1

    async def idle(self) -> None:
        """Wait for the run in progress (and those folded after it) to end."""
        while self._running is not None and not self._running.done():
            await asyncio.wait({self._running})

    async def stop(self) -> None:
        if self._running is not None and not self._running.done():
            self._running.cancel()  # the run's thread finishes or not; its transaction commits whole or not at all
            await asyncio.gather(self._running, return_exceptions=True)

    def state(self) -> dict[str, Any]:
        report = self.last_report
        return {"base": self.mapping.base, "runs": self.runs, "last_error": self.last_error,
                "last_sync": None if report is None else {"kind": report.kind, "changed": report.changed,
                                                          "cursor": report.cursor}}
