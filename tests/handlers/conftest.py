"""Fixtures of the handler tests: the pipeline with the fake OpenAI server as its LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app.settings import load_settings
from bot.llm import LLMGateway
from bot.pipeline import Pipeline
from knowledge.db import Database
from tests.support.fake_openai import FakeOpenAI
from tests.support.pipeline import LLM_ANSWER, answers_with, make_pipeline


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeOpenAI]:
    """The fake OpenAI server answering every written answer with `LLM_ANSWER`."""
    async with FakeOpenAI(responder=answers_with(LLM_ANSWER)) as server:
        yield server


@pytest.fixture
async def online(llm_server: FakeOpenAI, demo_db: Database) -> AsyncIterator[Pipeline]:
    """The pipeline with the fake OpenAI server as its LLM."""
    settings = load_settings(**llm_server.settings_overrides())
    llm = LLMGateway.from_settings(settings, demo_db)
    yield make_pipeline(settings, demo_db, llm)
    await llm.aclose()
