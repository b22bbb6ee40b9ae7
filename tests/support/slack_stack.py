"""The real pitcrew stack for Slack tests: the demo knowledge base, the LLM gateway and the pipeline."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.llm.gateway import LLMGateway
from bot.pipeline import Pipeline
from bot.settings import Settings
from knowledge.db import Database
from knowledge.demo.loader import ensure_demo_data

SIGNING_SECRET = "test-signing-secret-5e1f0a"

_demo_template: Path | None = None


def demo_database(path: Path) -> None:
    """A copy of the demo knowledge base at `path` (built once per test session, then copied: much faster)."""
    global _demo_template
    if _demo_template is None or not _demo_template.exists():
        template = Path(__import__("tempfile").mkdtemp(prefix="pitcrew-demo-")) / "demo.db"
        db = Database(f"sqlite:///{template}")
        ensure_demo_data(db)
        with db.engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        _demo_template = template
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_demo_template, path)


@asynccontextmanager
async def open_pipeline(settings: Settings) -> AsyncIterator[tuple[Database, Pipeline]]:
    """The database (demo data), gateway and pipeline `pitcrew serve` would build from `settings`."""
    db_path = Path(settings.database_url.removeprefix("sqlite:///"))
    if not db_path.exists():
        demo_database(db_path)
    db = Database(settings.database_url)
    llm = LLMGateway.from_settings(settings, db)
    try:
        yield db, Pipeline.from_settings(settings, db, llm)
    finally:
        await llm.aclose()
        db.close()
