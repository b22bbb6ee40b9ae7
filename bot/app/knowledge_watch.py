"""Keeping a running server's names current: an import elsewhere bumps the knowledge revision, and the
watcher reloads the pipeline's names (accounts, contacts, products, plans, meeting kinds) when it sees
the revision change. Product answers need no reload: they come from snapshots read per request.

On PostgreSQL the import's commit is announced (LISTEN/NOTIFY, knowledge.dialects.changes) and the
watcher reloads at once; the check every `interval_s` stays as the fallback, and is SQLite's only way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline.pipeline import Pipeline
from knowledge.dialects.changes import ChangeListener, listener_for
from knowledge.revision import read_revision

log = logging.getLogger(__name__)

Trigger = Literal["poll", "notify"]


class KnowledgeWatcher:
    """Reloads when the knowledge revision moved: when an import is announced, and by checking the revision
    every `interval_s` (one indexed read)."""

    def __init__(self, pipeline: Pipeline, interval_s: float, *, listen: bool = True) -> None:
        self._pipeline = pipeline
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._listener: ChangeListener | None = listener_for(pipeline.db, self._announced) if listen else None
        self._checking = asyncio.Lock()  # an announcement and the poll never reload twice for one import

    @property
    def listening(self) -> bool | None:
        """Whether announcements arrive now; None where there are none (SQLite)."""
        return self._listener.listening if self._listener is not None else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="knowledge-watch")
        if self._listener is not None:
            self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check(self, trigger: Trigger = "poll") -> bool:
        """Reload if the knowledge base changed since the last look; True if it did."""
        async with self._checking:
            revision = self._read()
            if revision is None or revision == self._pipeline.knowledge_revision:
                return False
            started = time.perf_counter()
            try:
                await self._pipeline.reload_knowledge()
            except SQLAlchemyError as exc:  # keep the names we have; the next check tries again
                log.warning("could not reload the knowledge base's names", extra={"error": type(exc).__name__})
                return False
            reload_ms = round((time.perf_counter() - started) * 1000.0, 1)
            log.info("reloaded the knowledge base's names after an import",
                     extra={"revision": self._pipeline.knowledge_revision, "reload_ms": reload_ms,
                            "trigger": trigger})
            return True

    async def _announced(self, revision: int | None) -> None:
        """An import was announced (None: the listener (re)connected and may have missed one)."""
        if revision is not None and revision <= self._pipeline.knowledge_revision:
            return  # this instance is there already (its own import, or the poll was first)
        await self.check("notify")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:  # the watch must outlive a bad reload; the next check tries again
                log.exception("knowledge reload failed")

    def _read(self) -> int | None:
        try:
            return read_revision(self._pipeline.db)
        except SQLAlchemyError as exc:
            log.warning("could not read the knowledge revision", extra={"error": type(exc).__name__})
            return None
