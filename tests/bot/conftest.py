"""Fixtures of the process-level tests (Slack transport, logging): the fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_slack import FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1."""
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()
