"""Fixtures every part of the suite shares: an isolated environment, settings and databases (empty, or a copy of
the demo knowledge base), the offline pipeline and the fake Slack and OpenAI servers. Fixtures used by one part
live in that folder's conftest.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.settings import Settings, load_settings
from bot.llm import LLMGateway
from bot.observability import reset_logging
from bot.pipeline import Pipeline
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.pipeline import NOW, build_demo_template, make_pipeline
from tests.support.postgres import PostgresDatabases, pg_test_url
from knowledge.demo import ensure_demo_data

def pytest_configure(config: pytest.Config) -> None:
    """The user cache (the checked patterns) of the whole session, and of every process it starts, is its own:
    a developer's ~/.cache/pitcrew is neither read nor written."""
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pitcrew-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.get("XDG_CACHE_HOME", ""), ignore_errors=True)
    if _postgres is not None:
        _postgres.close()


# The PostgreSQL pass (PG_TEST_URL set): every test that uses a database runs on a fresh PostgreSQL database;
# tests that use none ran in the SQLite pass already, and are left out.
_postgres: PostgresDatabases | None = PostgresDatabases(url) if (url := pg_test_url()) else None
_DATABASE_FIXTURES = frozenset({"settings", "database", "demo_db", "offline", "demo_template", "postgres_databases"})


def uses_database(item: pytest.Item) -> bool:
    """The test opens DATABASE_URL: through a fixture, or (marked `database`) through a command."""
    return bool(_DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))) or item.get_closest_marker("database") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _postgres is None:
        skip = pytest.mark.skip(reason="PostgreSQL only: set PG_TEST_URL (.ci/run does)")
        for item in items:
            if item.get_closest_marker("postgres_only"):
                item.add_marker(skip)
        return
    kept = [item for item in items if uses_database(item) and not item.get_closest_marker("sqlite_only")]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def _build_empty(url: str) -> None:
    Database(url).close()


def _build_demo(url: str) -> None:
    db = Database(url)
    ensure_demo_data(db, now=NOW)
    db.close()


# Variables a developer's shell may carry that must never leak into a test.
_ISOLATED_PREFIXES = (
    "SLACK_", "OPENAI_", "DATABASE_", "DB_", "LOG_", "CONTROL_PLANE_", "LLM_", "RESPONSE_CACHE_", "SNAPSHOT_", "KNOWLEDGE_", "INBOX_", "AIRTABLE_",
)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Run in a fresh directory with no credentials or pitcrew settings from the outside world, on a database of
    its own: a SQLite file that does not exist yet, or in the PostgreSQL pass a fresh PostgreSQL database (with the
    schema; with the demo knowledge base when the test asks for `demo_db`)."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in {"PORT", "SLA_MS", "STREAMING", "PG_TEST_URL"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    postgres_url = None
    if _postgres is not None and uses_database(request.node):
        wants_demo = "demo_db" in request.fixturenames
        template = _postgres.template("demo" if wants_demo else "empty", _build_demo if wants_demo else _build_empty)
        postgres_url = _postgres.create(template)
    monkeypatch.setenv("DATABASE_URL", postgres_url or f"sqlite:///{tmp_path / 'pitcrew.db'}")
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    yield tmp_path
    if postgres_url is not None:
        _postgres.drop(postgres_url)  # type: ignore[union-attr]
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


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo knowledge base loaded once per test session, as one SQLite file to copy."""
    return build_demo_template(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture
def demo_db(settings: Settings, demo_template: Path) -> Iterator[Database]:
    """A fresh copy of the demo knowledge base at DATABASE_URL (tests may write to it)."""
    if _postgres is not None:  # the test's PostgreSQL database is a clone of the demo already
        db = Database(settings.database_url)
        yield db
        db.close()
        return
    database = make_url(settings.database_url).database
    assert database, "the tests' DATABASE_URL is a file"
    shutil.copyfile(demo_template, database)
    db = Database(settings.database_url)
    yield db
    db.close()


@pytest.fixture
async def offline(settings: Settings, demo_db: Database) -> AsyncIterator[Pipeline]:
    """The pipeline with no LLM configured: deterministic answers."""
    llm = LLMGateway.from_settings(settings, demo_db)
    yield make_pipeline(settings, demo_db, llm)
    await llm.aclose()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1."""
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


@pytest.fixture
def postgres_databases() -> PostgresDatabases:
    """The PostgreSQL pass's databases, for tests that need more than their own (skipped without PG_TEST_URL)."""
    if _postgres is None:
        pytest.skip("PostgreSQL only: set PG_TEST_URL (.ci/run does)")
    return _postgres
