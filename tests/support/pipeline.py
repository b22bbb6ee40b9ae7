"""Helpers for the pipeline, handler and chat tests: the clock the demo is loaded at, building a pipeline,
asking it, a recording stream sink, fake-model responders and log helpers.

The fixtures built on them (`demo_template`, `demo_db`, `offline` in tests/conftest.py; `llm_server`,
`online` in tests/handlers/conftest.py) are found by pytest.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.llm import LLMGateway
from bot.pipeline import IncomingMessage, Pipeline, Reply
from bot.settings import Settings
from handlers.registry import Registry
from knowledge.db import Database
from knowledge.demo import ensure_demo_data
from tests.support.fake_openai import FakeOpenAI, Reply as FakeReply, intent_validation_reply

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


SPECULATIVE_TEXT = "SPECULATIVE product answer from the model."
VALIDATED_TEXT = "VALIDATED answer from the model."


def validating_as(validated_intent: str, *, validation_delay_s: float, answer_delay_s: float) -> Any:
    """A fake-model responder whose intent validation names `validated_intent`; a written answer for a
    product question says SPECULATIVE_TEXT, any other VALIDATED_TEXT (speculation tests)."""

    def respond(body: dict[str, Any]) -> FakeReply:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            verdict = json.loads(intent_validation_reply(body).content) | {"intent": validated_intent}
            return FakeReply(json.dumps(verdict), delay_s=validation_delay_s)
        system = message_text(body, "system").lower()
        text = SPECULATIVE_TEXT if "product" in system or "plan" in system else VALIDATED_TEXT
        return FakeReply(text, delay_s=answer_delay_s)

    return respond


def answer_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    """The requests the handlers made (intent validations left out)."""
    return [body for body in server.requests if (body.get("response_format") or {}).get("type") != "json_schema"]


def message_text(body: dict[str, Any], role: str) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"] if m["role"] == role)


def day_file_records(settings: Settings) -> list[dict[str, Any]]:
    path = settings.log_dir / f"slack-{dt.datetime.now(dt.UTC).date().isoformat()}.log"
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def build_demo_template(path: Path) -> Path:
    """The demo knowledge base loaded relative to NOW into one SQLite file at `path`, for tests to copy."""
    db = Database(f"sqlite:///{path}")
    ensure_demo_data(db, now=NOW)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    db.close()
    return path
