"""Shared fixtures: every test gets its own working directory, database and log directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.observability import reset_logging
from bot.settings import Settings, load_settings
from knowledge.db import Database
from tests.fake_slack import FakeSlack

# Variables a developer's shell may carry that must never leak into a test.
_ISOLATED_PREFIXES = (
    "SLACK_", "OPENAI_", "DATABASE_", "LOG_", "CONTROL_PLANE_", "LLM_", "RESPONSE_CACHE_", "SNAPSHOT_", "KNOWLEDGE_", "INBOX_",
)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in a fresh directory with no credentials or pitcrew settings from the outside world."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in {"PORT", "SLA_MS", "STREAMING"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pitcrew.db'}")
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    yield tmp_path
    # Commands and pipelines configure logging for the process; the next test starts from a clean slate.
    reset_logging()


@pytest.fixture
def settings(isolated_environment: Path) -> Settings:
    return load_settings()


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """An empty database with the schema (no demo data)."""
    db = Database(settings.database_url)
    yield db
    db.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1."""
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()
