"""Fixtures for the pipeline, handler and chat tests: the demo knowledge base, pipelines with and
without an LLM (the fake OpenAI server on loopback), a recording stream sink and log helpers.

Import the fixtures into a test module: `from tests.pipeline_support import demo_db, demo_template, offline  # noqa: F401`
(a fixture's own fixtures must be imported too).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.llm import LLMGateway
from bot.observability import configure_logging, reset_logging
from bot.pipeline import IncomingMessage, Pipeline, Reply
from bot.settings import Settings, load_settings
from handlers.registry import Registry
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from tests.fake_openai import FakeOpenAI, intent_validation_reply
from tests.fake_openai import Reply as FakeReply

# The demo is loaded relative to NOW and the pipeline's clock is NOW: "yesterday" is always the same day.
NOW = datetime(2026, 3, 12, 15, 30)  # a Thursday afternoon, naive UTC
LLM_ANSWER = "**From the model:** the answer, with a [link](https://example.com/x)."


def make_pipeline(settings: Settings, db: Database, llm: LLMGateway | None, registry: Registry | None = None) -> Pipeline:
    pipeline = Pipeline.from_settings(settings, db, llm, registry=registry)
    pipeline.clock = lambda: NOW
    return pipeline


async def ask(pipeline: Pipeline, text: str, thread: str = "shell:test", sink: Any = None) -> Reply:
    return await pipeline.handle(IncomingMessage(text=text, thread_key=thread, source="shell", user="tester"), sink)


class RecordingSink:
    """A StreamSink that keeps what was streamed to it."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    async def append(self, text: str) -> None:
        self.chunks.append(text)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def answers_with(text: str) -> Any:
    """A fake-model responder: intent validations answered sensibly, every written answer with `text`."""

    def responder(body: dict[str, Any]) -> FakeReply:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return intent_validation_reply(body)
        return FakeReply(text)

    return responder


def answer_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    """The requests the handlers made (intent validations left out)."""
    return [body for body in server.requests if (body.get("response_format") or {}).get("type") != "json_schema"]


def message_text(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"] if m["role"] == role)


def day_file_records(settings: Settings) -> list[dict[str, Any]]:
    path = settings.log_dir / f"slack-{dt.datetime.now(dt.UTC).date().isoformat()}.log"
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def logging_to_files(settings: Settings) -> Iterator[Settings]:
    configure_logging(settings, stderr=False)
    yield settings
    reset_logging()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo knowledge base loaded once per test session, as one SQLite file to copy."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = Database(f"sqlite:///{path}")
    ensure_demo_data(db, now=NOW)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    db.close()
    return path


@pytest.fixture
def demo_db(settings: Settings, demo_template: Path) -> Iterator[Database]:
    """A fresh copy of the demo knowledge base at DATABASE_URL (tests may write to it)."""
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
async def llm_server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(responder=answers_with(LLM_ANSWER)) as server:
        yield server


@pytest.fixture
async def online(llm_server: FakeOpenAI, demo_db: Database) -> AsyncIterator[Pipeline]:
    """The pipeline with the fake OpenAI server as its LLM."""
    settings = load_settings(**llm_server.settings_overrides())
    llm = LLMGateway.from_settings(settings, demo_db)
    yield make_pipeline(settings, demo_db, llm)
    await llm.aclose()
