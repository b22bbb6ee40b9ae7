"""Keeping a running server's names current: an import elsewhere bumps the knowledge revision, and the
watcher reloads the pipeline's names (accounts, contacts, products, plans, meeting kinds) when it sees
the revision change. Product answers need no reload: they come from snapshots read per request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline.pipeline import Pipeline
from knowledge.revision import read_revision

log = logging.getLogger(__name__)


class KnowledgeWatcher:
    """Checks the knowledge revision every `interval_s` (one indexed read) and reloads on a change."""

    def __init__(self, pipeline: Pipeline, interval_s: float) -> None:
        self._pipeline = pipeline
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="knowledge-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check(self) -> bool:
        """Reload if the knowledge base changed since the last look; True if it did."""
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
                 extra={"revision": self._pipeline.knowledge_revision, "reload_ms": reload_ms})
        return True

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
